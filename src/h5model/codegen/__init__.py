"""Specs -> LinkML export and pydantic model source; checked identifiers; the model cache."""
