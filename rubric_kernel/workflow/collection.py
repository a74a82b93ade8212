"""The pre-collection of credit records (信用记录预采集): which of the seed's 12 record types the
organiser collected, from which source, on what date, and who recorded it.

It is the programme's, not one institution's: its events are stored under institution
``PROGRAMME_WIDE`` in the append-only event log, so the database rules that guard every other
workflow event guard it too. The newest record of a type is the one that holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import clock, people
from ..bundled import COLLECTION_PATH
from ..errors import Fault, InputError, display_path
from ..evidence import parse_date
from ..records import Event
from ..store import Store
from ..yamlsafe import load_yaml

PROGRAMME_WIDE = 0  # institution number of events that concern the whole programme
KIND = "collection"
DEMO_FILE = "collection.yaml"
DEMO_MARK = "演示数据"


@dataclass(frozen=True)
class Collected:
    type: str
    source: str
    date: dt.date
    late: str  # why it was entered after the fact ("" if on the day)
    by: str
    login: str


def record_types(path: Path | str = COLLECTION_PATH) -> tuple[str, ...]:
    """The record types to collect (the seed's 12), in the seed's order."""
    doc = load_yaml(path)
    types = doc.get("types") if isinstance(doc, dict) else None
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and t.strip() for t in types):
        raise InputError([Fault(f"{display_path(path)} types", "应为非空的信用记录类型列表")])
    if len(set(types)) != len(types):
        raise InputError([Fault(f"{display_path(path)} types", "信用记录类型不能重复")])
    return tuple(types)


def collected(events: Sequence[Event]) -> dict[str, Collected]:
    """The collection record per type, from the programme's events (the newest of a type holds)."""
    out: dict[str, Collected] = {}
    for e in events:
        if e.kind == KIND:
            p = e.payload
            out[p["type"]] = Collected(
                p["type"], p["source"], dt.date.fromisoformat(p["date"]), p.get("late", ""), e.actor, e.login or ""
            )
    return out


def entry_problems(types: Sequence[str], type_: str, source: str) -> list[str]:
    """Why a collection entry cannot be recorded (empty: it can)."""
    problems = []
    if type_ not in types:
        problems.append(f"未知信用记录类型“{type_}”；方案所列 12 类：{'、'.join(types)}")
    if not source.strip():
        problems.append(f"须写明“{type_}”信用信息的采集来源")
    return problems


def demo_entries(folder: Path) -> tuple[str, list[dict]]:
    """The demo dataset's shipped collection record: who recorded it (a login) and its entries."""
    path = folder / DEMO_FILE
    where = display_path(path)
    doc = load_yaml(path)
    if not isinstance(doc, dict) or doc.get("mark") != DEMO_MARK or not isinstance(doc.get("entries"), list):
        raise InputError([Fault(where, "预采集登记应含 mark: 演示数据、by 与 entries 列表")])
    faults, entries = [], []
    for i, e in enumerate(doc["entries"], 1):
        keys = ("type", "source", "date", "late")
        if not isinstance(e, dict) or set(e) != set(keys) or not all(isinstance(e[k], str) for k in keys):
            faults.append(Fault(f"{where} 第 {i} 项", f"应含文本字段 {'、'.join(keys)}"))
            continue
        entries.append(e)
    if not isinstance(doc.get("by"), str) or not doc["by"]:
        faults.append(Fault(f"{where} by", "应为登记人的登录名"))
    if faults:
        raise InputError(faults)
    return doc["by"], entries


def bootstrap_demo(store: Store, dataset: str, folder: Path, synthetic: bool) -> bool:
    """First use of a synthetic dataset: record its shipped collection record, as the demo organiser
    it names (a registered 第三方评估机构), unless the programme has a collection record already or
    that organiser is not registered."""
    path = folder / DEMO_FILE
    if not synthetic or not path.exists() or any(e.kind == KIND for e in store.events(dataset, PROGRAMME_WIDE)):
        return False
    login, entries = demo_entries(folder)
    person = people.by_login(store, dataset, login)
    if person is None:  # the demo registry is not loaded (a server set up with its own people): nobody to act as
        return False
    where = display_path(path)
    if not person.has("organiser"):
        raise InputError([Fault(f"{where} by", f"“{login}”不是已登记的第三方评估机构人员")])
    types, faults, payloads = record_types(), [], []
    for i, e in enumerate(entries, 1):
        try:
            when = clock.act_date(parse_date(e["date"]), e["late"], what="预采集")
        except clock.DateRefused as exc:
            faults.append(Fault(f"{where} 第 {i} 项 date", str(exc)))
            continue
        except ValueError:
            faults.append(Fault(f"{where} 第 {i} 项 date", f"日期“{e['date']}”无效，应为 YYYY-MM-DD"))
            continue
        faults += [Fault(f"{where} 第 {i} 项", p) for p in entry_problems(types, e["type"], e["source"])]
        payloads.append({"type": e["type"], "source": e["source"].strip(), **when.payload()})
    if faults:
        raise InputError(faults)
    for payload in payloads:
        store.add_event(
            dataset,
            PROGRAMME_WIDE,
            KIND,
            actor=person.name,
            login=person.login,
            payload=payload,
            note="信用记录预采集（演示数据）",
        )
    return True
