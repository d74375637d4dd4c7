"""The `settings` table (runtime switches an admin may flip) and the database's ping."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.schema import settings

from .errors import translate_errors


class SettingsRepository:
    """Statements on `settings`: one value per key."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def setting(self, key: str) -> str | None:
        async with self.engine.connect() as connection:
            result = await connection.execute(select(settings.c.value).where(settings.c.key == key))
        return result.scalar_one_or_none()

    @translate_errors
    async def set_setting(self, key: str, value: str) -> None:
        statement = insert(settings).values(key=key, value=value)
        statement = statement.on_conflict_do_update(
            index_elements=[settings.c.key],
            set_={"value": statement.excluded.value, "updated_at": func.now()},
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)


@translate_errors
async def ping(engine: AsyncEngine) -> None:
    """Raise DatabaseUnavailableError unless the database answers."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
