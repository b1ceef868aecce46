"""People who use wildloop: accounts with roles, password checks and API tokens."""
