"""Integrity checks: re-hash recorded files within a budget and flag silent changes.

budget.py, verdict.py and chunks.py are pure (the decisions, tested with tables); check.py
reads a file (the I/O), pacing.py spaces a process's reads. The jobs that walk the library,
shared by every worker, are shared/jobs/integrity_jobs.py.
"""
