"""The ``File`` handle: specs, graph and models of one open file, and its save."""
