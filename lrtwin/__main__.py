"""``python -m lrtwin``: the same as the ``lrtwin`` command."""

from lrtwin.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
