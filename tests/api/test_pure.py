"""Pure pieces: the listing total cache, the feature flag's timing, search patterns, names."""

from __future__ import annotations

import pytest

from videolib.api.counts import CountCache
from videolib.api.flag import FeatureFlag
from videolib.api.routes.uploads import safe_name
from videolib.api.schemas import BadRequestError
from videolib.api.text import text_problem
from videolib.shared.db.repository.search import like_pattern, search_bindings
from videolib.shared.errors import DatabaseUnavailableError


def test_count_cache_expires_and_clears() -> None:
    now = [0.0]
    cache = CountCache(5.0, clock=lambda: now[0])
    cache.put("k", 7)
    assert cache.get("k") == 7
    now[0] = 5.0
    assert cache.get("k") is None
    cache.put("k", 8)
    cache.clear()
    assert cache.get("k") is None


async def test_flag_reads_the_row_at_most_every_five_seconds() -> None:
    now, reads, value = [0.0], [], ["false"]

    async def read(key: str) -> str | None:
        reads.append(key)
        if value[0] == "down":
            raise DatabaseUnavailableError()
        return value[0]

    flag = FeatureFlag(True, read, clock=lambda: now[0])
    assert await flag.enabled() is False
    value[0] = "true"
    now[0] = 4.9
    assert await flag.enabled() is False and len(reads) == 1
    now[0] = 5.0
    assert await flag.enabled() is True
    value[0], now[0] = "down", 10.0
    assert await flag.enabled() is True  # a database blip keeps the last value


@pytest.mark.parametrize(
    ("term", "pattern"),
    [("ountain", "%ountain%"), ("100%", "%100\\%%"), ("a_b", "%a\\_b%"),
     ("back\\slash", "%back\\\\slash%"), ("%_\\", "%\\%\\_\\\\%")],
)  # fmt: skip
def test_like_pattern_matches_the_term_itself(term: str, pattern: str) -> None:
    assert like_pattern(term) == pattern


def test_search_bindings() -> None:
    assert search_bindings("Studio 7") == {"search": "%Studio 7%", "search_words": "Studio 7"}
    # A term holding the columns' separator is checked column by column as well.
    straddling = search_bindings("a\x1fb")
    assert straddling["search_columns"] == straddling["search"] == "%a\x1fb%"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("a.mp4", "a.mp4"), ("../../x.MOV", "x.MOV"), ("C:\\Users\\me\\v.mkv", "v.mkv"),
     (".hidden.mp4", "hidden.mp4"), ("we|ird?.mp4", "we_ird_.mp4")],
)  # fmt: skip
def test_safe_name(given: str, expected: str) -> None:
    assert safe_name(given) == expected


@pytest.mark.parametrize("given", [None, "", "notes.txt", "x.mp4.part", "...", "bad\ud800.mp4"])
def test_safe_name_refuses(given: str | None) -> None:
    with pytest.raises(BadRequestError):
        safe_name(given)


@pytest.mark.parametrize(
    ("given", "problem"),
    [("", None), ("plain", None), ("é 日本 🎬", None), ("a\x00b", "contains a NUL character"),
     ("\ud800", "contains a lone surrogate (not valid Unicode)"),
     ("x\udcff", "contains a lone surrogate (not valid Unicode)"),
     ("\U0001f3ac", None)],  # an astral character is a surrogate pair in JSON, fine here
)  # fmt: skip
def test_text_problem(given: str, problem: str | None) -> None:
    assert text_problem(given) == problem
