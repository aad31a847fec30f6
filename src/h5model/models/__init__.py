"""The base classes of every generated model: nodes, lazy arrays, table behaviour, checks."""
