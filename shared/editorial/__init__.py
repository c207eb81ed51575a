"""Editorial operations shared by the API, the CLI and the review worker's timers."""
