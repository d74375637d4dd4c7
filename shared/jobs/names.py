"""The names of task kinds and queues (the engine's entrypoints): what defer and workers share."""

MAKE_THUMBNAIL = "make_thumbnail"
BACKFILL_THUMBNAILS = "backfill_thumbnails"
MAKE_FINGERPRINT = "make_fingerprint"
BACKFILL_FINGERPRINTS = "backfill_fingerprints"
RUN_SCAN = "run_scan"

#: Media work on files (needs the library mounted) apart from the small periodic sweeps,
#: so `videolib worker --queue thumbnails` on a NAS host takes no maintenance. Fingerprints
#: (minutes of decoding per video) have their own, so that they never hold thumbnails back.
THUMBNAILS_QUEUE = "thumbnails"
FINGERPRINTS_QUEUE = "fingerprints"
MAINTENANCE_QUEUE = "maintenance"
#: API scans (`async: true`): every API process works it by default (api.run_scans).
SCANS_QUEUE = "scans"
