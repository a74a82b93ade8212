"""Acting on the suite's PostgreSQL server as one person's own database login (no password: trust
authentication on the throwaway cluster), in raw SQL or as a store URL."""

from __future__ import annotations

import psycopg
from sqlalchemy import make_url


def connect(url: str, login: str) -> psycopg.Connection:
    u = make_url(url)
    return psycopg.connect(host=u.query["host"], port=u.query["port"], dbname=u.database, user=login, autocommit=True)


def as_login(url: str, login: str) -> str:
    return make_url(url).set(username=login).render_as_string(hide_password=False)
