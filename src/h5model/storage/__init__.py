"""Bytes on disk, shared by readers and writers: the undo journal of a save and the
locks that keep a reader out of a half-written file."""
