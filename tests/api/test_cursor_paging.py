"""`cursor=` on the video list: next and previous pages by keyset, and refused cursors."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client, insert_rows, row
from tests.api.test_openapi import check, document
from videolib.api.cursors import CursorCodec
from videolib.api.schemas import SortKey
from videolib.shared.db.repository import Keyset

URL = "/api/media/videos"
START = datetime(2026, 1, 1, tzinfo=UTC)


async def listing(client: Client, auth: dict[str, str], query: str) -> dict[str, Any]:
    response = await client.get(f"{URL}?{query}", headers=auth)
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


def ids(body: dict[str, Any]) -> list[str]:
    return [video["id"] for video in body["data"]]


async def eleven_rows(engine: AsyncEngine) -> None:
    """NULL titles, durations and sizes, and ties on every key (the id decides)."""
    await insert_rows(
        engine,
        *(
            row(
                f"{'videos' if i % 3 else 'gifs'}/{i}.mp4",
                title=[None, "alpha", "Beta", "beta"][i % 4],
                duration_seconds=[None, 5, 5, 9][i % 4],
                file_size=[1, None, 3][i % 3],
                # Pairs a microsecond apart: the JSON's milliseconds would merge them.
                created_at=START + timedelta(microseconds=i // 2),
            )
            for i in range(11)
        ),
        row("videos/gone.mp4", is_valid=False, invalid_reason="missing"),
    )


@pytest.mark.parametrize("sort", get_args(SortKey))
async def test_next_then_prev_cursors_walk_the_offset_listing(
    client: Client, auth: dict[str, str], engine: AsyncEngine, sort: str
) -> None:
    await eleven_rows(engine)
    everything = ids(await listing(client, auth, f"limit=100&sort={sort}"))
    assert len(everything) == 11
    offset_pages = [
        ids(await listing(client, auth, f"limit=3&sort={sort}&page={n}")) for n in (1, 2, 3, 4)
    ]
    assert [video for page in offset_pages for video in page] == everything

    body = await listing(client, auth, f"limit=3&sort={sort}")
    assert body["pagination"]["prevCursor"] is None  # page 1
    forward = [ids(body)]
    while body["pagination"]["nextCursor"]:
        body = await listing(
            client, auth, f"limit=3&sort={sort}&cursor={body['pagination']['nextCursor']}"
        )
        assert body["pagination"]["page"] is None
        assert body["pagination"]["total"] == 11 and body["pagination"]["totalPages"] == 4
        forward.append(ids(body))
    assert forward == offset_pages

    backward = [ids(body)]
    while body["pagination"]["prevCursor"]:
        body = await listing(
            client, auth, f"limit=3&sort={sort}&cursor={body['pagination']['prevCursor']}"
        )
        backward.insert(0, ids(body))
    assert backward == offset_pages
    # Back at the start: its next cursor leads to page 2 again.
    again = await listing(
        client, auth, f"limit=3&sort={sort}&cursor={body['pagination']['nextCursor']}"
    )
    assert ids(again) == offset_pages[1]


async def test_cursors_combine_with_filters_and_offset_pages(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await eleven_rows(engine)
    query = "limit=2&sort=-durationSeconds&directoryType=videos"
    everything = ids(await listing(client, auth, f"{query}&limit=100"))
    assert len(everything) == 7
    # From an OFFSET page in the middle, forwards and backwards.
    middle = await listing(client, auth, f"{query}&page=2")
    assert ids(middle) == everything[2:4]
    after = await listing(client, auth, f"{query}&cursor={middle['pagination']['nextCursor']}")
    before = await listing(client, auth, f"{query}&cursor={middle['pagination']['prevCursor']}")
    assert ids(after) == everything[4:6] and ids(before) == everything[0:2]
    assert before["pagination"]["prevCursor"] is None  # nothing before the first row
    last = await listing(client, auth, f"{query}&page=4")
    assert ids(last) == everything[6:] and last["pagination"]["nextCursor"] is None
    doc = await document(client, auth)  # a cursor page is what the document says
    for body in (middle, after, before, last):
        check(doc, "get", URL, 200, body)
    parameter = next(p for p in doc["paths"][URL]["get"]["parameters"] if p["name"] == "cursor")
    assert "nextCursor" in parameter["schema"]["description"]


async def test_past_the_end_and_gone_rows(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await eleven_rows(engine)
    beyond = await listing(client, auth, "limit=3&page=9")
    assert beyond["data"] == []
    assert (beyond["pagination"]["nextCursor"], beyond["pagination"]["prevCursor"]) == (None, None)
    last = await listing(client, auth, "limit=3&page=4")
    assert last["pagination"]["nextCursor"] is None and len(last["data"]) == 2


def _flip(cursor: str, at: int) -> str:
    swapped = "A" if cursor[at] != "A" else "B"
    return cursor[:at] + swapped + cursor[at + 1 :]


async def test_refused_cursors_are_400s_naming_cursor(
    client: Client, auth: dict[str, str], engine: AsyncEngine, api_config: Any
) -> None:
    await eleven_rows(engine)
    body = await listing(client, auth, "limit=3&sort=title")
    good = body["pagination"]["nextCursor"]
    other_secret = CursorCodec("another-secret-" + "y" * 40).encode(
        Keyset("title", "alpha", uuid.uuid4())
    )
    unsigned = base64.urlsafe_b64encode(b"\0" * 16 + b'[1,"title","after","a","x"]').decode()
    cases = {
        "tampered": f"sort=title&cursor={_flip(good, len(good) // 2)}",
        "cut short": f"sort=title&cursor={good[:-6]}",
        "not base64url": "sort=title&cursor=abc%2Bdef",
        "another sort": f"sort=-title&cursor={good}",
        "default sort": f"cursor={good}",
        "with page": f"sort=title&page=2&cursor={good}",
        "another secret": f"sort=title&cursor={other_secret}",
        "forged": f"sort=title&cursor={unsigned.rstrip('=')}",
        "empty": "sort=title&cursor=",
        "too long": f"sort=title&cursor={'A' * 7000}",
    }
    for case, query in cases.items():
        response = await client.get(f"{URL}?{query}", headers=auth)
        assert response.status == 400, (case, await response.text())
        answer = await response.json()
        assert answer["error"] == "bad_request", case
        assert answer["message"].startswith("cursor"), (case, answer["message"])
    response = await client.get(f"{URL}?sort=-title&cursor={good}", headers=auth)
    assert "made for sort=title" in (await response.json())["message"]
    assert ids(await listing(client, auth, f"sort=title&limit=3&cursor={good}"))  # still good


async def test_a_search_pages_by_cursor_in_its_ranked_order(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    # Whole-word matches ("Mountain") come first, then the other matches: an order no
    # keyset walks, so a search's cursors are offsets, and give the same pages as page=.
    await insert_rows(
        engine,
        *(
            row(f"videos/{i}.mp4", title=["Mountain", "Mountains high", "The mountaineer"][i % 3])
            for i in range(8)
        ),
        row("videos/other.mp4", title="Valley"),
    )
    query = "search=mountain&limit=3&sort=title"
    by_page = [ids(await listing(client, auth, f"{query}&page={n}")) for n in (1, 2, 3)]
    first = await listing(client, auth, query)
    walked, body = [ids(first)], first
    while body["pagination"]["nextCursor"]:
        body = await listing(client, auth, f"{query}&cursor={body['pagination']['nextCursor']}")
        walked.append(ids(body))
    assert walked == by_page
    assert body["pagination"]["page"] is None
    back = await listing(client, auth, f"{query}&cursor={body['pagination']['prevCursor']}")
    assert ids(back) == by_page[1]
    # A search's cursor is no listing's, and the other way round.
    unsearched = await client.get(
        f"{URL}?limit=3&sort=title&cursor={first['pagination']['nextCursor']}", headers=auth
    )
    assert unsearched.status == 400
    assert (await unsearched.json())["message"].startswith("cursor: made for a search")
    listed = await listing(client, auth, "limit=3&sort=title")
    searched = await client.get(
        f"{URL}?{query}&cursor={listed['pagination']['nextCursor']}", headers=auth
    )
    assert searched.status == 400
    assert "without search" in (await searched.json())["message"]
