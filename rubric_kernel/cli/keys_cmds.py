"""keys new|register|revoke|list|export: each signer's Ed25519 key pair and the registry of public keys."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from pathlib import Path

from .. import keyring
from ..errors import Fault, InputError, display_path
from ..files import atomic_write
from ..signing import DEMO_MARK, SigningKey, beijing_today
from ..store import Store
from .common import add_data_options, iso_date, open_store, open_workspace
from .people_cmds import acting_admin


def register(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="签名密钥：生成、登记、吊销、列出、导出公钥")
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="操作")

    p = ksub.add_parser("new", help="生成本人的 Ed25519 密钥对，私钥用口令加密保存在本人配置目录")
    p.add_argument("--login", default=getpass.getuser(), help="本人登录名（默认取系统登录名）")
    p.add_argument("--force", action="store_true", help="已有私钥时换新（旧公钥请管理员吊销）")
    p.set_defaults(handler=cmd_new)

    p = ksub.add_parser("register", help="（管理员）登记某人的公钥")
    p.add_argument("login", help="公钥所属人的登录名")
    p.add_argument("pubfile", help="公钥文件（keys new 生成的 .pub.pem）")
    p.add_argument("--date", type=iso_date, help="生效日期（默认今天）")
    _store_options(p)
    p.set_defaults(handler=cmd_register)

    p = ksub.add_parser("revoke", help="（管理员）吊销某人的公钥：该日起的签名无效")
    p.add_argument("login", help="公钥所属人的登录名")
    p.add_argument("--date", type=iso_date, required=True, help="吊销生效日期")
    p.add_argument("--key", default="", help="只吊销指纹以此开头的公钥（默认吊销此人全部有效公钥）")
    _store_options(p)
    p.set_defaults(handler=cmd_revoke)

    p = ksub.add_parser("list", help="列出已登记的公钥")
    p.add_argument("--json", action="store_true", help="以 JSON 输出")
    _store_options(p, by=False)
    p.set_defaults(handler=cmd_list)

    p = ksub.add_parser("export", help="导出已登记的公钥，供无评分库时核对报告（verify --keys）")
    p.add_argument("--out", help="输出文件（默认打印到屏幕）")
    _store_options(p, by=False)
    p.set_defaults(handler=cmd_export)


def _store_options(p: argparse.ArgumentParser, by: bool = True) -> None:
    """``by``: an administrator's act, so the programme (dataset) whose registry names the actor is an option too."""
    if by:
        add_data_options(p)
    else:
        p.add_argument(
            "--db",
            help="评分库：SQLAlchemy URL 或 SQLite 文件路径（默认取 RUBRIC_KERNEL_DB 或 var/rubric-kernel.sqlite）",
        )


def passphrase(prompt: str, confirm: bool = False) -> str:
    """The private key's passphrase: RUBRIC_KERNEL_KEY_PASSPHRASE (scripts, tests) or asked on the terminal."""
    given = os.environ.get(keyring.PASSPHRASE_ENV)
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise InputError([Fault("口令", f"无法在非交互环境中询问口令：请设置环境变量 {keyring.PASSPHRASE_ENV}")])
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("再输入一次口令：") != first:
        raise InputError([Fault("口令", "两次输入的口令不一致，未生成密钥")])
    return first


def load_signing_key(login: str) -> SigningKey | None:
    """The signer's own key if one is in their config folder (asking its passphrase); None otherwise."""
    if not keyring.private_path(login).exists():
        return None
    return keyring.load_private(login, passphrase(f"{login} 的私钥口令："))


def cmd_new(args: argparse.Namespace) -> int:
    key, path = keyring.new_private(args.login, passphrase("为私钥设置口令：", confirm=True), force=args.force)
    print(f"已为 {args.login} 生成 Ed25519 密钥对，指纹 {key.fingerprint[:16]}…")
    print(f"私钥（口令加密，仅本人可读）：{display_path(path)}")
    print(f"公钥文件：{display_path(path.with_name(f'{args.login}.pub.pem'))}（交管理员用 keys register 登记）")
    print(keyring.public_pem(key.public), end="")
    return 0


def _today(args: argparse.Namespace) -> dt.date:
    return dt.date.fromisoformat(args.date) if args.date else beijing_today()


def cmd_register(args: argparse.Namespace) -> int:
    public = keyring.read_public(Path(args.pubfile))
    ws = open_workspace(args)
    with open_store(args, ws) as store:
        admin = acting_admin(store, ws.dataset.name, "登记签名公钥")
        record = keyring.register(store, args.login, public, effective=_today(args), actor=admin.login)
    print(f"已登记 {args.login} 的公钥 {record.label}，自 {record.registered.isoformat()} 起有效。")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    with open_store(args, ws) as store:
        admin = acting_admin(store, ws.dataset.name, "吊销签名公钥")
        revoked = keyring.revoke(store, args.login, effective=_today(args), actor=admin.login, key=args.key)
    for k in revoked:
        print(f"已吊销 {args.login} 的公钥 {k.label}：{args.date} 起以该密钥所作签名一律无效。")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with Store(args.db) as store:
        records = keyring.registered(store)
    if args.json:
        print(json.dumps(json.loads(keyring.export_keys(records))["keys"], ensure_ascii=False, indent=2))
        return 0
    if not records:
        print("尚未登记任何公钥。")
    for k in records:
        state = f"已于 {k.revoked.isoformat()} 吊销" if k.revoked else "有效"
        demo = f"  {DEMO_MARK}（公开种子生成，只能用于演示数据）" if k.demo else ""
        print(f"{k.login}  {k.algorithm}  {k.fingerprint[:16]}  登记于 {k.registered.isoformat()}  {state}{demo}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with Store(args.db) as store:
        text = keyring.export_keys(keyring.registered(store))
    if not args.out:
        print(text)
        return 0
    atomic_write(Path(args.out), text + "\n")
    print(f"已导出公钥到 {display_path(Path(args.out))}")
    return 0
