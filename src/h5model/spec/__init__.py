"""The specification language: read, normalise and resolve namespaces (embedded or on disk)."""
