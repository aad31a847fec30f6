"""Committed generated models (see index.json)."""
