"""Alembic environment: runs on the connection that :func:`aither.server.storage.engine.migrate` passes.

To write a new migration against a scratch database::

    alembic -x url=sqlite:///scratch.db -c /dev/null revision --autogenerate -m "what changed"

(``script_location`` is this folder; see docs/server.md.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from aither.server.storage.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database with: alembic -x url=sqlite:///path.db ...")
    engine = sa.create_engine(url)
    with engine.begin() as own_connection:
        context.configure(connection=own_connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
