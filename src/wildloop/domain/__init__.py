"""Plain types and rules of wildloop: no I/O, no framework imports (import-linter enforces it)."""
