"""The inbox's move journal in `inbox_moves` (real PostgreSQL): entries come back oldest
first, and recording a move removes its entry in the same transaction, or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import rows
from videolib.shared.db.records import ExaminedFile
from videolib.shared.db.repository import InboxMove, InboxMoveRepository, VideoRepository


def move(number: int) -> InboxMove:
    return InboxMove(f"{number:032x}", f"inbox/{number}.mp4", "videos", f"{number}.mp4", 10, "ab")


def moved_file(directory_type: str = "videos") -> ExaminedFile:
    return ExaminedFile(
        "videos/1.mp4",
        "1.mp4",
        directory_type,
        10,
        1,
        "ab",
        None,
        original_filename="1.mp4",
        standardized=True,
    )


async def test_entries_come_back_oldest_first_until_removed(engine: AsyncEngine) -> None:
    journal = InboxMoveRepository(engine)
    for number in (3, 1, 2):  # ids out of order: the order is the journaling one
        await journal.add(move(number))
    assert await journal.all() == [move(3), move(1), move(2)]
    assert await journal.holds(move(1).id)
    await journal.remove(move(1).id)
    assert not await journal.holds(move(1).id)
    assert await journal.all() == [move(3), move(2)]


async def test_recording_the_move_removes_its_entry_in_the_same_transaction(
    engine: AsyncEngine,
) -> None:
    journal, videos = InboxMoveRepository(engine), VideoRepository(engine)
    await journal.add(move(1))
    await journal.add(move(2))
    await videos.record_standardized("inbox/1.mp4", moved_file(), move_id=move(1).id)
    assert await journal.all() == [move(2)]  # only the recorded move's entry went
    (record,) = await rows(engine)
    assert (record.path, record.original_filename) == ("videos/1.mp4", "1.mp4")
    assert record.standardized_at is not None


async def test_a_record_that_fails_keeps_the_entry(engine: AsyncEngine) -> None:
    """The record is refused (a type the schema does not know): the entry stays for
    recovery, so the move is neither recorded nor forgotten."""
    journal, videos = InboxMoveRepository(engine), VideoRepository(engine)
    await journal.add(move(1))
    with pytest.raises(IntegrityError, match="directory_type"):
        await videos.record_standardized("inbox/1.mp4", moved_file("nowhere"), move_id=move(1).id)
    assert await journal.all() == [move(1)]
    assert await rows(engine) == []
