"""Integrity checks: re-hash recorded files within a budget and flag silent changes.

budget.py and verdict.py are pure (the decisions, tested with tables); check.py reads a
file (the I/O). The daemon's loop that walks the library is daemon/integrity.py.
"""
