"""Pure rules and small adapters: inbox target and names, placing files, backoff, sd_notify."""

from __future__ import annotations

import errno
import itertools
import os
import socket
from pathlib import Path

import pytest

from videolib.daemon import inbox
from videolib.daemon.health import backoff_delays
from videolib.daemon.inbox import candidate_names, inbox_target, place
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


def test_place_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "videos"
    target.mkdir()
    (target / "x.mp4").write_bytes(b"old")
    (target / "x (1).mp4").write_bytes(b"older")
    dropped = tmp_path / "x.mp4"
    dropped.write_bytes(b"new")
    final = place(dropped, target, "x.mp4")
    assert final.name == "x (2).mp4" and final.read_bytes() == b"new"
    assert not dropped.exists() and (target / "x.mp4").read_bytes() == b"old"


def test_place_across_file_systems_copies_then_unlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link

    def link(source: os.PathLike[str], target: os.PathLike[str]) -> None:
        if not Path(source).name.startswith(inbox.INCOMING_PREFIX):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_link(source, target)

    monkeypatch.setattr(inbox.os, "link", link)
    target = tmp_path / "videos"
    target.mkdir()
    (target / "x.mp4").write_bytes(b"old")
    dropped = tmp_path / "x.mp4"
    dropped.write_bytes(b"new")
    os.utime(dropped, ns=(1_000_000_000, 1_000_000_000))
    final = place(dropped, target, "x.mp4")
    assert final.name == "x (1).mp4" and final.read_bytes() == b"new"
    assert final.stat().st_mtime_ns == 1_000_000_000  # copy2 keeps it: stat-skip still works
    assert not dropped.exists()
    assert sorted(p.name for p in target.iterdir()) == ["x (1).mp4", "x.mp4"]  # no leftovers


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
