"""``python -m kerasdigits``: the same as the ``kerasdigits`` command."""

from kerasdigits.cli import main

raise SystemExit(main())
