"""``h5model infer``: draft a layout (namespace, types, ``layout.yaml``) from one file.

Reads the file's object graph only (``hdf5``), never the session: the draft is a
starting point a person edits, and ``validate --layout`` on the file it came from is
clean. See ``inference.draft`` for how objects become types.
"""

from h5model.inference.draft import Draft, infer

__all__ = ["Draft", "infer"]
