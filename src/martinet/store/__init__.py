"""Persistence: schema, migrations and the repositories. The only package that speaks SQL."""
