"""Property-based testing of the real API from its own OpenAPI document (schemathesis).

The app runs on a real port in a thread of its own (its own event loop), on the embedded
PostgreSQL and a real library with a real clip, authenticated with a real token. For every
operation, generated requests must get no 5xx and only answers the document describes.
Bounded: a few examples per operation, no deadline (2 shared cores).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok
from sqlalchemy.engine import URL

from tests.api.conftest import SECRET
from tests.conftest import _admin, _dsn
from tests.media import make_video
from videolib.api.app import create_app
from videolib.api.openapi import build_document
from videolib.shared.config import Config, DatabaseConfig, LibraryConfig, ProbeConfig, StateConfig
from videolib.shared.db.embedded import DATABASE_NAME
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.tokens import issue_token

EXAMPLES_PER_OPERATION = 60
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


class ServedApp:
    """The API on 127.0.0.1:<free port>, served by a thread's own event loop."""

    def __init__(self, config: Config) -> None:
        self.config = config
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, name="api-under-test", daemon=True)
        self.app = create_app(config)
        self.runner = web.AppRunner(self.app)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", self.port)
            self.loop.run_until_complete(site.start())
        except BaseException as error:  # reported to the test, not lost in the thread
            self.error = error
            self.started.set()
            return
        self.started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def __enter__(self) -> ServedApp:
        self.thread.start()
        assert self.started.wait(60), "the API did not start within 60 s"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(60)
        assert not self.thread.is_alive(), "the API did not stop within 60 s"


@pytest.fixture(scope="module")
def served(template_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(template_url, f'CREATE DATABASE "{name}" TEMPLATE "{DATABASE_NAME}"'))
    base = tmp_path_factory.mktemp("schemathesis")
    root = base / "library"
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True)
    make_video(root / "videos" / "clip.mp4", width=320, height=240)
    config = Config(
        library=LibraryConfig(root=root),
        database=DatabaseConfig(url=_dsn(template_url, name), pool_size=4),
        state=StateConfig(dir=base / "state"),
        probe=ProbeConfig(workers=1, timeout_ms=20000),
        # No scan worker in the served app: the engine's loop draws from the global
        # `random` in the app's thread while Hypothesis draws examples in the test's, which
        # Hypothesis reports as a strategy using `random`. The 202 of an async scan is what
        # the document promises; its run is tests/api/test_scans.py's.
    ).replace("api", jwt_secret=SECRET, run_scans=False)
    try:
        with ServedApp(config) as app:
            yield app
    finally:
        asyncio.run(_admin(template_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_api_answers_as_documented(served: ServedApp) -> None:
    schema = schemathesis.openapi.from_dict(build_document(served.app))
    schema.config.update(base_url=served.base_url)
    headers = {"Authorization": f"Bearer {issue_token(SECRET)}"}
    failures: dict[str, str] = {}
    tried = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself must load whole
        operation = result.ok()
        # Valid requests and requests that break the document (NUL, wrong types, ...).
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=cases)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,  # no example store written into the tree
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
        )
        def answers_as_documented(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

        tried += 1
        try:
            answers_as_documented()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as failure:  # every operation is tried; all failures reported
            failures[operation.label] = str(failure)[:2000]
    assert tried >= 15, f"only {tried} operations in the document"
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
