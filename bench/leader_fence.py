"""What the leader's write fence costs: one `SELECT ... FOR SHARE` per write transaction.

    python bench/leader_fence.py                  # 2,000 transactions per round, 3 rounds
    python bench/leader_fence.py --transactions 5000 --rounds 5

Commits small write transactions (one upsert of a settings row, the smallest write a daemon
makes) on a real PostgreSQL (DATABASE_URL when set, else an embedded one in a temporary
folder), one at a time, alternately without the fence and with it (as the leader), and
prints the mean time per transaction of each and the difference. The daemon's ingest
writes a batch of up to 64 files per transaction, so its cost per file is that
difference divided by the batch size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videolib.shared.config import load_config  # noqa: E402
from videolib.shared.db import migrate  # noqa: E402
from videolib.shared.db.engine import database_url, open_engine  # noqa: E402
from videolib.shared.db.repository.leader import (  # noqa: E402
    Fence,
    LeaderLock,
    daemon_session_name,
)
from videolib.shared.db.schema import settings  # noqa: E402


async def commit_many(engine: AsyncEngine, count: int) -> float:
    """Seconds per transaction, over `count` one-row upserts committed one by one."""
    statement = insert(settings).values(key="bench", value="x")
    statement = statement.on_conflict_do_update(
        index_elements=[settings.c.key], set_={"value": statement.excluded.value}
    )
    started = time.perf_counter()
    for _ in range(count):
        async with engine.begin() as connection:
            await connection.execute(statement)
    return (time.perf_counter() - started) / count


async def measure(url: URL, transactions: int, rounds: int) -> None:
    name = daemon_session_name()
    async with (
        open_engine(url, pool_size=1) as plain,
        open_engine(url, pool_size=1, application_name=name) as fenced,
    ):
        fence = Fence()
        fence.install(fenced)
        lock = LeaderLock(fenced, name, lease_s=5.0)
        fence.epoch = await lock.try_take()
        assert fence.epoch is not None, "another daemon leads this database"
        try:
            await commit_many(plain, 200)  # warm both connections
            await commit_many(fenced, 200)
            without, with_fence = [], []
            for _ in range(rounds):
                without.append(await commit_many(plain, transactions))
                with_fence.append(await commit_many(fenced, transactions))
        finally:
            await lock.release()
    a, b = statistics.median(without), statistics.median(with_fence)
    print(f"transactions per round: {transactions}, rounds: {rounds} (medians)")
    print(f"without fence: {a * 1000:.3f} ms per write transaction")
    print(f"with fence:    {b * 1000:.3f} ms per write transaction")
    print(f"fence cost:    {(b - a) * 1000:.3f} ms per transaction ({(b / a - 1) * 100:.0f} %),")
    print(f"               {(b - a) * 1000 / 64:.4f} ms per file in a 64-file ingest batch")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="videolib-bench-fence-") as work:
        root = Path(work) / "library"
        root.mkdir()
        env = {**os.environ, "MEDIA_LIBRARY_PATH": str(root)}
        env.setdefault("VIDEOLIB_STATE_DIR", str(Path(work) / "state"))
        config = load_config(None, env)
        with database_url(config) as url:
            if config.embedded_database:  # ours: migrate it (a configured one must be at head)
                async with open_engine(url, pool_size=1) as engine:
                    await migrate.upgrade(engine)
            await measure(url, args.transactions, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
