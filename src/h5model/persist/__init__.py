"""Writing models back: the change log and its tracker, checks, applying changes, table
rows, recreated datasets, one save (by replace or journal), whole new files, and the writer."""
