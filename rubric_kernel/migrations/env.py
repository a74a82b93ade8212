"""Alembic's environment: migrations always run on the connection the store hands over.

There is no URL and no ini file: ``rubric_kernel.migrate`` passes an open connection (inside the
caller's transaction) and the rubric the data migrations need, as ``config.attributes``.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
