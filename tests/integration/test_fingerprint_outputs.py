"""The fingerprints of the pinned set are the bits recorded before fingerprinting got cheaper.

tests/fingerprint_outputs.json was written by main's code at ec2a900 (one decoding pass per
part, the file opened three times); the README's near-duplicate figures stand on these
bits, so any change in how frames are found, decoded or scaled must keep them all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fingerprint_set import make_fingerprint_set, summary
from videolib.shared.media.fingerprint import compute_fingerprint

EXPECTED: dict[str, dict[str, object]] = json.loads(
    (Path(__file__).parent.parent / "fingerprint_outputs.json").read_text()
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_fingerprint_set(tmp_path_factory.mktemp("fingerprint-set"))


def test_every_file_of_the_set_is_recorded(files: dict[str, Path]) -> None:
    assert set(files) <= set(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_fingerprint_is_bit_for_bit_the_recorded_one(files: dict[str, Path], case: str) -> None:
    if case not in files:  # the AV1 shapes, where PyAV's wheel has no AV1 encoder
        pytest.skip(f"{case}: not made here")
    assert summary(compute_fingerprint(str(files[case]))) == EXPECTED[case]
