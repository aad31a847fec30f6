"""Writing models back: change log, checks, applying edits, the writer, journal and locks."""
