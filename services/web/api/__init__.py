"""The editor API under /api/v1."""
