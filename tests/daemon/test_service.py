"""The real pipeline in-process: real inotify, real PostgreSQL, real generated videos."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import (
    eventually,
    fast,
    listed,
    row,
    rows,
    running_service,
    settled,
    sha256,
)
from tests.media import make_truncated_mp4, make_video
from videolib.daemon.events import Kind
from videolib.shared.config import Config


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Videos made outside the library, to be copied in."""
    folder = tmp_path / "source"
    folder.mkdir()
    return folder


def moved_events(inbox_name: str, library_name: str) -> list[tuple[Kind, str]]:
    """The events of an inbox file moved to videos/: its new name appears, the old goes."""
    return [(Kind.CREATED, f"videos/{library_name}"), (Kind.DELETED, f"inbox/{inbox_name}")]


def video(source: Path, name: str, seconds: float = 1.0, **options: object) -> Path:
    return make_video(source / name, seconds=seconds, **options)  # type: ignore[arg-type]


async def test_a_drop_is_listed_with_its_hash(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    original = video(source, "drop.mp4")
    async with running_service(fast(config), database_url):
        shutil.copyfile(original, library_root / "videos" / "drop.mp4")

        async def listed() -> bool:
            found = await row(engine, "videos/drop.mp4")
            return found is not None and found.file_hash == sha256(original)

        await eventually(listed, 30, "the drop to be listed")
        found = await row(engine, "videos/drop.mp4")
        assert found is not None and found.is_valid and found.width == 320


async def test_a_slow_chunked_copy_is_never_seen_partially(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    original = video(source, "slow.mp4", seconds=3, noise=True)
    data = original.read_bytes()
    target = library_root / "videos" / "slow.mp4"
    seen: list[tuple[int | None, str | None]] = []
    async with running_service(fast(config), database_url):
        with target.open("wb") as out:
            chunk = len(data) // 6 + 1
            for start in range(0, len(data), chunk):
                out.write(data[start : start + chunk])
                out.flush()
                # Pauses longer than the settle time, with the file held open.
                for _ in range(5):
                    await asyncio.sleep(0.1)
                    seen += [(v.file_size, v.file_hash) for v in await rows(engine)]

        async def recorded() -> bool:
            found = await row(engine, "videos/slow.mp4")
            return found is not None and found.file_hash is not None

        await eventually(recorded, 30, "the finished copy")
        seen += [(v.file_size, v.file_hash) for v in await rows(engine)]
    assert set(seen) == {(len(data), sha256(original))}


async def test_a_rename_keeps_the_id_without_a_re_probe(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    shutil.copyfile(video(source, "a.mp4"), library_root / "videos" / "a.mp4")
    (library_root / "studios" / "s1").mkdir()
    async with running_service(fast(config), database_url):
        before = await row(engine, "videos/a.mp4")
        assert before is not None and before.last_validated is not None
        os.rename(library_root / "videos" / "a.mp4", library_root / "studios" / "s1" / "b.mp4")
        after = await listed(engine, "studios/s1/b.mp4")
        assert after.id == before.id and after.directory_type == "studios"
        assert after.filename == "b.mp4" and after.last_validated == before.last_validated
        assert len(await rows(engine)) == 1


async def test_a_rename_into_a_brand_new_folder_keeps_the_id(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    # mkdir then rename at once: the folder's watch may not be in place yet, so the move
    # comes as a delete and a create; the record is still kept, recognised by content.
    shutil.copyfile(video(source, "a.mp4"), library_root / "videos" / "a.mp4")
    async with running_service(fast(config), database_url) as service:
        before = await row(engine, "videos/a.mp4")
        assert before is not None
        (library_root / "studios" / "new").mkdir()
        os.rename(library_root / "videos" / "a.mp4", library_root / "studios" / "new" / "b.mp4")
        after = await listed(engine, "studios/new/b.mp4")
        assert after.id == before.id and after.is_valid

        async def old_path_event() -> bool:  # a paired move, or the delete, ~0.5 s late
            return any(service.has_received(k, "videos/a.mp4") for k in (Kind.MOVED, Kind.DELETED))

        await eventually(old_path_event, 30, "the event of the old path")
        await settled(service)  # carried out: it must not have marked the record missing
        final = await rows(engine)
        assert [(v.path, v.is_valid) for v in final] == [("studios/new/b.mp4", True)]


async def test_a_folder_rename_moves_every_record(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    folder = library_root / "videos" / "trip"
    (folder / "day1").mkdir(parents=True)
    for name in ("day1/a.mp4", "b.mp4"):
        shutil.copyfile(video(source, name.replace("/", "-")), folder / name)
    async with running_service(fast(config), database_url):
        before = {v.path: v.id for v in await rows(engine)}
        assert set(before) == {"videos/trip/day1/a.mp4", "videos/trip/b.mp4"}
        os.rename(folder, library_root / "videos" / "holiday")

        async def moved() -> dict[str, object]:
            now: dict[str, object] = {v.path: v.id for v in await rows(engine)}
            return now if set(now) == {"videos/holiday/day1/a.mp4", "videos/holiday/b.mp4"} else {}

        after = await eventually(moved, 30, "the folder move")
        assert after["videos/holiday/day1/a.mp4"] == before["videos/trip/day1/a.mp4"]
        assert after["videos/holiday/b.mp4"] == before["videos/trip/b.mp4"]


async def test_delete_marks_missing_and_putting_it_back_revives(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    original = video(source, "d.mp4")
    target = library_root / "videos" / "d.mp4"
    shutil.copyfile(original, target)
    async with running_service(fast(config), database_url):
        before = await row(engine, "videos/d.mp4")
        assert before is not None and before.is_valid
        target.unlink()

        async def missing() -> bool:
            found = await row(engine, "videos/d.mp4")
            return found is not None and found.invalid_reason == "missing"

        await eventually(missing, 30, "the record to be marked missing")
        shutil.copyfile(original, target)

        async def revived() -> bool:
            found = await row(engine, "videos/d.mp4")
            return found is not None and found.is_valid

        await eventually(revived, 30, "the record to be valid again")
        after = await row(engine, "videos/d.mp4")
        assert after is not None and after.id == before.id


async def test_a_partial_download_is_ingested_at_its_rename(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    async with running_service(fast(config), database_url) as service:
        partial = library_root / "videos" / "dl.mp4.part"
        shutil.copyfile(video(source, "dl.mp4"), partial)
        # The copy's last event came and all it caused is done: nothing was recorded.
        await settled(service, (Kind.CLOSED, "videos/dl.mp4.part"))
        assert await rows(engine) == []
        os.rename(partial, library_root / "videos" / "dl.mp4")
        await listed(engine, "videos/dl.mp4")


async def test_inbox_moves_with_a_numbered_name_on_collision(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    shutil.copyfile(video(source, "clip.mp4", seconds=1), library_root / "videos" / "clip.mp4")
    dropped = video(source, "inbox-clip.mp4", seconds=2)
    async with running_service(fast(config), database_url) as service:
        shutil.copyfile(dropped, library_root / "inbox" / "clip.mp4")
        moved = await listed(engine, "videos/clip (1).mp4")
        assert moved.original_filename == "clip.mp4" and moved.standardized_at is not None
        assert moved.file_hash == sha256(dropped) and moved.directory_type == "videos"
        assert not (library_root / "inbox" / "clip.mp4").exists()
        assert sha256(library_root / "videos" / "clip.mp4") != sha256(dropped)
        # The move's own events (the new name appearing, the inbox name going) have been
        # handled, and added no record.
        await settled(service, *moved_events("clip.mp4", "clip (1).mp4"))
        assert sorted(v.path for v in await rows(engine)) == [
            "videos/clip (1).mp4",
            "videos/clip.mp4",
        ]


async def test_inbox_rule_sends_short_clips_to_gifs(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    async with running_service(fast(config, inbox_gif_max_seconds=15), database_url):
        shutil.copyfile(video(source, "short.mp4", seconds=2), library_root / "inbox" / "short.mp4")
        found = await listed(engine, "gifs/short.mp4")
        assert found.directory_type == "gifs"


async def test_a_corrupt_drop_stays_in_the_inbox_recorded_corrupt(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    async with running_service(fast(config), database_url):
        make_truncated_mp4(source / "bad.mp4")
        shutil.copyfile(source / "bad.mp4", library_root / "inbox" / "bad.mp4")

        async def corrupt() -> bool:
            found = await row(engine, "inbox/bad.mp4")
            return found is not None and found.invalid_reason == "corrupt"

        await eventually(corrupt, 30, "the corrupt record")
        assert (library_root / "inbox" / "bad.mp4").exists()


async def test_two_daemons_on_one_library_make_no_duplicates(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    originals = [video(source, f"{i}.mp4", seconds=0.5) for i in range(12)]
    cfg = fast(config)
    async with running_service(cfg, database_url) as one, running_service(cfg, database_url) as two:
        dropped = []
        for index, original in enumerate(originals):
            folder = "inbox" if index % 3 == 0 else "videos"
            shutil.copyfile(original, library_root / folder / original.name)
            if folder == "inbox":
                dropped.append(original.name)

        async def all_in() -> bool:
            found = await rows(engine)
            return len(found) >= 12 and all(v.file_hash for v in found)

        await eventually(all_in, 60, "all drops recorded")
        # Both daemons saw every inbox move and are done with what it caused.
        moves = [event for name in dropped for event in moved_events(name, name)]
        for service in (one, two):
            await settled(service, *moves)
        found = await rows(engine)
        # One leads and records; the other stands by (issue 13 §4).
        assert sorted(s.leadership.role.value for s in (one, two)) == ["leader", "standby"]
    assert len(found) == 12 and len({v.path for v in found}) == 12
    assert all(v.is_valid for v in found)
    on_disk = sorted(p.name for p in (library_root / "videos").iterdir())
    assert on_disk == sorted(o.name for o in originals)
