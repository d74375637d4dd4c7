"""videolib.daemon: watches the library and ingests what lands in it."""
