"""The ``h5model`` command line."""
