"""Writing models back: the change log and its tracker, checks, applying changes, table
rows, recreated datasets, one journaled save, whole new files, and the writer."""
