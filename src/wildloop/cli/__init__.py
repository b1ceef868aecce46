"""The `wildloop` command line: thin commands over the same services as the web app."""
