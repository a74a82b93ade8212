"""``db-setup``: a PostgreSQL store made under its owner role, with the database's half of the enforcement.

Run once by a database administrator (a superuser URL): the owner and group roles, the store's
tables created as the owner (so no person's login owns them), grants and row-level security, and
the programme's first administrator with a login role of their own. Rerunning it keeps what exists.
"""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from . import migrate, people, pg_setup
from .store import Store, StoreError, resolve_url


def setup(admin_url: str, dataset: str, admin_login: str, admin_name: str, *, hub: bool = False) -> str:
    """Install the store and its enforcement (and, with ``hub``, the hub's role ``rk_hub`` with its
    grants, the PostgreSQL 16 ADMIN OPTION included); returns the store's URL for display."""
    url = resolve_url(admin_url)
    engine = create_engine(url)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        raise StoreError("db-setup 只用于 PostgreSQL 评分库；本机 SQLite 评分库无需设置（其文件所有者即可修改它）")
    people.check_login(admin_login)
    try:
        with engine.begin() as conn:
            pg_setup.create_roles(conn)
            if "rk_versions" not in inspect(conn).get_table_names():
                conn.execute(text(f"SET LOCAL ROLE {pg_setup.OWNER}"))
                migrate.upgrade(conn)
                conn.execute(text("RESET ROLE"))
            pg_setup.grant(conn)
    finally:
        engine.dispose()
    with Store(url) as store:
        if people.by_login(store, dataset, admin_login) is None:
            people.add(store, dataset, admin_login, admin_name, ["admin"], by="db-setup")
        if hub:
            with store.engine.begin() as conn:
                pg_setup.create_hub(conn)
        return store.where
