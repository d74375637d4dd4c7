"""The database: table definitions, migrations, the embedded server and every query."""
