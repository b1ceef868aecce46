"""Persistence: SQLAlchemy tables, sessions, Alembic migrations. Dialect differences live here."""
