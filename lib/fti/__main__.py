"""``python -m fti``: the same as the ``fti`` command."""

from fti.run.cli import main

raise SystemExit(main())
