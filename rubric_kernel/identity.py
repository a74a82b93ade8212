"""Who is acting, taken from the environment and never from an argument.

On a PostgreSQL store it is the database login (``current_user``): each person connects with a
login role of their own, so the database and the application agree on who acts. On a local SQLite
file it is JupyterHub's user inside a hub, else the OS login; ``RUBRIC_KERNEL_ACTOR`` may name the
person (login or name) for scripts and tests on SQLite only, and is ignored on PostgreSQL. Either
way the login must belong to a person registered for the programme.
"""

from __future__ import annotations

import getpass
import os

from . import people
from .authz import Person, revoked_message
from .store import Store, StoreError

ACTOR_ENV = "RUBRIC_KERNEL_ACTOR"
HUB_ENV = "JUPYTERHUB_USER"


class Unregistered(StoreError):
    """The acting login is not a registered person of the programme."""


class Revoked(Unregistered):
    """The acting login was registered, and every role of theirs has been revoked."""

    def __init__(self, login: str, at: str, by: str):
        super().__init__(revoked_message(login, at, by))


def login(store: Store) -> tuple[str, str]:
    """(who, where it came from): the acting login or name, and its source for the refusal message."""
    if store.backend == "postgresql":
        return store.query("SELECT current_user")[0][0], "数据库登录名"
    if os.environ.get(ACTOR_ENV, "").strip():
        return os.environ[ACTOR_ENV].strip(), ACTOR_ENV
    if os.environ.get(HUB_ENV, "").strip():
        return os.environ[HUB_ENV].strip(), "JupyterHub 用户"
    try:
        return getpass.getuser(), "系统登录名"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "", "系统登录名"


def current(store: Store, dataset: str) -> Person:
    """The registered person acting now; refused in one Chinese line if there is none."""
    who, source = login(store)
    # on PostgreSQL a revoked login reads nothing: the store tells it so (``store._translate_errors``)
    person = people.by_login(store, dataset, who) if source == "数据库登录名" else people.find(store, dataset, who)
    if person is not None and not person.roles:
        gone = people.revocation(store, dataset, person.login)
        if gone:
            raise Revoked(person.login, *gone)
    if person is None:
        hint = "" if source == "数据库登录名" else f"（在本机评分库上也可用环境变量 {ACTOR_ENV} 指定已登记的登录名）"
        raise Unregistered(
            f"操作被拒绝：{source}“{who or '未知'}”不是评估项目 {dataset} 的已登记人员，"
            f"请由管理员用 rubric-kernel people add 登记{hint}"
        )
    return person
