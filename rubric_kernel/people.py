"""The people registry in the store: who is who (a stable login and a name), their roles, their institutions.

Per programme (the dataset's name). Every change is logged with who made it and when. On PostgreSQL
each registered person also gets a login role of their own, a member of their roles' group roles
(``pg_setup``), so the database knows who acts. A synthetic dataset may ship a registry
(``people.yaml``, marked 演示数据) that is loaded on the store's first use of it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path

from .authz import ROLES, Person
from .errors import Fault, InputError, display_path
from .signing import beijing_today
from .store import Store, StoreError
from .yamlsafe import load_yaml

LOGIN = re.compile(r"[a-z_][a-z0-9_]{0,62}")
REGISTRY_FILE = "people.yaml"
DEMO_BY = "演示数据"  # who "made" the demo registry: nobody real


def registry(store: Store, dataset: str, login: str | None = None) -> dict[str, Person]:
    """Every registered person of the programme, by login (only ``login``'s, when given: each save asks
    who acts, and building all 78 demo people with their 1,100 assignments cost most of a save's time)."""
    only = "dataset = :d" + (" AND login = :login" if login else "")
    rows = store.query(f"SELECT login, name, demo FROM rk_people WHERE {only} ORDER BY id", d=dataset, login=login)
    grants = store.query(f"SELECT login, role FROM rk_roles WHERE {only}", d=dataset, login=login)
    assigned = store.query(f"SELECT login, institution, grp FROM rk_assignments WHERE {only}", d=dataset, login=login)
    held: dict[str, set[str]] = {}
    for who, role in grants:
        held.setdefault(who, set()).add(role)
    institutions: dict[str, dict[int, str]] = {}
    for who, n, grp in sorted(assigned, key=lambda a: a[1]):
        institutions.setdefault(who, {})[n] = grp
    return {
        who: Person(who, name, frozenset(held.get(who, ())), institutions.get(who, {}), bool(demo))
        for who, name, demo in rows
    }


def registered_any(store: Store, dataset: str) -> bool:
    """Whether the programme has anyone registered: one indexed probe, for every kernel's first-use check."""
    return bool(store.query("SELECT id FROM rk_people WHERE dataset = :d LIMIT 1", d=dataset))


def by_login(store: Store, dataset: str, login: str) -> Person | None:
    """The registered person with this login, or None (keys and signatures look people up here)."""
    return registry(store, dataset, login).get(login)


def find(store: Store, dataset: str, who: str) -> Person | None:
    """A person named by login or by name (names are shown; logins are stable)."""
    reg = registry(store, dataset)
    return reg.get(who) or next((p for p in reg.values() if p.name == who), None)


def changes(store: Store, dataset: str) -> list[tuple[str, str, str, str]]:
    """The registry's change log: (when, who, action, what), oldest first."""
    return store.query(
        "SELECT at, by_login, action, detail FROM rk_people_log WHERE dataset = :d ORDER BY id", d=dataset
    )


def revocation(store: Store, dataset: str, login: str) -> tuple[str, str] | None:
    """(when, by whom) the person's last role was revoked, if they are registered and hold no role now."""
    person = by_login(store, dataset, login)
    if person is None or person.roles:
        return None
    rows = store.query(
        "SELECT at, by_login FROM rk_people_log WHERE dataset = :d AND action = 'revoke' AND detail LIKE :like "
        "ORDER BY id DESC",
        d=dataset,
        like=f"{login} %",
    )
    return next(((at, by) for at, by in rows), None)


def check_login(login: str) -> None:
    if not LOGIN.fullmatch(login):
        raise InputError(
            [Fault("登录名", f"“{login[:40]}”无效：只可使用小写字母、数字和下划线，以字母或下划线开头，最长 63 位")]
        )


def check_roles(names: Iterable[str]) -> list[str]:
    """Role codes, in the programme's order; an unknown one is refused naming the allowed ones."""
    names = list(names)
    unknown = [n for n in names if n not in ROLES]
    if unknown:
        allowed = "、".join(f"{k}（{v}）" for k, v in ROLES.items())
        raise InputError([Fault("--role", f"未知角色“{'、'.join(unknown)}”；允许：{allowed}")])
    return [r for r in ROLES if r in names]


def add(
    store: Store, dataset: str, login: str, name: str, role_names: Iterable[str], *, by: str, demo: bool = False
) -> Person:
    """Register a person with roles; refused if the login is taken."""
    check_login(login)
    if not name.strip():
        raise InputError([Fault("--name", "姓名不能为空")])
    granted = check_roles(role_names)
    if by_login(store, dataset, login) is not None:
        raise StoreError(f"登录名 {login} 已登记，未作任何修改（增加角色请用 rubric-kernel people assign）")
    from sqlalchemy import insert

    from . import pg_setup
    from .tables import people, roles

    with _writing(store) as conn:
        conn.execute(insert(people).values(dataset=dataset, login=login, name=name.strip(), demo=demo))
        for role in granted:
            conn.execute(insert(roles).values(dataset=dataset, login=login, role=role))
        _log(conn, dataset, by, "add", f"{login} {name.strip()} {'、'.join(ROLES[r] for r in granted)}")
        if conn.dialect.name == "postgresql" and not demo:
            pg_setup.sync_login(conn, login, granted)
    return by_login(store, dataset, login)  # type: ignore[return-value]


def assign(
    store: Store,
    dataset: str,
    login: str,
    *,
    by: str,
    role_names: Iterable[str] = (),
    institutions: Iterable[int] = (),
    group: str = "",
) -> Person:
    """Grant further roles and/or assign institutions (to an expert, within a group)."""
    person = _existing(store, dataset, login)
    new_roles = [r for r in check_roles(role_names) if r not in person.roles]
    numbers = sorted(set(institutions) - set(person.institutions))
    if numbers and not (person.has("expert") or "expert" in new_roles):
        raise StoreError(f"{person.shown} 不是“评估专家”，不能分配机构")
    if numbers and not group.strip():
        raise InputError([Fault("--group", "分配机构时须写明评估小组")])
    from sqlalchemy import insert

    from . import pg_setup
    from .tables import assignments, roles

    with _writing(store) as conn:
        for role in new_roles:
            conn.execute(insert(roles).values(dataset=dataset, login=login, role=role))
        for n in numbers:
            conn.execute(insert(assignments).values(dataset=dataset, login=login, institution=n, grp=group.strip()))
        detail = "；".join(
            part
            for part in (
                f"角色 {'、'.join(ROLES[r] for r in new_roles)}" if new_roles else "",
                f"{group.strip()} 机构 {','.join(map(str, numbers))}" if numbers else "",
            )
            if part
        )
        _log(conn, dataset, by, "assign", f"{login} {detail or '无变化'}")
        if conn.dialect.name == "postgresql" and new_roles:
            pg_setup.sync_login(conn, login, sorted(person.roles | set(new_roles)))
    return _existing(store, dataset, login)


def revoke(
    store: Store, dataset: str, login: str, *, by: str, role_names: Iterable[str] = (), institutions: Iterable[int] = ()
) -> Person:
    """Withdraw roles and/or institutions; what the person did before stays recorded as it was."""
    person = _existing(store, dataset, login)
    gone = [r for r in check_roles(role_names) if r in person.roles]
    numbers = sorted(set(institutions) & set(person.institutions))
    from sqlalchemy import delete

    from . import pg_setup
    from .tables import assignments, roles

    with _writing(store) as conn:
        for role in gone:
            conn.execute(delete(roles).where(roles.c.dataset == dataset, roles.c.login == login, roles.c.role == role))
        if numbers:
            conn.execute(
                delete(assignments).where(
                    assignments.c.dataset == dataset,
                    assignments.c.login == login,
                    assignments.c.institution.in_(numbers),
                )
            )
        what = [f"角色 {'、'.join(ROLES[r] for r in gone)}"] if gone else []
        what += [f"机构 {','.join(map(str, numbers))}"] if numbers else []
        _log(conn, dataset, by, "revoke", f"{login} {'；'.join(what) or '无变化'}")
        if conn.dialect.name == "postgresql" and gone:
            pg_setup.revoke_roles(conn, login, gone)
    return _existing(store, dataset, login)


def load_file(store: Store, dataset: str, path: Path) -> list[Person]:
    """A shipped registry (synthetic datasets only): every person, role and assignment, all or nothing."""
    entries = _parse_file(path)
    from sqlalchemy import insert

    from .tables import assignments, people, roles

    with _writing(store) as conn:
        for e in entries:
            conn.execute(insert(people).values(dataset=dataset, login=e["login"], name=e["name"], demo=True))
            for role in e["roles"]:
                conn.execute(insert(roles).values(dataset=dataset, login=e["login"], role=role))
            for n in e["institutions"]:
                conn.execute(
                    insert(assignments).values(dataset=dataset, login=e["login"], institution=n, grp=e["group"])
                )
        _log(conn, dataset, DEMO_BY, "load", f"{display_path(path)}：{len(entries)} 人（演示数据）")
    return list(registry(store, dataset).values())


def bootstrap_demo(store: Store, dataset: str, folder: Path, synthetic: bool) -> bool:
    """First use of a synthetic dataset: load its shipped registry if the store has none yet."""
    path = folder / REGISTRY_FILE
    if not synthetic or not path.exists() or registered_any(store, dataset):
        return False
    from . import keyring  # first use only: a kernel's check above needs neither keys nor SQLAlchemy

    loaded = load_file(store, dataset, path)
    # Their demo keys too, registered now by whoever sets the demo up (on a shared server: the
    # administrator, who alone may add keys).
    keyring.ensure_demo(store, [person.login for person in loaded], beijing_today())
    return True


def _parse_file(path: Path) -> list[dict]:
    where = display_path(path)
    doc = load_yaml(path)
    if not isinstance(doc, dict) or doc.get("mark") != "演示数据" or not isinstance(doc.get("people"), list):
        raise InputError([Fault(where, "人员名单应含 mark: 演示数据 与 people 列表（只有演示数据集可附带人员名单）")])
    out, faults, seen = [], [], set()
    for i, e in enumerate(doc["people"], 1):
        at = f"{where} 第 {i} 人"
        if not isinstance(e, dict) or not isinstance(e.get("login"), str) or not isinstance(e.get("name"), str):
            faults.append(Fault(at, "应含 login 与 name"))
            continue
        if not LOGIN.fullmatch(e["login"]) or e["login"] in seen:
            faults.append(Fault(at, f"登录名“{e['login'][:40]}”无效或重复"))
        seen.add(e["login"])
        held = e.get("roles", [])
        if not isinstance(held, list) or any(r not in ROLES for r in held):
            faults.append(Fault(at, f"角色应为 {'、'.join(ROLES)} 中的若干项"))
            continue
        try:
            numbers = _numbers(str(e.get("institutions", "")))
        except ValueError:
            faults.append(Fault(at, "institutions 应为机构序号，如 1-15 或 3,5"))
            continue
        out.append({**e, "roles": held, "institutions": numbers, "group": str(e.get("group", ""))})
    if faults:
        raise InputError(faults)
    return out


def _numbers(text: str) -> list[int]:
    """``1-15`` or ``3,5,7`` (empty: none)."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.replace("，", ",").split(","))):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def parse_numbers(text: str) -> list[int]:
    """Institution numbers as the command line takes them; a bad one is one Chinese line."""
    try:
        return _numbers(text)
    except ValueError:
        raise InputError([Fault("--institutions", f"“{text[:40]}”应为机构序号，如 1-15 或 3,5")]) from None


def _existing(store: Store, dataset: str, login: str) -> Person:
    person = by_login(store, dataset, login)
    if person is None:
        raise StoreError(f"登录名 {login} 尚未登记（rubric-kernel people list 查看已登记人员）")
    return person


def _writing(store: Store):
    """A write transaction on the store's engine. SQLAlchemy and the tables are imported by the writers
    themselves: reading the registry (every command, every save) is plain SQL (``Store.query``)."""
    return store.engine.execution_options(rk_write=True).begin()


def _log(conn, dataset: str, by: str, action: str, detail: str) -> None:
    from sqlalchemy import insert

    from .tables import log

    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    conn.execute(insert(log).values(dataset=dataset, at=at, by_login=by, action=action, detail=detail))
