"""Bytes on disk, shared by readers and writers: the clone or copy a save edits and moves
into place, the undo journal of a save in place, and the locks that keep a reader out of
a half-written file."""
