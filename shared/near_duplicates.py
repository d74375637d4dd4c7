"""PLACEHOLDER until h12-near's module lands (issue 12 §3): the hook's signature, no body.

The fingerprint job (shared/fingerprints.py) calls `refresh_near_duplicates` after saving a
video's fingerprint, so that the near-duplicate groups stay current. h12-near owns the real
one; the lead keeps theirs.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine


async def refresh_near_duplicates(engine: AsyncEngine, video_id: uuid.UUID) -> None:
    """Bring the near-duplicate groups that `video_id` touches up to date (no-op here)."""
