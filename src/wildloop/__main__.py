"""Allow ``python -m wildloop`` (used by tests and subprocess workers)."""

from wildloop.cli.app import main

main()
