"""videolib.api: the admin HTTP API."""
