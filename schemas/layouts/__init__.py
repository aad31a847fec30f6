"""Layouts shipped with h5model: one folder per layout (``layout.yaml`` and its spec)."""
