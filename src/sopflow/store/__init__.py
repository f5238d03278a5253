"""The app database: SQLAlchemy 2 models and Alembic migrations (SQLite by default, PostgreSQL supported)."""
