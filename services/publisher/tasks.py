"""The publisher's Celery tasks (none yet: see the package docstring)."""
