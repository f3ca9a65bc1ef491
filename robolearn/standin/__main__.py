"""``python -m robolearn.standin --host 127.0.0.1 --port 0``; see ``--help``."""

from ._cli import main

raise SystemExit(main())
