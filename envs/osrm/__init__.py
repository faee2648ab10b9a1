"""A self-contained OSRM pipeline: fetch the tools, build a routing graph from an OSM extract, serve it on
loopback, query it, and sample strongly connected road-point pools from it (see :mod:`envs.osrm.pool`)."""

from envs.osrm.binaries import OSRMTools, OSRMUnavailable, find_tools
from envs.osrm.build import OSRMBuildError, OSRMDataset, build_dataset
from envs.osrm.client import OSRMClient, OSRMError
from envs.osrm.pool import NoRoadsError, RoadPool, sample_pool
from envs.osrm.server import LocalServer, serve

__all__ = [
    "LocalServer",
    "NoRoadsError",
    "OSRMBuildError",
    "OSRMClient",
    "OSRMDataset",
    "OSRMError",
    "OSRMTools",
    "OSRMUnavailable",
    "RoadPool",
    "build_dataset",
    "find_tools",
    "sample_pool",
    "serve",
]
