"""What a shipped layout's system does beyond typing one file: an axopy task's trials and
arrays together, an offspect cache's traces under one running index and merging caches,
stytra's metadata document in and out. Each module reads through ``h5model.open`` with
its layout, so values, checks and edits are those of any other typed file."""
