"""The provincial hub's side of identity: who may log in, where each role lands, and each user's own database login.

JupyterHub authenticates the account (``deploy/jupyterhub_config.py``); the store's registry decides
whether that account is a person of the programme with a role, so revoking a person's roles
(``rubric-kernel people revoke``) also closes the hub to them. Before a user's server starts the hub
gives their PostgreSQL login a fresh random password and writes it only into a 0600 pgpass file for
that server (``PGPASSFILE``): the store URL the notebooks see carries the login, never a password,
and nothing lands in a notebook or on a command line.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import psycopg
from psycopg import sql

from . import people
from .authz import Person, revoked_message
from .store import Store

EXPERT_PAGE = "/voila/render/assessment.ipynb"
REVIEW_PAGE = "/voila/render/review.ipynb"
WORKBENCH = "/lab"
PGPASS_NAME = "rk-pgpass"


def registered(store_url: str, dataset: str, login: str) -> Person | None:
    """The registered person with this login and at least one role in the programme, else None."""
    with Store(store_url) as store:
        person = people.by_login(store, dataset, login)
    return person if person is not None and person.roles else None


def refusal(store_url: str, dataset: str, login: str) -> str | None:
    """Why this account may not log in (None: it may): revoked (when, by whom) or never registered."""
    with Store(store_url) as store:
        person = people.by_login(store, dataset, login)
        if person is not None and person.roles:
            return None
        gone = people.revocation(store, dataset, login) if person is not None else None
    if gone:
        return revoked_message(login, *gone)
    return f"“{login}”不是评估项目 {dataset} 的在册人员，不能登录"


def landing(person: Person) -> str:
    """The page a person opens after logging in: the expert's form at their first assigned institution,
    the centre's and the leader's review page, JupyterLab for the organiser and the administrator."""
    if "centre" in person.roles or "leader" in person.roles:
        return REVIEW_PAGE
    if "expert" in person.roles:
        first = min(person.institutions, default=0)
        return f"{EXPERT_PAGE}?institution={first}" if first else EXPERT_PAGE
    return WORKBENCH


def _conninfo(url: str) -> dict[str, str]:
    """host, port and dbname of a ``postgresql+psycopg://user@/db?host=...&port=...`` style URL."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return {
        "host": query.get("host") or parts.hostname or "localhost",
        "port": query.get("port") or str(parts.port or 5432),
        "dbname": parts.path.lstrip("/"),
    }


def user_url(store_url: str, login: str) -> str:
    """The store URL a user's notebooks use: their own login, no password (libpq reads PGPASSFILE)."""
    c = _conninfo(store_url)
    return f"postgresql+psycopg://{quote(login, safe='')}@/{c['dbname']}?host={quote(c['host'], safe='/')}&port={c['port']}"


def issue_password(admin_conninfo: str, login: str) -> str:
    """A fresh random password for the person's login role (the hub's database role needs CREATEROLE)."""
    password = secrets.token_urlsafe(24)
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(login), sql.Literal(password)))
    return password


def write_pgpass(folder: Path, store_url: str, login: str, password: str) -> Path:
    """``folder/rk-pgpass`` readable by its owner only, with the one line libpq needs."""
    c = _conninfo(store_url)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PGPASS_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        escaped = [v.replace("\\", "\\\\").replace(":", "\\:") for v in (c["host"], c["port"], c["dbname"], login)]
        f.write(":".join([*escaped, password.replace("\\", "\\\\").replace(":", "\\:")]) + "\n")
    os.chmod(path, 0o600)
    return path


def spawn_environment(
    store_url: str, admin_conninfo: str, dataset: str, login: str, folder: Path
) -> tuple[dict[str, str], str]:
    """(environment, landing URL) for a user's server; refused with a Chinese line if they hold no role."""
    person = registered(store_url, dataset, login)
    if person is None:
        raise PermissionError(f"“{login}”不是评估项目 {dataset} 的在册人员（或已被撤销全部角色），不能启动工作环境")
    pgpass = write_pgpass(folder, store_url, login, issue_password(admin_conninfo, login))
    env = {"RUBRIC_KERNEL_DB": user_url(store_url, login), "PGPASSFILE": str(pgpass)}
    return env, landing(person)
