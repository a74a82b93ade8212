"""People and roles of a programme (``people``) and the PostgreSQL store's set-up (``db-setup``).

Changing the registry is the administrator's act: the acting person (``identity``) must hold the
管理员 role, except for the very first person of a programme with an empty registry on a local
file, who registers themselves as its administrator.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from .. import identity, people, server_setup
from ..authz import ROLES, Person, role_problem
from ..store import Store, StoreError
from .common import add_data_options, open_store, open_workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("people", help="评估项目的人员与角色（管理员）")
    actions = p.add_subparsers(dest="action", required=True, metavar="操作")
    roles = "、".join(f"{k}（{v}）" for k, v in ROLES.items())

    q = actions.add_parser("add", help="登记人员")
    q.add_argument("login", help="登录名（PostgreSQL 上即其数据库登录名）")
    q.add_argument("--name", required=True, help="姓名")
    q.add_argument("--role", action="append", required=True, help=f"角色，可多次使用：{roles}")
    q.set_defaults(handler=cmd_add)

    q = actions.add_parser("list", help="列出已登记人员")
    q.add_argument("--json", action="store_true", help="以 JSON 输出")
    q.set_defaults(handler=cmd_list)

    q = actions.add_parser("assign", help="增加角色或为评估专家分配机构")
    q.add_argument("login")
    q.add_argument("--role", action="append", default=[], help=f"增加的角色：{roles}")
    q.add_argument("--institutions", default="", help="分配的机构序号，如 1-15 或 3,5")
    q.add_argument("--group", default="", help="评估小组（分配机构时必填）")
    q.set_defaults(handler=cmd_assign)

    q = actions.add_parser("revoke", help="撤销角色或机构分配（此前的操作记录保留不变）")
    q.add_argument("login")
    q.add_argument("--role", action="append", default=[], help="撤销的角色")
    q.add_argument("--institutions", default="", help="撤销分配的机构序号")
    q.set_defaults(handler=cmd_revoke)

    q = actions.add_parser("log", help="人员与角色的变更记录")
    q.set_defaults(handler=cmd_log)
    for q in actions.choices.values():
        add_data_options(q)

    p = sub.add_parser(
        "db-setup", help="在 PostgreSQL 上建立评分库：所有者、角色组、授权与行级安全（数据库管理员运行）"
    )
    p.add_argument("admin_url", metavar="ADMIN_URL", help="数据库管理员的连接 URL")
    p.add_argument("--admin", required=True, help="本评估项目第一位管理员的登录名")
    p.add_argument("--admin-name", required=True, help="该管理员的姓名")
    p.add_argument(
        "--hub",
        action="store_true",
        help="同时建立评估服务器（JupyterHub）的数据库角色 rk_hub，口令由数据库管理员另行设置",
    )
    add_data_options(p, db=False)
    p.set_defaults(handler=cmd_db_setup)


def _administrator(store: Store, dataset: str, first_roles: list[str] | None = None) -> str:
    """The acting administrator's login; the first person of an empty local registry bootstraps it,
    and must be its administrator (``first_roles``: the roles that first person is given)."""
    if not people.registry(store, dataset) and store.backend == "sqlite":
        if first_roles is not None and "admin" not in first_roles:
            raise StoreError(f"评估项目 {dataset} 尚无人员：第一位登记的人员须为管理员（--role admin）")
        return identity.login(store)[0] or "未知"
    return acting_admin(store, dataset, "修改人员与角色").login


def acting_admin(store: Store, dataset: str, act: str) -> Person:
    """The acting person (identity), refused in one Chinese line unless they hold the 管理员 role."""
    person = identity.current(store, dataset)
    problem = role_problem(person, "admin", act=act)
    if problem:
        raise StoreError(f"操作被拒绝：{problem}")
    return person


def _row(p: Person) -> dict:
    return {
        "name": p.name,
        "login": p.login,
        "roles": [ROLES[r] for r in ROLES if r in p.roles],
        "institutions": sorted(p.institutions),
        "groups": sorted(set(p.institutions.values())),
        "demo": p.demo,
    }


def cmd_add(args) -> int:
    ws = open_workspace(args)
    with open_store(args, ws) as store:
        by = _administrator(store, ws.dataset.name, args.role)
        person = people.add(store, ws.dataset.name, args.login, args.name, args.role, by=by)
    print(f"已登记 {person.shown}：{'、'.join(_row(person)['roles'])}")
    return 0


def cmd_list(args) -> int:
    ws = open_workspace(args)
    with open_store(args, ws) as store:
        rows = [_row(p) for p in people.registry(store, ws.dataset.name).values()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    mark = f"（{ws.dataset.mark}）" if any(r["demo"] for r in rows) else ""
    print(f"评估项目 {ws.dataset.name} 已登记 {len(rows)} 人{mark}")
    for r in rows:
        numbers = _ranges(r["institutions"])
        where = f"  {'、'.join(r['groups'])} 机构 {numbers}" if numbers else ""
        print(f"  {r['login']:<18} {r['name']}  {'、'.join(r['roles'])}{where}")
    return 0


def cmd_assign(args) -> int:
    return _change(args, people.assign, role_names=args.role, group=args.group)


def cmd_revoke(args) -> int:
    return _change(args, people.revoke, role_names=args.role)


def _change(args, change: Callable[..., Person], **how) -> int:
    """``assign`` and ``revoke``: the administrator changes a person's roles or institutions; what the
    person holds afterwards is confirmed."""
    ws = open_workspace(args)
    with open_store(args, ws) as store:
        by = _administrator(store, ws.dataset.name)
        numbers = people.parse_numbers(args.institutions)
        person = change(store, ws.dataset.name, args.login, by=by, institutions=numbers, **how)
    roles = "、".join(_row(person)["roles"]) or "无角色"
    print(f"{person.shown}：{roles}；机构 {_ranges(sorted(person.institutions)) or '无'}")
    return 0


def cmd_log(args) -> int:
    ws = open_workspace(args)
    with open_store(args, ws) as store:
        for at, by, action, detail in people.changes(store, ws.dataset.name):
            print(f"{at}  {by}  {action}  {detail}")
    return 0


def cmd_db_setup(args) -> int:
    ws = open_workspace(args)
    where = server_setup.setup(args.admin_url, ws.dataset.name, args.admin, args.admin_name, hub=args.hub)
    print(f"已在 {where} 建立评分库与权限；管理员 {args.admin} 已登记。请为各人员配置数据库口令或认证方式。")
    return 0


def _ranges(numbers: list[int]) -> str:
    """1,2,3,5 -> 1-3,5"""
    out: list[str] = []
    for n in numbers:
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ",".join(out)
