"""The judgment store: every save is a new version; the current sheet is derived, never overwritten.

A real database: a SQLite file by default, any SQLAlchemy URL (PostgreSQL) for a shared server.
Writes, migrations and servers go through SQLAlchemy Core (``tables``); a SQLite file's reads are
plain SQL through the standard library (``sqlite_reads``), so commands that only read never import
SQLAlchemy. Every read is written once, below, as SQL both databases run.

Concurrency is optimistic and portable: each key's versions are numbered, a save names the number
it was based on, and a unique constraint on (…, key, seq) makes the database itself refuse a save
made against a stale version — no lock, no lost update.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import engines, migrate, sqlite_file
from .authz import revoked_message
from .bundled import default_db_path
from .errors import StoreError, display_path
from .input_cache import digest_key
from .records import Event, RubricRef, Version
from .rubric import Rubric
from .sheet import Sheet
from .sheet_codec import canonical, entries_to_sheet, orphans
from .sqlite_reads import SqliteReads

if TYPE_CHECKING:
    from sqlalchemy import Engine

SCHEMA_VERSION = 3  # 1: versions, events, meta; 2: the rubric of each (Alembic from here on); 3: keys are stable ids
GROUP_SHEET = "group"
PLAIN_SQLITE = "sqlite:///"
SchemaMode = Literal["current", "upgrade", "any"]


META_TABLE = "rk_meta"
CORE_TABLES = (META_TABLE, "rk_versions", "rk_events")  # every schema has these; later ones come with upgrades


class StoreDamaged(StoreError):
    """The store exists but is not usable as one (empty, foreign, corrupted): never reinitialised."""

    def __init__(self, where: str, what: str, hint: str = ""):
        self.where, self.what = where, what
        super().__init__(
            f"评分库 {where} {what}。未写入任何内容，也不会把它当作新库重建。"
            f"请用备份恢复：rubric-kernel restore 备份文件{hint}（先用 rubric-kernel check-store{hint} 查看详情）；"
            f"确需从头开始时，先移走该文件，再运行 rubric-kernel init-store{hint}"
        )


class StoreMissing(StoreError):
    """No store where one must already exist (check-store, backup)."""


class StoreExists(StoreError):
    """Something already exists where a new store is asked for (init-store)."""


class StoreOutdated(StoreError):
    """A store of an older schema: opened only after ``rubric-kernel upgrade-store`` (which backs it up first)."""


class OrphanedIds(StoreError):
    """Stored judgments name ids the loaded rubric does not have: nothing is read or written under it."""

    def __init__(self, dataset: str, ids: list[str], where: str = ""):
        self.ids = ids
        listed = "、".join(ids[:20]) + (f" 等（共 {len(ids)} 项）" if len(ids) > 20 else "")
        super().__init__(
            f"评分库{f' {where} ' if where else ''}中数据集 {dataset} 的评分使用了当前指标体系中没有的标识：{listed}。"
            "未读取也未写入任何评分；如指标体系更改了标识，请在 parameters/id-map.yaml 中写明旧标识对应的新标识，"
            "再运行 rubric-kernel remap-ids"
        )


class StaleSave(StoreError):
    def __init__(self, conflicts: list[Version]):
        self.conflicts = conflicts
        parts = [
            f"{v.key} 已由 {v.expert} 于 {v.created_at} 修改为版本 {v.seq}（{v.reason or '无说明'}）" for v in conflicts
        ]
        super().__init__("保存被拒绝：您编辑期间评分已被他人修改，请刷新后重试。" + "；".join(parts))


@dataclass(frozen=True, slots=True)
class SaveRequest:
    """One sheet's changed keys, as ``Store.save`` takes them; ``save_many`` writes several at once."""

    dataset: str
    institution: int
    changes: Mapping[str, dict | None]
    base: Mapping[str, int]
    expert: str
    stage: str
    reason: str = ""
    sheet: str = GROUP_SHEET
    rubric: RubricRef | None = None
    login: str | None = None  # the acting person's login; ``expert`` is the author it is recorded under


@dataclass(frozen=True)
class Snapshot:
    """The current version of every key of one sheet; ``base`` is what a later save is checked against."""

    entries: Mapping[str, Version]
    _decoded: tuple[Rubric, Sheet] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def base(self) -> dict[str, int]:
        return {k: v.seq for k, v in self.entries.items()}

    @property
    def live(self) -> dict[str, dict]:
        return {k: v.content for k, v in self.entries.items() if v.content is not None}

    def sheet(self, rubric: Rubric) -> Sheet:
        """The judgments as a sheet of this rubric (decoded once: a report reads it several times)."""
        if self._decoded is None or self._decoded[0] is not rubric:
            dataset = next(iter(self.entries.values())).dataset if self.entries else ""
            object.__setattr__(self, "_decoded", (rubric, _sheet(dataset, self.live, rubric)))
        return self._decoded[1]  # type: ignore[index]


def _sheet(dataset: str, live: Mapping[str, dict], rubric: Rubric) -> Sheet:
    """The live entries of one sheet as a sheet of this rubric; ids the rubric lacks are refused.

    ``entries_to_sheet`` looks for them itself: they are named only when it refuses."""
    try:
        return entries_to_sheet(live, rubric)
    except ValueError:
        lost = orphans(rubric, live)
        if lost:
            raise OrphanedIds(dataset, lost) from None
        raise


def resolve_url(db: str | None = None) -> str:
    """--db, else RUBRIC_KERNEL_DB, else the working folder's ``var/rubric-kernel.sqlite``; a plain path means a SQLite file.

    A bare ``postgresql://`` URL uses the psycopg 3 driver this package installs.
    """
    db = db or os.environ.get("RUBRIC_KERNEL_DB")
    if not db:
        return f"sqlite:///{default_db_path()}"
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db if "://" in db else f"sqlite:///{Path(db).resolve()}"


def _sqlite_pragmas(engine: Engine) -> None:
    """pysqlite's own transaction handling defers BEGIN; take it over so reads in a save are consistent."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # pragma: no cover - driver callback
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # pragma: no cover - driver callback
        # Writers take the lock up front (no upgrade deadlock between two savers); readers don't block them.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("rk_write") else "BEGIN")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store URL; None for a server or an in-memory database.

    The plain ``sqlite:///path`` every default and ``--db path`` gives is read here without SQLAlchemy."""
    if not url.startswith("sqlite"):
        return None
    if url.startswith(PLAIN_SQLITE) and "?" not in url:
        name = url[len(PLAIN_SQLITE) :]
        return Path(name) if name not in ("", ":memory:") else None
    from sqlalchemy import make_url

    u = make_url(url)
    return Path(u.database) if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:") else None


def _plain_file(url: str) -> bool:
    """Whether the standard library's sqlite3 opens this URL's file exactly as the engine would."""
    return url.startswith(PLAIN_SQLITE) and "?" not in url and sqlite_path(url) is not None


def _server_where(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def layout_problem(tables: Iterable[str], meta: Mapping[str, str]) -> str | None:
    """Why a database holding these tables and meta rows is not a usable rubric-kernel store (None: it is)."""
    ours = set(CORE_TABLES)
    present = ours & set(tables)
    if not present:
        return "不是 rubric-kernel 评分库（其中没有评分数据表）"
    if present != ours or "schema_version" not in meta:
        missing = sorted(ours - present) + ([] if "schema_version" in meta else ["结构版本记录"])
        return f"不完整，缺少 {'、'.join(missing)}，可能已损坏"
    if not meta["schema_version"].isdigit():
        return f"的结构版本记录“{meta['schema_version'][:20]}”无效，可能已损坏"
    return None


def _check_version(meta: Mapping[str, str]) -> None:
    if int(meta["schema_version"]) > SCHEMA_VERSION:
        raise StoreError(
            f"评分库的结构版本 {meta['schema_version']} 高于本程序支持的 {SCHEMA_VERSION}，请升级 rubric-kernel"
        )


def _revoked(engine: Engine) -> tuple[str, str, str] | None:
    """(login, when, by whom) if this PostgreSQL login lost its last role: a refusal should say so."""
    from . import pg_setup

    try:
        with engine.connect() as conn:
            return pg_setup.revoked(conn)
    except Exception:  # only a better message is at stake; the original error is raised anyway
        return None


def _refusal(exc: BaseException, sqlite: bool, where: str, hint: str) -> StoreError:
    """A database failure as a StoreError whose Chinese message names the store."""
    reason = sqlite_file.short(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if sqlite and any(s in str(exc) for s in ("malformed", "not a database", "disk I/O", "Could not decode")):
        return StoreDamaged(where, f"已损坏，读取时出错（{reason}）", hint)
    if "locked" in str(exc) or "busy" in str(exc):
        return StoreError(f"评分库 {where} 正被其他程序长时间占用（已等待 30 秒），请稍后重试")
    return StoreError(f"无法访问评分库 {where}（{reason}）。请检查文件权限、磁盘空间，或数据库服务器是否可用")


def _translate_errors(engine: Engine, where: str, hint: str) -> None:
    """Database failures become StoreErrors with a Chinese message naming the store; a unique-constraint
    refusal (a stale save) is left to the code that expects it."""
    from sqlalchemy import event
    from sqlalchemy.exc import DBAPIError, IntegrityError

    @event.listens_for(engine, "handle_error")
    def _handle(ctx):  # pragma: no cover - driver callback
        exc = ctx.original_exception
        if isinstance(ctx.sqlalchemy_exception, IntegrityError) or not isinstance(ctx.sqlalchemy_exception, DBAPIError):
            return
        if engine.dialect.name == "postgresql" and "permission denied" in str(exc):
            gone = _revoked(engine)
            if gone:
                raise StoreError(revoked_message(*gone))
        raise _refusal(exc, engine.dialect.name == "sqlite", where, hint)


class Store:
    """Every access to judgments goes through here."""

    def __init__(
        self,
        url: str | None = None,
        *,
        new: bool | None = None,
        schema: SchemaMode = "current",
        rubric: Rubric | None = None,
        vouched: bool = False,
    ):
        """``new``: None opens the store, creating it only where nothing exists yet (first use); True
        creates one and refuses if anything exists (init-store); False opens only an existing store.

        An existing file that is not an intact rubric-kernel store (empty, foreign, damaged) is refused,
        never treated as new. ``schema``: "current" refuses a store of an older schema (StoreOutdated),
        "upgrade" runs its pending migrations, "any" opens it as it is (backup, upgrade-store's own checks).
        Upgrading is a deliberate step (``upgrade-store``, after a backup), not a side effect of opening:
        older programs can no longer open the store afterwards. ``rubric``: the one the stored judgments
        were made under, which an upgrade's data migrations map them with. ``vouched``: the batch that
        started this process checked the SQLite file's integrity moments ago (``open_assessment``):
        its kernels skip SQLite's quick check, which read the whole file again in every one of them.
        """
        self.url = resolve_url(url)
        self.file = sqlite_path(self.url)
        self.where = display_path(self.file) if self.file else _server_where(self.url)
        self.hint = f" --db {self.where}" if url or os.environ.get("RUBRIC_KERNEL_DB") else ""
        if self.file is not None:
            self._open_file(new, check=not vouched)
        self._engine: Engine | None = None  # built on first need: a read-only command may never need it
        self._closed = False
        self._reads = (
            SqliteReads(self.file, lambda exc: _refusal(exc, True, self.where, self.hint))
            if _plain_file(self.url)
            else None
        )
        if self.file is None:
            try:
                self._migrate(new)
            except BaseException:
                self.close()  # a refused store keeps no engine
                raise
        if schema != "any":
            try:
                self._check_revision(upgrade=schema == "upgrade", rubric=rubric)
            except StoreError:
                self.close()
                raise

    @property
    def engine(self) -> Engine:
        """The process's SQLAlchemy engine for this store (``engines``): writes, migrations, servers."""
        if self._engine is None:
            if self._closed:
                raise StoreError(f"评分库 {self.where} 已关闭")
            self._engine = engines.acquire(self.url, self._configure)
        return self._engine

    def file_identity(self) -> tuple[str, int, int] | None:
        """A SQLite store's file as (path, device, inode): a restore replaces the file, so what was
        derived from one file's versions (``state_token``) is not carried over to another. None for a
        server's store, written to from elsewhere, or a missing file."""
        if self.file is None:
            return None
        try:
            st = self.file.stat()
        except OSError:
            return None
        return str(self.file.resolve()), st.st_dev, st.st_ino

    @property
    def backend(self) -> str:
        """The database's kind ("sqlite", "postgresql"), as SQLAlchemy names it, from the URL alone."""
        return self.url.split(":", 1)[0].split("+", 1)[0]

    @property
    def _writer(self) -> Engine:
        """The engine for transactions that insert (SQLite takes its write lock at BEGIN)."""
        return self.engine.execution_options(rk_write=True)

    def query(self, sql: str, **params: Any) -> list[tuple]:
        """Plain SQL (``:name`` parameters) read through sqlite3 for a file, the engine otherwise."""
        return self._read(sql, params, by_name=False)

    def query_dicts(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """As ``query``, each row a dict by column name."""
        return self._read(sql, params, by_name=True)

    def _read(self, sql: str, params: dict[str, Any], by_name: bool) -> list:
        if self._reads is not None:
            return self._reads.read(sql, params, by_name)
        from sqlalchemy import text

        with self.engine.connect() as conn:
            result = conn.execute(text(sql), params)
            return [dict(r) for r in result.mappings()] if by_name else [tuple(r) for r in result]

    def _configure(self, engine: Engine) -> None:
        """Once per engine: database errors in Chinese; SQLite's transactions taken over."""
        _translate_errors(engine, self.where, self.hint)
        if engine.dialect.name == "sqlite":
            _sqlite_pragmas(engine)

    def _open_file(self, new: bool | None, check: bool = True) -> None:
        """A SQLite file: created complete under its name if missing, else checked before any connection."""
        assert self.file is not None
        if not self.file.exists():
            if new is False:
                raise StoreMissing(f"评分库 {self.where} 不存在")
            from sqlalchemy.exc import DBAPIError  # a new store is made by its migrations (``_fill_new``)

            try:
                sqlite_file.create_exclusive(self.file, _fill_new)
                return
            except FileExistsError:  # another process created it meanwhile: check it like any existing file
                pass
            except (OSError, DBAPIError) as exc:
                reason = sqlite_file.short(getattr(exc, "strerror", None) or getattr(exc, "orig", None) or exc)
                raise StoreError(f"无法新建评分库 {self.where}（{reason}）。请检查目录权限与磁盘空间") from None
        if new:
            raise StoreExists(f"{self.where} 已存在：init-store 只在空位置新建评分库，不会覆盖已有文件")
        try:
            found = sqlite_file.read(self.file, META_TABLE, check=check)
        except sqlite_file.FileProblem as exc:
            raise StoreDamaged(self.where, str(exc), self.hint) from None
        problem = layout_problem(found.tables, found.meta)
        if problem:
            raise StoreDamaged(self.where, problem, self.hint)
        _check_version(found.meta)

    def _migrate(self, new: bool | None) -> None:
        """A server database: create the tables only if none of ours exist; refuse a partial or newer one."""
        from sqlalchemy import inspect, select

        from .tables import meta_table, metadata

        with self.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            meta = dict(conn.execute(select(meta_table.c.key, meta_table.c.value)).all()) if "rk_meta" in tables else {}
        ours = {t.name for t in metadata.sorted_tables}
        if not ours & tables:
            if new is False:
                raise StoreMissing(
                    f"评分库 {self.where} 中还没有评分数据表：请先运行 rubric-kernel init-store{self.hint}"
                )
            with self._writer.begin() as conn:  # one transaction: tables and meta appear together
                migrate.upgrade(conn)
            return
        if new:
            raise StoreExists(f"评分库 {self.where} 中已有评分数据表：init-store 不会覆盖已有评分库")
        problem = layout_problem(tables, meta)
        if problem:
            raise StoreDamaged(self.where, problem, self.hint)
        _check_version(meta)

    def _check_revision(self, upgrade: bool, rubric: Rubric | None = None) -> None:
        revision = self.revision()
        head = migrate.head()
        if revision == head:
            return
        if revision is None or not migrate.known(revision):
            raise StoreError(f"评分库 {self.where} 的结构版本（{revision}）不是本程序所知的版本，请升级 rubric-kernel")
        if not upgrade:
            raise StoreOutdated(
                f"评分库 {self.where} 的结构较旧（{revision}，本程序需要 {head}）：请先运行 "
                f"rubric-kernel upgrade-store{self.hint}（升级前自动备份 SQLite 评分库；升级后旧版程序不能再打开它）"
            )
        try:
            with self._writer.begin() as conn:  # one transaction: the whole upgrade, or nothing
                migrate.upgrade(conn, rubric=rubric)
        except migrate.MigrationRefused as exc:
            raise StoreError(f"评分库 {self.where} 未升级：{exc}") from None

    def revision(self) -> str | None:
        """The store's Alembic revision (``migrate.current``): a SQLite file's without SQLAlchemy."""
        if self._reads is None:
            with self.engine.connect() as conn:
                return migrate.current(conn)
        tables = {r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return migrate.revision_from(tables, lambda: self.query(f"SELECT version_num FROM {migrate.VERSION_TABLE}"))

    def meta(self) -> dict[str, str]:
        return dict(self.query(f"SELECT key, value FROM {META_TABLE}"))

    def record(self, key: str, value: str) -> None:
        """Add a meta fact once; the first writer wins (a fact, like a version, is never rewritten)."""
        from sqlalchemy import insert
        from sqlalchemy.exc import IntegrityError

        from .tables import meta_table

        try:
            with self._writer.begin() as conn:
                conn.execute(insert(meta_table).values(key=key, value=value))
        except IntegrityError:
            pass

    def close(self) -> None:
        """Done with the store; the process's engine for its URL is disposed with its last user."""
        if not self._closed:
            self._closed = True
            if self._reads is not None:
                self._reads.close()
            if self._engine is not None:
                engines.release(self.url)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def display(self) -> str:
        return self.url if self._reads is not None else _server_where(self.url)

    # reading ----------------------------------------------------------------------------------
    def snapshot(self, dataset: str, institution: int, sheet: str = GROUP_SHEET) -> Snapshot:
        return self.snapshots(dataset, sheet, institution).get(institution, Snapshot({}))

    def current_sheets(self, dataset: str, rubric: Rubric, institutions: Iterable[int]) -> dict[int, Sheet]:
        """Each institution's current group sheet (empty when none is stored), as ``snapshots`` would
        give it, from three columns: the cohort reads only the sheets, not the versions' bookkeeping,
        and building 4,000 versions cost it three times the query."""
        live = self.live_contents(dataset)
        return {n: _sheet(dataset, live.get(n, {}), rubric) for n in institutions}

    def live_contents(self, dataset: str) -> dict[int, dict[str, dict]]:
        """Each institution's ``Snapshot.live`` of its group sheet (key → content, withdrawn keys left
        out, keys in order), without building the versions: what fingerprints and the cohort read."""
        sql = _current("v.id, v.institution, v.key, v.content", sheet=True) + " AND v.content IS NOT NULL"
        live: dict[int, dict[str, dict]] = {}
        for row_id, n, key, content in self.query(sql, dataset=dataset, sheet=GROUP_SHEET):
            live.setdefault(n, {})[key] = _json(content, "版本记录", row_id)
        return {n: dict(sorted(entries.items())) for n, entries in sorted(live.items())}

    def snapshots(self, dataset: str, sheet: str = GROUP_SHEET, institution: int | None = None) -> dict[int, Snapshot]:
        """Current versions of every institution's sheet in one query (the cohort needs all 75)."""
        sql = _current("v.*", sheet=True, institution=institution is not None)
        rows = self.query_dicts(sql, dataset=dataset, sheet=sheet, institution=institution)
        grouped: dict[int, dict[str, Version]] = {}
        for r in sorted(rows, key=lambda r: (r["institution"], r["key"])):
            grouped.setdefault(r["institution"], {})[r["key"]] = _version(r)
        return {n: Snapshot(entries) for n, entries in grouped.items()}

    def current_versions(self, dataset: str) -> list[Version]:
        """The current version of every key of every sheet of a dataset (withdrawals included), in one query."""
        return [_version(r) for r in self.query_dicts(_current("v.*") + " ORDER BY v.id", dataset=dataset)]

    def current_contents(self, dataset: str) -> Iterator[tuple[str, object]]:
        """(key, decoded content) of every current, not withdrawn, version of a dataset, in id order.

        What the orphan check reads on every command: two columns instead of whole versions.
        """
        sql = _current("v.id, v.key, v.content") + " AND v.content IS NOT NULL ORDER BY v.id"
        for row_id, key, content in self.query(sql, dataset=dataset):
            yield key, _json(content, "版本记录", row_id)

    def state_token(self, dataset: str) -> tuple[int, int]:
        """(number of versions, newest id): changes with every save, since nothing is ever updated."""
        [(count, newest)] = self.query("SELECT count(id), max(id) FROM rk_versions WHERE dataset = :d", d=dataset)
        return count, newest or 0

    def derived_key(self, dataset: str, *parts: object) -> str | None:
        """A ``var/cache`` key for a value derived from this SQLite store's versions of ``dataset`` and
        ``parts``: the file (a restore replaces it) and the versions' state (append-only: their count and
        newest id change with every save), read now, before the value is. None, keep nothing, for a
        server's store, written to from elsewhere, or when a part is unknown ("")."""
        where = self.file_identity()
        if where is None or not all(parts):
            return None
        return digest_key(*where, dataset, *self.state_token(dataset), *parts)

    def history_marks(self, dataset: str, sheet: str = GROUP_SHEET) -> dict[int, tuple[int, int]]:
        """Each institution's (number of versions, newest id) of one sheet, as ``state_token`` for the whole
        dataset: changes with every save to it, also one that restores content withdrawn earlier."""
        sql = (
            "SELECT institution, count(id), max(id) FROM rk_versions WHERE dataset = :d AND sheet = :s "
            "GROUP BY institution"
        )
        return {n: (count, newest) for n, count, newest in self.query(sql, d=dataset, s=sheet)}

    def history(
        self, dataset: str, institution: int, key: str | None = None, sheet: str = GROUP_SHEET
    ) -> list[Version]:
        sql = "SELECT * FROM rk_versions WHERE dataset = :d AND institution = :n AND sheet = :s"
        if key is not None:
            sql += " AND key = :k"
        return [_version(r) for r in self.query_dicts(sql + " ORDER BY id", d=dataset, n=institution, s=sheet, k=key)]

    def institutions(self, dataset: str) -> set[int]:
        return {r[0] for r in self.query("SELECT DISTINCT institution FROM rk_versions WHERE dataset = :d", d=dataset)}

    def sheets(self, dataset: str, institution: int) -> list[str]:
        sql = "SELECT DISTINCT sheet FROM rk_versions WHERE dataset = :d AND institution = :n"
        return sorted(r[0] for r in self.query(sql, d=dataset, n=institution))

    # writing ----------------------------------------------------------------------------------
    def save(
        self,
        dataset: str,
        institution: int,
        changes: Mapping[str, dict | None],
        base: Mapping[str, int],
        *,
        expert: str,
        stage: str,
        reason: str = "",
        sheet: str = GROUP_SHEET,
        rubric: RubricRef | None = None,
        login: str | None = None,
        now: dt.datetime | None = None,
    ) -> list[Version]:
        """Write a new version of every changed key, all or nothing.

        ``base`` maps each key to the version number the editor saw (absent: the key did not exist).
        Keys whose content equals the current one are skipped, so saving twice writes nothing new.
        """
        request = SaveRequest(dataset, institution, changes, base, expert, stage, reason, sheet, rubric, login)
        return self.save_many([request], now=now)[0]

    def save_many(self, requests: Sequence[SaveRequest], now: dt.datetime | None = None) -> list[list[Version]]:
        """Several sheets' saves in one transaction (an import of many files): all are written or none."""
        from sqlalchemy.exc import IntegrityError

        if any(not r.expert.strip() for r in requests):
            raise StoreError("保存被拒绝：必须填写评估专家姓名")
        stamp = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
        currents = [self.snapshot(r.dataset, r.institution, r.sheet).entries for r in requests]
        stale = [c[k] for r, c in zip(requests, currents, strict=True) for k in r.changes if _stale(c, r.base, k)]
        if stale:
            raise StaleSave(stale)
        written: list[list[Version]] = []
        try:
            with self._writer.begin() as conn:
                for request, current in zip(requests, currents, strict=True):
                    written.append(_insert_versions(conn, request, current, stamp))
        except IntegrityError:
            fresh = [self.snapshot(r.dataset, r.institution, r.sheet).entries for r in requests]
            raise StaleSave(
                [c[k] for r, c in zip(requests, fresh, strict=True) for k in r.changes if _stale(c, r.base, k)]
            ) from None
        return written

    def add_event(
        self,
        dataset: str,
        institution: int,
        kind: str,
        *,
        actor: str,
        payload: dict | None = None,
        note: str = "",
        after: int | None = None,
        rubric: RubricRef | None = None,
        login: str | None = None,
        now: dt.datetime | None = None,
    ) -> Event:
        """Append a workflow event. ``after``: the last event seq the caller's decision was based on; if
        another event was recorded since, the database refuses the insert and nothing is written."""
        from sqlalchemy import func, insert, select
        from sqlalchemy.exc import IntegrityError

        from .tables import events

        if not actor.strip():
            raise StoreError("操作被拒绝：必须填写操作人")
        scope = (events.c.dataset == dataset) & (events.c.institution == institution)
        values = dict(
            dataset=dataset,
            institution=institution,
            kind=kind,
            actor=actor,
            created_at=(now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
            payload=canonical(payload or {}),
            note=note,
            login=login,
            **_rubric_columns(rubric),
        )
        for _attempt in range(5):  # an unconditional append retries when a concurrent one took its number
            try:
                with self._writer.begin() as conn:
                    seq = after
                    if seq is None:
                        seq = conn.execute(select(func.coalesce(func.max(events.c.seq), 0)).where(scope)).scalar_one()
                    values["seq"] = seq + 1
                    new_id = conn.execute(insert(events).values(**values)).inserted_primary_key[0]
                return _event({**values, "id": new_id})
            except IntegrityError:
                if after is not None:
                    break
        raise StoreError("操作被拒绝：机构流程状态已被他人更新，请刷新后重试")

    def events(self, dataset: str, institution: int | None = None) -> list[Event]:
        sql = "SELECT * FROM rk_events WHERE dataset = :d"
        if institution is not None:
            sql += " AND institution = :n"
        return [_event(r) for r in self.query_dicts(sql + " ORDER BY id", d=dataset, n=institution)]


def _current(columns: str, *, sheet: bool = False, institution: bool = False) -> str:
    """SQL for ``columns`` (of ``v``) of the current version of every (institution, sheet, key) of the
    dataset ``:dataset``, optionally of the sheet ``:sheet`` and the institution ``:institution`` only:
    the one definition of "current" every reader shares. It ends in its WHERE clause, to be extended."""
    names = ["dataset"] + ["sheet"] * sheet + ["institution"] * institution

    def scope(prefix: str) -> str:
        return " AND ".join(f"{prefix}{name} = :{name}" for name in names)

    latest = f"SELECT institution, sheet, key, max(seq) AS seq FROM rk_versions WHERE {scope('')} GROUP BY institution, sheet, key"
    on = "v.institution = l.institution AND v.sheet = l.sheet AND v.key = l.key AND v.seq = l.seq"
    return f"SELECT {columns} FROM rk_versions v JOIN ({latest}) l ON {on} WHERE {scope('v.')}"


def _fill_new(path: Path) -> None:
    """A new store is its migrations run from nothing: the same schema an upgraded one has."""
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            migrate.upgrade(conn)
    finally:
        engine.dispose()


def _json(text: str, what: str, row_id: int):
    try:
        return json.loads(text)
    except ValueError:
        raise StoreError(
            f"评分库中{what} {row_id} 的内容已损坏（不是有效的 JSON）。"
            "请运行 rubric-kernel check-store 检查，并用备份恢复（rubric-kernel restore 备份文件）"
        ) from None


def _version(r: Mapping) -> Version:
    content = r["content"]
    return Version(
        r["id"],
        r["dataset"],
        r["institution"],
        r["sheet"],
        r["key"],
        r["seq"],
        r["stage"],
        r["expert"],
        r["created_at"],
        _json(content, "版本记录", r["id"]) if content is not None else None,
        r["reason"],
        r["replaces"],
        _rubric(r),
        r.get("login"),
    )


def _event(r: Mapping) -> Event:
    return Event(
        r["id"],
        r["dataset"],
        r["institution"],
        r["seq"],
        r["kind"],
        r["actor"],
        r["created_at"],
        _json(r["payload"], "流程事件", r["id"]),
        r["note"],
        _rubric(r),
        r.get("login"),
    )


def _rubric(r: Mapping) -> RubricRef | None:
    return RubricRef(r["rubric_id"], r["rubric_digest"]) if r.get("rubric_id") else None


def _rubric_columns(rubric: RubricRef | None) -> dict[str, str | None]:
    return {"rubric_id": rubric.id if rubric else None, "rubric_digest": rubric.digest if rubric else None}


def _stale(current: Mapping[str, Version], base: Mapping[str, int], key: str) -> bool:
    return key in current and current[key].seq != base.get(key, 0)


def _insert_versions(conn, request: SaveRequest, current: Mapping[str, Version], stamp: str) -> list[Version]:
    """Insert a version of each key whose content changed; the unique seq refuses a stale base."""
    from sqlalchemy import insert

    from .tables import versions

    written: list[Version] = []
    for key, content in request.changes.items():
        prev = current.get(key)
        if canonical(prev.content if prev else None) == canonical(content):
            continue
        values = dict(
            dataset=request.dataset,
            institution=request.institution,
            sheet=request.sheet,
            key=key,
            seq=request.base.get(key, 0) + 1,
            stage=request.stage,
            expert=request.expert,
            created_at=stamp,
            content=None if content is None else canonical(content),
            reason=request.reason,
            replaces=prev.id if prev else None,
            login=request.login,
            **_rubric_columns(request.rubric),
        )
        new_id = conn.execute(insert(versions).values(**values)).inserted_primary_key[0]
        written.append(_version({**values, "id": new_id}))
    return written


def keys_changed(a: Mapping[str, dict], b: Mapping[str, dict]) -> Iterable[str]:
    return sorted(k for k in set(a) | set(b) if canonical(a.get(k)) != canonical(b.get(k)))
