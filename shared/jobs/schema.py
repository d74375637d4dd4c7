"""The job engine's own tables (PgQueuer's), installed by migration 0015 from its own installer.

PgQueuer generates its DDL from its declaration (`QueryBuilderEnvironment`); we run exactly
that, so that `pgq upgrade` (the engine's own tool) recognises the schema as its own later.
"""

from __future__ import annotations

from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment

#: The engine's tables: not ours to declare in shared/db/schema.py (Alembic's drift check
#: skips them, tests/integration/test_migrations.py).
ENGINE_TABLES = frozenset({"pgqueuer", "pgqueuer_log", "pgqueuer_schedules", "pgqueuer_statistics"})


def install_sql() -> str:
    """The statements that create the engine's types, tables, indexes, trigger and function."""
    return QueryBuilderEnvironment().build_install_query(create_schema=False)


def uninstall_sql() -> str:
    """The statements that drop every object of the engine (its queued jobs with them)."""
    return QueryBuilderEnvironment().build_uninstall_query()
