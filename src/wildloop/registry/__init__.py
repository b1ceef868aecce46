"""Model registry: content-addressed artifacts, immutable versions, movable aliases."""
