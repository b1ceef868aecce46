"""The web edge: JSON API under /api/v1 and server-rendered review pages over the services."""
