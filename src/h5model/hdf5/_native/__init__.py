"""Fast paths through the HDF5 C library that h5py already loaded (optional, with fallbacks)."""
