"""``python -m fti``: the same as the ``fti`` command."""

from fti.cli import main

raise SystemExit(main())
