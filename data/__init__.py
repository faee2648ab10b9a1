"""nco's shipped data as an installable package (``nco_data``): found through ``nco_core.paths.shipped_data``."""
