"""backup, restore, check-store, init-store and upgrade-store: keeping the judgment store safe.

SQLite stores are copied with SQLite's online backup API and replaced atomically; for a PostgreSQL
server the commands print the pg_dump / pg_restore line to use (never a password), since the server's
own tools are the right ones there.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sqlite3
from pathlib import Path

from sqlalchemy import URL, make_url

from .. import migrate, sqlite_file
from ..bundled import RUBRIC_PATH
from ..errors import Fault, InputError, display_path
from ..rubric import load_rubric
from ..store import (
    META_TABLE,
    SCHEMA_VERSION,
    Store,
    StoreError,
    StoreMissing,
    layout_problem,
    resolve_url,
    sqlite_path,
)
from ..store_check import check

TABLES = ["rk_versions", "rk_events"]
KEEP_MAX = 10_000


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        help="评分库：SQLAlchemy URL 或 SQLite 文件路径（默认取 RUBRIC_KERNEL_DB 或 var/rubric-kernel.sqlite）",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="备份评分库（SQLite 在线备份；PostgreSQL 给出 pg_dump 命令）")
    p.add_argument("file", nargs="?", help="备份文件（默认：评分库所在目录下 backups/，文件名带时间）")
    p.add_argument("--keep", type=int, help="只保留最近 N 份默认备份，删除更早的（仅用于默认备份目录）")
    _db_option(p)
    p.set_defaults(handler=cmd_backup)

    p = sub.add_parser("restore", help="用备份文件恢复评分库（先检查备份，原评分库另存一份）")
    p.add_argument("file", help="备份文件")
    _db_option(p)
    p.set_defaults(handler=cmd_restore)

    p = sub.add_parser("check-store", help="检查评分库：完整性、版本与流程事件编号连续、签字有效")
    _db_option(p)
    p.set_defaults(handler=cmd_check_store)

    p = sub.add_parser("init-store", help="在 --db 指定的位置新建空评分库（已有文件或数据表时拒绝）")
    _db_option(p)
    p.set_defaults(handler=cmd_init_store)

    p = sub.add_parser("upgrade-store", help="把旧结构的评分库升级到本程序的结构（SQLite 先自动备份）")
    _db_option(p)
    p.add_argument("--rubric", help="评分库中评分所依据的指标体系文件（默认 parameters/rubric.yaml）")
    p.set_defaults(handler=cmd_upgrade_store)


def _server_url(url: str) -> str:
    """The libpq URL for pg_dump / psql: no SQLAlchemy driver suffix, no password."""
    u = make_url(url)
    clean = URL.create("postgresql", u.username, None, u.host, u.port, u.database, u.query)
    return clean.render_as_string(hide_password=False)


PASSWORD_NOTE = "密码请通过 PGPASSWORD 环境变量或 ~/.pgpass 提供，不要写在命令行中。"


def _check_file(path: Path, role: str) -> sqlite_file.Contents:
    """A file that must be an intact rubric-kernel store: full integrity check, tables, meta rows."""
    try:
        found = sqlite_file.read(path, META_TABLE, full=True)
    except sqlite_file.FileProblem as exc:
        raise StoreError(f"{role} {display_path(path)} {exc}") from None
    problem = layout_problem(found.tables, found.meta)
    if problem:
        raise StoreError(f"{role} {display_path(path)} {problem}")
    if int(found.meta["schema_version"]) > SCHEMA_VERSION:
        raise StoreError(
            f"{role} {display_path(path)} 的结构版本高于本程序支持的 {SCHEMA_VERSION}，请升级 rubric-kernel"
        )
    return found


def _counts(path: Path) -> str:
    n = sqlite_file.row_counts(path, TABLES)
    return f"{n['rk_versions']} 个评分版本，{n['rk_events']} 个流程事件"


def cmd_backup(args: argparse.Namespace) -> int:
    if args.keep is not None and (args.file or not 1 <= args.keep <= KEEP_MAX):
        raise InputError(
            [Fault("--keep", f"应为 1 到 {KEEP_MAX} 的整数，且只用于默认备份目录（不能与备份文件名同用）")]
        )
    with Store(
        args.db, new=False, schema="any"
    ) as store:  # refuses a missing or damaged store; an outdated one is backed up before its upgrade
        pass
    if store.file is None:
        name = f"rubric-kernel-{sqlite_file.stamp()}.dump"
        print("PostgreSQL 评分库请用服务器自带的 pg_dump 备份（本命令未执行备份）：")
        print(f"  pg_dump --format=custom --file={name} {shlex.quote(_server_url(store.url))}")
        print(PASSWORD_NOTE)
        return 0
    source = store.file
    folder = source.parent / "backups"
    dest = Path(args.file) if args.file else folder / f"{source.stem}-{sqlite_file.stamp()}.sqlite"
    try:
        sqlite_file.create_exclusive(dest, lambda tmp: sqlite_file.copy_into(source, tmp))
    except FileExistsError:
        raise StoreError(f"备份文件 {display_path(dest)} 已存在：不会覆盖已有文件，请换一个文件名") from None
    except (OSError, sqlite3.Error) as exc:
        reason = sqlite_file.short(getattr(exc, "strerror", None) or exc)
        raise StoreError(f"无法写入备份文件 {display_path(dest)}（{reason}）；请检查目录权限与磁盘空间") from None
    _check_file(dest, "刚写入的备份文件")
    print(f"已备份评分库 {store.where} 到 {display_path(dest)}（{_counts(dest)}，完整性检查通过）")
    if args.keep is not None:
        _prune(folder, source.stem, args.keep)
    return 0


def _prune(folder: Path, stem: str, keep: int) -> None:
    """Delete the oldest default-named backups beyond ``keep``; other files in the folder are never touched."""
    pattern = re.compile(re.escape(stem) + r"-\d{8}-\d{6}\.sqlite")
    ours = sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name))  # the name sorts by time
    for old in ours[:-keep]:
        old.unlink()
        print(f"已删除较早的备份 {display_path(old)}")


def cmd_restore(args: argparse.Namespace) -> int:
    backup = Path(args.file)
    url = resolve_url(args.db)
    target = sqlite_path(url)
    if target is None:
        server = shlex.quote(_server_url(url))
        print("PostgreSQL 评分库请用服务器自带的工具恢复（本命令未执行恢复）：")
        print(f"  pg_restore --clean --if-exists --no-owner --dbname={server} {shlex.quote(str(backup))}")
        print(f"  （若备份是 SQL 文本：psql {server} --single-transaction --file={shlex.quote(str(backup))}）")
        print(PASSWORD_NOTE)
        return 0
    if not backup.is_file():
        raise InputError([Fault(display_path(backup), "备份文件不存在")])
    if target.exists() and target.resolve() == backup.resolve():
        raise InputError([Fault(display_path(backup), "备份文件就是当前评分库本身，无需恢复")])
    _check_file(backup, "备份文件")
    keep = target.with_name(f"{target.name}.{sqlite_file.stamp()}.before-restore")
    if keep.exists():
        raise StoreError(f"{display_path(keep)} 已存在，请稍后（一秒后）再试")
    had_store = target.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        sqlite_file.replace(target, backup, keep)
    except (OSError, sqlite3.Error) as exc:
        reason = sqlite_file.short(getattr(exc, "strerror", None) or exc)
        kept = f"；原评分库已另存为 {display_path(keep)}" if keep.exists() else ""
        raise StoreError(
            f"恢复评分库 {display_path(target)} 失败（{reason}）{kept}。请检查目录权限与磁盘空间后重试"
        ) from None
    _check_file(target, "恢复后的评分库")
    print(f"已用备份 {display_path(backup)} 恢复评分库 {display_path(target)}（{_counts(target)}，完整性检查通过）")
    if had_store:
        print(f"原评分库已另存为 {display_path(keep)}，确认无误后可删除")
    return 0


def cmd_check_store(args: argparse.Namespace) -> int:
    path = sqlite_path(resolve_url(args.db))
    faults: list[str] = []
    if path is not None:
        if not path.exists():
            raise StoreMissing(f"评分库 {display_path(path)} 不存在")
        print(f"检查评分库 {display_path(path)}：")
        try:
            _check_file(path, "评分库")
            print("  完整性检查（PRAGMA integrity_check）：通过")
        except StoreError as exc:
            faults.append(str(exc))
    if not faults:
        with Store(args.db, new=False) as store:
            if path is None:
                print(f"检查评分库 {store.where}：")
                print("  数据页完整性由 PostgreSQL 服务器负责；数据表与结构版本：齐全")
            report = check(store, synthetic=_demo_datasets())
        faults = report.faults
        print(f"  评分版本 {report.versions} 个，流程事件 {report.events} 个，其中签字 {report.signatures} 个")
    for fault in faults:
        print(f"  问题：{fault}")
    if faults:
        print(f"结论：发现 {len(faults)} 处问题。请用最近的完好备份恢复：rubric-kernel restore 备份文件")
        return 1
    print("结论：未发现问题（版本与流程事件编号连续，签字与评分表历史状态一致，签名均可用登记的公钥验证）。")
    return 0


def _demo_datasets() -> set[str]:
    """The bundled demo dataset's name: the one dataset whose signatures may use demo keys."""
    from ..bundled import DEMO_DATA
    from ..evidence import dataset_identity

    name, synthetic = dataset_identity(DEMO_DATA)
    return {name} if synthetic else set()


def cmd_init_store(args: argparse.Namespace) -> int:
    with Store(args.db, new=True) as store:
        pass
    print(f"已新建评分库 {store.where}（结构版本 {SCHEMA_VERSION}）。")
    print("首次用于某个数据集时，会导入该数据集 judgments/ 中的评分文件。")
    return 0


def cmd_upgrade_store(args: argparse.Namespace) -> int:
    """Run the pending migrations in one transaction; a SQLite store is backed up first."""
    rubric = load_rubric(args.rubric or RUBRIC_PATH)  # checked before anything is copied or changed
    store = Store(args.db, new=False, schema="any")
    try:
        before = store.revision()
    finally:
        store.close()
    head = migrate.head()
    if before == head:
        print(f"评分库 {store.where} 已是最新结构（{head}），无需升级。")
        return 0
    if store.file is not None:
        dest = store.file.parent / "backups" / f"{store.file.stem}-{sqlite_file.stamp()}-before-upgrade.sqlite"
        try:
            sqlite_file.create_exclusive(dest, lambda tmp: sqlite_file.copy_into(store.file, tmp))
        except (OSError, sqlite3.Error) as exc:
            reason = sqlite_file.short(getattr(exc, "strerror", None) or exc)
            raise StoreError(f"升级前无法备份评分库到 {display_path(dest)}（{reason}）；未做任何升级") from None
        print(f"升级前已备份评分库到 {display_path(dest)}")
    Store(args.db, new=False, schema="upgrade", rubric=rubric).close()
    print(f"已将评分库 {store.where} 的结构从 {before} 升级到 {head}（全部在一个事务中完成，原有记录均保留）。")
    return 0
