"""The ``File`` handle (open, root, get, models, graph, close), the HDF5 handle and lazy
array source behind it, and the reader that builds its models."""
