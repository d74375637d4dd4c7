"""The names of task kinds and queues (the engine's entrypoints): what defer and workers share."""

MAKE_THUMBNAIL = "make_thumbnail"
BACKFILL_THUMBNAILS = "backfill_thumbnails"

#: Media work on files (needs the library mounted) apart from the small periodic sweeps,
#: so `videolib worker --queue thumbnails` on a NAS host takes no maintenance.
THUMBNAILS_QUEUE = "thumbnails"
MAINTENANCE_QUEUE = "maintenance"
