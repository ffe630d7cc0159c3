"""Persistence: SQLAlchemy models, small repository functions, migrations, Redis helpers."""
