"""Everything that talks to HDF5 itself: opening, the one-pass scan into a graph,
attributes, and the native fast paths (``_native/``)."""
