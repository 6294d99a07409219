"""Alembic migrations of the Sistem 48 schema."""
