"""Test helpers: settings, servers, processes and waiting with a deadline."""
