"""The pure domain: plain Python and pydantic, no database, broker or HTTP."""
