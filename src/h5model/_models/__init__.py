"""Models generated on demand are imported under this package."""
