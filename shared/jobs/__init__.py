"""Deferred work on the job engine (PgQueuer, on the database we already have).

- schema.py: the engine's tables (migration 0015 installs them);
- kinds.py: what a task kind is; registry.py: the kinds there are (one line each);
- defer.py: how the rest of videolib asks for work (`defer_thumbnails`, ...);
- thumbnail_jobs.py, fingerprint_jobs.py: the media jobs and their backfills;
- integrity_jobs.py: the integrity cycle's planner and the verification of one range;
- worker.py: `videolib worker`'s loop;
- path_map.py: where a stored path is on the worker's host (pure).

Nothing here is imported by shared/config.py except path_map, which imports nothing.
"""
