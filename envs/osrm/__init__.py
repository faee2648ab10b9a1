"""A self-contained OSRM pipeline, one job per module: ``binaries`` (fetch the tools), ``build`` (OSM extract ->
MLD graph), ``server`` (osrm-routed on loopback), ``client`` (/nearest, /table), ``sampling`` (road nodes, dense
windows, seeds), ``pool`` (strongly connected point pools), ``pipeline`` (all of it -> saved pools).

Nothing is imported here, so that ``envs.cities`` (loaded for every training batch source) stays light."""
