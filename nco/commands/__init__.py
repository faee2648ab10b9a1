"""Sub-commands of the ``nco`` console script (see :mod:`nco.cli`)."""
