"""Alembic environment: always run with a connection handed over by videolib.shared.db.migrate."""

from alembic import context

from videolib.shared.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `videolib db upgrade`, which supplies the connection")

context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
