"""The judgment store: every save is a new version; the current sheet is derived, never overwritten.

A real database through SQLAlchemy Core: a SQLite file by default, any SQLAlchemy URL (PostgreSQL)
for a shared server. Concurrency is optimistic and portable: each key's versions are numbered, a
save names the number it was based on, and a unique constraint on (…, key, seq) makes the database
itself refuse a save made against a stale version — no lock, no lost update.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from .records import Event, Version
from .sheet import Sheet
from .sheet_codec import canonical, entries_to_sheet

SCHEMA_VERSION = 1  # the first released schema: versions, numbered workflow events, meta
GROUP_SHEET = "group"
DEFAULT_DB_PATH = Path(__file__).resolve().parents[1] / "var" / "rubric-kernel.sqlite"

metadata = MetaData()
meta_table = Table("rk_meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text))
versions = Table(
    "rk_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(128), nullable=False),
    Column("institution", Integer, nullable=False),
    Column("sheet", String(128), nullable=False),
    Column("key", String(128), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("expert", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("content", Text, nullable=True),  # JSON; NULL = the judgment was withdrawn
    Column("reason", Text, nullable=False),
    Column("replaces", Integer, ForeignKey("rk_versions.id"), nullable=True),
    UniqueConstraint("dataset", "institution", "sheet", "key", "seq", name="uq_version_seq"),
)

events = Table(
    "rk_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(128), nullable=False),
    Column("institution", Integer, nullable=False),
    Column("seq", Integer, nullable=False),  # per institution; unique, so a step based on a stale state fails
    Column("kind", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("note", Text, nullable=False),
    UniqueConstraint("dataset", "institution", "seq", name="uq_event_seq"),
)


class StoreError(Exception):
    """A save the store refused; the message is for the user (Chinese)."""


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


@dataclass(frozen=True)
class Snapshot:
    """The current version of every key of one sheet; ``base`` is what a later save is checked against."""

    entries: Mapping[str, Version]

    @property
    def base(self) -> dict[str, int]:
        return {k: v.seq for k, v in self.entries.items()}

    @property
    def live(self) -> dict[str, dict]:
        return {k: v.content for k, v in self.entries.items() if v.content is not None}

    def sheet(self) -> Sheet:
        return self._sheet

    @cached_property
    def _sheet(self) -> Sheet:  # decoded once: a report reads the same snapshot's sheet several times
        return entries_to_sheet(self.live)


def resolve_url(db: str | None = None) -> str:
    """--db, else RUBRIC_KERNEL_DB, else the default file; a plain path means a SQLite file.

    A bare ``postgresql://`` URL uses the psycopg 3 driver this package installs.
    """
    db = db or os.environ.get("RUBRIC_KERNEL_DB")
    if not db:
        return f"sqlite:///{DEFAULT_DB_PATH}"
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db if "://" in db else f"sqlite:///{Path(db).resolve()}"


def _sqlite_pragmas(engine: Engine) -> None:
    """pysqlite's own transaction handling defers BEGIN; take it over so reads in a save are consistent."""

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


class Store:
    """Every access to judgments goes through here."""

    def __init__(self, url: str | None = None):
        self.url = resolve_url(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(self.url, connect_args={"timeout": 30} if self.url.startswith("sqlite") else {})
        if self.engine.dialect.name == "sqlite":
            _sqlite_pragmas(self.engine)
        self._writer = self.engine.execution_options(rk_write=True)  # transactions that insert
        self._migrate()

    def _migrate(self) -> None:
        """Create what is missing; refuse a store written by a newer release. Writes only on first use."""
        metadata.create_all(self.engine)
        with self.engine.connect() as conn:
            row = conn.execute(select(meta_table.c.value).where(meta_table.c.key == "schema_version")).first()
        if row is None:
            with self._writer.begin() as conn:
                conn.execute(insert(meta_table).values(key="schema_version", value=str(SCHEMA_VERSION)))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(f"评分库的结构版本 {row[0]} 高于本程序支持的 {SCHEMA_VERSION}，请升级 rubric-kernel")

    def close(self) -> None:
        self.engine.dispose()

    @property
    def display(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    # reading ----------------------------------------------------------------------------------
    def snapshot(self, dataset: str, institution: int, sheet: str = GROUP_SHEET) -> Snapshot:
        return self.snapshots(dataset, sheet, institution).get(institution, Snapshot({}))

    def snapshots(self, dataset: str, sheet: str = GROUP_SHEET, institution: int | None = None) -> dict[int, Snapshot]:
        """Current versions of every institution's sheet in one query (the cohort needs all 75)."""
        scope = [versions.c.dataset == dataset, versions.c.sheet == sheet]
        if institution is not None:
            scope.append(versions.c.institution == institution)
        latest = (
            select(versions.c.institution, versions.c.key, func.max(versions.c.seq).label("seq"))
            .where(*scope)
            .group_by(versions.c.institution, versions.c.key)
            .subquery()
        )
        on = (
            (versions.c.institution == latest.c.institution)
            & (versions.c.key == latest.c.key)
            & (versions.c.seq == latest.c.seq)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(select(versions).join(latest, on).where(*scope)).mappings().all()
        grouped: dict[int, dict[str, Version]] = {}
        for r in sorted(rows, key=lambda r: (r["institution"], r["key"])):
            grouped.setdefault(r["institution"], {})[r["key"]] = _version(r)
        return {n: Snapshot(entries) for n, entries in grouped.items()}

    def state_token(self, dataset: str) -> tuple[int, int]:
        """(number of versions, newest id): changes with every save, since nothing is ever updated."""
        q = select(func.count(versions.c.id), func.max(versions.c.id)).where(versions.c.dataset == dataset)
        with self.engine.connect() as conn:
            count, newest = conn.execute(q).one()
        return count, newest or 0

    def history(
        self, dataset: str, institution: int, key: str | None = None, sheet: str = GROUP_SHEET
    ) -> list[Version]:
        q = select(versions).where(
            versions.c.dataset == dataset, versions.c.institution == institution, versions.c.sheet == sheet
        )
        if key is not None:
            q = q.where(versions.c.key == key)
        with self.engine.connect() as conn:
            return [_version(r) for r in conn.execute(q.order_by(versions.c.id)).mappings()]

    def institutions(self, dataset: str) -> set[int]:
        with self.engine.connect() as conn:
            q = select(versions.c.institution).where(versions.c.dataset == dataset).distinct()
            return {r[0] for r in conn.execute(q)}

    def sheets(self, dataset: str, institution: int) -> list[str]:
        with self.engine.connect() as conn:
            q = (
                select(versions.c.sheet)
                .where(versions.c.dataset == dataset, versions.c.institution == institution)
                .distinct()
            )
            return sorted(r[0] for r in conn.execute(q))

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
        now: dt.datetime | None = None,
    ) -> list[Version]:
        """Write a new version of every changed key, all or nothing.

        ``base`` maps each key to the version number the editor saw (absent: the key did not exist).
        Keys whose content equals the current one are skipped, so saving twice writes nothing new.
        """
        request = SaveRequest(dataset, institution, changes, base, expert, stage, reason, sheet)
        return self.save_many([request], now=now)[0]

    def save_many(self, requests: Sequence[SaveRequest], now: dt.datetime | None = None) -> list[list[Version]]:
        """Several sheets' saves in one transaction (an import of many files): all are written or none."""
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
        now: dt.datetime | None = None,
    ) -> Event:
        """Append a workflow event. ``after``: the last event seq the caller's decision was based on; if
        another event was recorded since, the database refuses the insert and nothing is written."""
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
        q = select(events).where(events.c.dataset == dataset)
        if institution is not None:
            q = q.where(events.c.institution == institution)
        with self.engine.connect() as conn:
            return [_event(r) for r in conn.execute(q.order_by(events.c.id)).mappings()]


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
        json.loads(content) if content is not None else None,
        r["reason"],
        r["replaces"],
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
        json.loads(r["payload"]),
        r["note"],
    )


def _stale(current: Mapping[str, Version], base: Mapping[str, int], key: str) -> bool:
    return key in current and current[key].seq != base.get(key, 0)


def _insert_versions(conn, request: SaveRequest, current: Mapping[str, Version], stamp: str) -> list[Version]:
    """Insert a version of each key whose content changed; the unique seq refuses a stale base."""
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
        )
        new_id = conn.execute(insert(versions).values(**values)).inserted_primary_key[0]
        written.append(_version({**values, "id": new_id}))
    return written


def keys_changed(a: Mapping[str, dict], b: Mapping[str, dict]) -> Iterable[str]:
    return sorted(k for k in set(a) | set(b) if canonical(a.get(k)) != canonical(b.get(k)))
