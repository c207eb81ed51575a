"""Admin operations shared by the CLI and the API: sources, users, partners.

Input is validated by the pydantic models here, whichever door it came through; failures are
`shared.errors` exceptions that each door shows its own way.
"""
