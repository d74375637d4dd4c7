"""videolib.shared: what the daemon, the API and the CLI have in common."""
