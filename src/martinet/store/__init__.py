"""Persistence: schema, migrations and the repositories. The only package that speaks SQL.

May import `domain`, `batching`, `clock` and `metrics`; never `services`, the engine or a door. The choice
between SQLite and PostgreSQL is made in `database.py` alone.
"""
