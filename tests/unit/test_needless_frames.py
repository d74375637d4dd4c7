"""Which packets' frames a pass need not decode (pure: timestamps in, decisions out).

A frame can go undecoded (`skip_frame = "NONREF"`, where nothing refers to it) only when no
use would take it: the per-second hashes take the first frame of each eighth of a second,
so a later one in an eighth that a decoded frame already holds is needless
(SecondHashes.needless); the Stash pHash takes the first frame at or after each of its
times, so one before the next time is needless (StashFrames.needless).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest

from videolib.shared.media.frame_hashes import SecondHashes


@dataclass
class _Stream:
    """What SecondHashes reads of a stream: its clock."""

    time_base: Fraction = Fraction(1, 100)  # pts in hundredths of a second
    start_time: int | None = 0


#: (packets sent to the decoder in full, in decode order, as pts), pts asked, needless.
#: At 1/100 s, an eighth of a second is 12.5 ticks; second k is centred on k (slot 4 is
#: [0, 0.125) s, as the window starts half a second early).
CASES = [
    ([], 5, False),  # nothing decoded yet in its slot
    ([0], 5, True),  # 0 and 5 share slot 4: 0 comes out first and takes it
    ([0], 12, True),  # 0.12 s: still slot 4
    ([0], 13, False),  # 0.13 s: slot 5, empty
    ([5], 0, False),  # a smaller pts than the one decoded: it may be the slot's first
    ([5], 5, False),  # itself
    ([0, 25], 30, True),  # slot 6: 25 (0.25 s) and 30 (0.30 s)
    ([None], 5, False),  # a packet without pts says nothing
    ([0], None, False),  # nor can one be judged
]


@pytest.mark.parametrize(("decoded", "pts", "needless"), CASES)
def test_a_frame_is_needless_when_an_earlier_one_holds_its_slot(
    decoded: list[int | None], pts: int | None, needless: bool
) -> None:
    seconds = SecondHashes(_Stream(), keyframes_only=False)
    for sent in decoded:
        seconds.sent(sent, skipped=False)
    assert seconds.needless(pts) is needless


def test_a_skipped_packet_holds_no_slot() -> None:
    """A packet sent with NONREF may not be decoded at all: it cannot vouch for its slot."""
    seconds = SecondHashes(_Stream(), keyframes_only=False)
    seconds.sent(0, skipped=True)
    assert seconds.needless(5) is False


def test_the_slots_count_from_the_stream_s_start() -> None:
    seconds = SecondHashes(_Stream(start_time=360_000), keyframes_only=False)  # 3600 s
    seconds.sent(360_000, skipped=False)
    assert seconds.needless(360_005) is True
    assert seconds.needless(360_013) is False
