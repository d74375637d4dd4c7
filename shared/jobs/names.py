"""The names of task kinds and queues (the engine's entrypoints): what defer and workers share."""

MAKE_THUMBNAIL = "make_thumbnail"
BACKFILL_THUMBNAILS = "backfill_thumbnails"
MAKE_FINGERPRINT = "make_fingerprint"
BACKFILL_FINGERPRINTS = "backfill_fingerprints"
VALIDATE_CHUNK, THUMBNAIL_CHUNK = "validate_chunk", "thumbnail_chunk"  # batch_jobs.py
PLAN_INTEGRITY, VERIFY_INTEGRITY_CHUNK = "plan_integrity", "verify_integrity_chunk"
PURGE_TRASH = "purge_trash"
RECONCILE_LIBRARY = "reconcile_library"
RUN_SCAN = "run_scan"

#: Media work on files (needs the library mounted) apart from the small periodic sweeps,
#: so `videolib worker --queue thumbnails` on a NAS host takes no maintenance. Fingerprints
#: (minutes of decoding per video) have their own, so that they never hold thumbnails back.
THUMBNAILS_QUEUE = "thumbnails"
FINGERPRINTS_QUEUE = "fingerprints"
MAINTENANCE_QUEUE = "maintenance"
VALIDATE_QUEUE = "validate"  # re-probes of validate --all and bulk validate (batch_jobs.py)
INTEGRITY_QUEUE = "integrity"  # re-hashes: hours of paced reads (shared/jobs/integrity_jobs.py)
#: API scans (`async: true`): every API process works it by default (api.run_scans).
SCANS_QUEUE = "scans"
