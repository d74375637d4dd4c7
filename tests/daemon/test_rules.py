"""Pure rules and small adapters: inbox target and names, placing files, backoff, sd_notify."""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import socket
from pathlib import Path

import pytest

from videolib.daemon import moving
from videolib.daemon.health import backoff_delays
from videolib.daemon.inbox import inbox_target
from videolib.daemon.moving import (
    Adopt,
    Content,
    Finish,
    Forget,
    RollBack,
    Source,
    Temporary,
    candidate_names,
    decide_recovery,
    is_stale_orphan,
    move_retry_delay,
    place,
    variant_number,
)
from videolib.shared.config import DaemonConfig
from videolib.shared.media.probe import Metadata
from videolib.shared.systemd import Notifier


def clip(seconds: int | None) -> Metadata:
    return Metadata(seconds, 320, 240, "landscape", "240p", False, "h264", "mp4")


@pytest.mark.parametrize(
    ("metadata", "config", "target"),
    [
        (clip(5), DaemonConfig(), "videos"),
        (clip(5), DaemonConfig(inbox_gif_max_seconds=15), "gifs"),
        (clip(15), DaemonConfig(inbox_gif_max_seconds=15), "videos"),
        (clip(None), DaemonConfig(inbox_gif_max_seconds=15), "videos"),
        (None, DaemonConfig(inbox_target="private"), "private"),
        (clip(100), DaemonConfig(inbox_target="studios", inbox_gif_max_seconds=15), "studios"),
    ],
)
def test_inbox_target(metadata: Metadata | None, config: DaemonConfig, target: str) -> None:
    assert inbox_target(metadata, config) == target


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("clip.mp4", ["clip.mp4", "clip (1).mp4", "clip (2).mp4"]),
        ("a.b.mkv", ["a.b.mkv", "a.b (1).mkv", "a.b (2).mkv"]),
        ("noext", ["noext", "noext (1)", "noext (2)"]),
    ],
)
def test_candidate_names(name: str, first: list[str]) -> None:
    assert list(itertools.islice(candidate_names(name), 3)) == first


def content_of(data: bytes) -> Content:
    return Content(len(data), hashlib.sha256(data).hexdigest())


def test_place_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "videos"
    target.mkdir()
    (target / "x.mp4").write_bytes(b"old")
    (target / "x (1).mp4").write_bytes(b"older")
    dropped = tmp_path / "x.mp4"
    dropped.write_bytes(b"new")
    final = place(dropped, target, "x.mp4", content_of(b"new"), ".t")
    assert final.name == "x (2).mp4" and final.read_bytes() == b"new"
    assert not dropped.exists() and (target / "x.mp4").read_bytes() == b"old"


def test_place_finds_the_same_content_before_choosing_a_new_name(tmp_path: Path) -> None:
    """A drop identical to a file already there (under the name or a numbered variant,
    even past a gap) is that file: no `x (2).mp4`, the inbox copy goes."""
    target = tmp_path / "videos"
    target.mkdir()
    (target / "x.mp4").write_bytes(b"old")
    (target / "x (3).mp4").write_bytes(b"new")
    dropped = tmp_path / "x.mp4"
    dropped.write_bytes(b"new")
    final = place(dropped, target, "x.mp4", content_of(b"new"), ".t")
    assert final.name == "x (3).mp4" and not dropped.exists()
    assert sorted(p.name for p in target.iterdir()) == ["x (3).mp4", "x.mp4"]


def test_place_across_file_systems_copies_then_unlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link

    def link(source: os.PathLike[str], target: os.PathLike[str]) -> None:
        if not Path(source).name.startswith(moving.INCOMING_PREFIX):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_link(source, target)

    monkeypatch.setattr(moving.os, "link", link)
    target = tmp_path / "videos"
    target.mkdir()
    (target / "x.mp4").write_bytes(b"old")
    dropped = tmp_path / "x.mp4"
    dropped.write_bytes(b"new")
    os.utime(dropped, ns=(1_000_000_000, 1_000_000_000))
    steps: list[str] = []
    final = place(
        dropped, target, "x.mp4", content_of(b"new"), f"{moving.INCOMING_PREFIX}1", steps.append
    )
    assert final.name == "x (1).mp4" and final.read_bytes() == b"new"
    assert final.stat().st_mtime_ns == 1_000_000_000  # copy2 keeps it: stat-skip still works
    assert not dropped.exists()
    assert sorted(p.name for p in target.iterdir()) == ["x (1).mp4", "x.mp4"]  # no leftovers
    assert steps == ["copied", "linked", "temp_removed", "source_removed"]


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("clip.mp4", 0),
        ("clip (1).mp4", 1),
        ("clip (12).mp4", 12),
        ("clip (0).mp4", None),
        ("clip (1).mkv", None),
        ("clip(1).mp4", None),
        ("clip (1) (1).mp4", None),
        ("xclip.mp4", None),
        (".videolib-incoming-ab", None),
    ],
)
def test_variant_number(name: str, number: int | None) -> None:
    assert variant_number("clip.mp4", name) == number


@pytest.mark.parametrize(
    ("placed", "source", "temporary", "decision"),
    [
        # Found in the library: finish; the inbox original goes only if it is still ours.
        ("x.mp4", Source.SAME, Temporary.ABSENT, Finish("x.mp4", remove_source=True)),
        ("x (1).mp4", Source.SAME, Temporary.COMPLETE, Finish("x (1).mp4", True)),
        ("x.mp4", Source.GONE, Temporary.ABSENT, Finish("x.mp4", remove_source=False)),
        ("x.mp4", Source.CHANGED, Temporary.PARTIAL, Finish("x.mp4", remove_source=False)),
        # Not placed, original still there: the step runs again from the start.
        (None, Source.SAME, Temporary.PARTIAL, RollBack()),
        (None, Source.SAME, Temporary.COMPLETE, RollBack()),
        (None, Source.SAME, Temporary.ABSENT, RollBack()),
        (None, Source.CHANGED, Temporary.ABSENT, RollBack()),
        # Not placed, original gone: a complete copy is the only one left, keep it.
        (None, Source.GONE, Temporary.COMPLETE, Adopt()),
        (None, Source.GONE, Temporary.PARTIAL, Forget()),
        (None, Source.GONE, Temporary.ABSENT, Forget()),
    ],
)
def test_decide_recovery(
    placed: str | None, source: Source, temporary: Temporary, decision: object
) -> None:
    assert decide_recovery(placed, source, temporary) == decision


@pytest.mark.parametrize(
    ("failures", "delay"), [(1, 2.0), (2, 4.0), (3, 8.0), (8, 256.0), (9, 300.0), (50, 300.0)]
)
def test_move_retry_delay_doubles_up_to_the_cap(failures: int, delay: float) -> None:
    assert move_retry_delay(failures) == delay


@pytest.mark.parametrize(
    ("age_s", "stale"), [(0.0, False), (60.0, False), (3600.0, False), (3601.0, True)]
)
def test_a_temporary_nobody_journaled_is_removed_only_once_still(age_s: float, stale: bool) -> None:
    assert is_stale_orphan(1_000_000.0 - age_s, now_s=1_000_000.0) is stale


def test_backoff_doubles_up_to_the_cap() -> None:
    assert list(itertools.islice(backoff_delays(0.5, 4.0), 6)) == [0.5, 1, 2, 4, 4, 4]


def test_notifier_sends_to_the_socket_and_is_harmless_without(tmp_path: Path) -> None:
    assert Notifier.from_environ({}).ready() is False
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "4000000"})
        assert notifier.watchdog_interval_s == 2.0
        assert notifier.ready() and notifier.watchdog() and notifier.stopping()
        assert [server.recv(64) for _ in range(3)] == [b"READY=1", b"WATCHDOG=1", b"STOPPING=1"]
