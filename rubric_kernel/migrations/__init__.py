"""The store's schema history as Alembic revisions, run from ``rubric_kernel.migrate`` (no alembic.ini)."""
