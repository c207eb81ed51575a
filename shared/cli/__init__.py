"""The `crossfeed` command. It starts the services by name and calls shared handlers; it holds
no logic of its own and is the only code that knows every service (by module name)."""
