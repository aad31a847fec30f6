"""``python -m h5model``: the command line."""

from h5model.cli.app import main

raise SystemExit(main())
