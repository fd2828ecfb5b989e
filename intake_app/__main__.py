"""``python -m intake_app`` behaves like the ``intake-app`` command."""

from intake_app.cli import main

raise SystemExit(main())
