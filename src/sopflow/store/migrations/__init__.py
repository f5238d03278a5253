"""Alembic migrations of the app database, run automatically when it is opened."""
