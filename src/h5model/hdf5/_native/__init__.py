"""Fast paths through the HDF5 C library that h5py already loaded (optional, with fallbacks):
``locate`` finds it, ``library`` binds it and picks the path (``H5MODEL_NATIVE``),
``read_attrs`` and ``_fastattrs.c`` read attributes, ``copy_attrs`` copies them."""
