"""Old rubric ids to new ones: ``parameters/id-map.yaml`` and ``remap-ids``, which moves stored judgments.

A store whose current judgments name ids the loaded rubric lacks is refused (``refuse_orphans``), so a
rubric that changed its ids can never silently drop or move a judgment. The map says where each old id
went; ``remap`` appends, per sheet, a withdrawal under the old key and the same judgment under the new
one (never an UPDATE), with who, when and why, and a ``remap`` event that carries the group's
signatures over to the re-keyed sheet. An incomplete or wrong map is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from . import input_cache
from .authz import Person
from .errors import Fault, InputError, display_path
from .rubric import Rubric
from .sheet_codec import ADJUST, DISMISS, FINDING, digest, orphans, parse_key
from .store import GROUP_SHEET, OrphanedIds, SaveRequest, Store, Version
from .workspace import Workspace
from .yamlsafe import load_yaml

REMAP_STAGE = "标识迁移"


class _IdMapFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    map: dict[str, str] = {}


def _kind(urn: str) -> str:
    parts = urn.split(":")
    return parts[1] if len(parts) == 3 and all(parts) else ""


def _pydantic_fault(file: str, err: dict) -> Fault:
    where = ".".join(map(str, err["loc"]))
    if err["type"] == "extra_forbidden":
        return Fault(file, "不是允许的字段（只有 map）", column=where)
    return Fault(file, "应为“旧标识: 新标识”的映射，两者均为文本", column=where)


def load_id_map(path: Path | str, rubric: Rubric) -> dict[str, str]:
    """The validated map old id -> new id; faults name the file and the key."""
    file = display_path(path)
    data = load_yaml(path)
    try:
        parsed = _IdMapFile.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise InputError([_pydantic_fault(file, e) for e in exc.errors(include_url=False)]) from None
    known = {urn: kind for urn, kind, _what in rubric.urns}
    faults: list[Fault] = []
    targets: dict[str, str] = {}
    for old, new in parsed.map.items():
        where = f"map.{old}"
        if not _kind(old):
            faults.append(Fault(file, f"旧标识“{old}”格式不对，应为 指标体系标识:类别:编号", column=where))
        elif new not in known:
            faults.append(Fault(file, f"新标识“{new}”不在当前指标体系中", column=where))
        elif known[new] != _kind(old):
            faults.append(Fault(file, f"新标识“{new}”与旧标识类别不同（{_kind(old)} → {known[new]}）", column=where))
        elif new in targets:
            faults.append(Fault(file, f"新标识“{new}”已由 {targets[new]} 对应，两项评分不能并入同一标识", column=where))
        targets.setdefault(new, old)
    if faults:
        raise InputError(faults)
    return dict(parsed.map)


def stored_orphans(store: Store, ws: Workspace) -> list[str]:
    """Ids the dataset's current judgments (every sheet) name and the workspace's rubric lacks.

    What is orphaned depends only on each key and the rule items ticked under it, so the keys are
    checked once each, with the union of their ticks over every institution and sheet.
    """
    ticks: dict[str, dict[str, None]] = {}
    for key, content in store.current_contents(ws.dataset.name):
        if content is None:
            continue
        ticked = ticks.setdefault(key, {})
        if isinstance(content, dict):
            ticked.update(dict.fromkeys(content.get("ticks", {})))
    return orphans(ws.rubric, {key: {"ticks": ticked} for key, ticked in ticks.items()})


def _check_key(store: Store, ws: Workspace) -> str | None:
    """What the orphan check's answer depends on: the store's versions (``Store.derived_key``) and the
    ids the rubric knows."""
    return store.derived_key(ws.dataset.name, input_cache.digest_key(sorted(ws.rubric.by_urn.items())))


def refuse_orphans(store: Store, ws: Workspace) -> None:
    """Refuse a store whose judgments name ids the rubric lacks. Every command asks; reading and
    decoding every current version took a short command a tenth of its time, so a passed check is
    remembered for the same file, versions and rubric ids (``input_cache.ORPHAN_CHECKS``); a refusal
    raises, so it is never kept."""

    def check() -> bool:
        lost = stored_orphans(store, ws)
        if lost:
            raise OrphanedIds(ws.dataset.name, lost, store.where)
        return True

    input_cache.ORPHAN_CHECKS.get_keyed(_check_key(store, ws), check)


def _rekey(key: str, content: dict | None, mapping: Mapping[str, str], rubric: Rubric) -> tuple[str, dict | None]:
    if key.startswith(DISMISS):
        return key, content
    if key.startswith(ADJUST):
        urn = key.removeprefix(ADJUST)
        return ADJUST + mapping.get(urn, urn), content
    if key.startswith(FINDING):  # the indicator's id, and the rule items its finding shows
        urn = key.removeprefix(FINDING)
        if content is not None:
            content = {**content, "ticks": {mapping.get(u, u): c for u, c in content.get("ticks", {}).items()}}
        return FINDING + mapping.get(urn, urn), content
    new = mapping.get(key, key)
    parsed = parse_key(rubric, new)
    if content is not None and parsed is not None and parsed.kind == "indicator":
        content = {**content, "ticks": {mapping.get(u, u): c for u, c in content.get("ticks", {}).items()}}
    return new, content


def _plan(store: Store, ws: Workspace, mapping: Mapping[str, str]) -> list[tuple[SaveRequest, str, str]]:
    """Per changed sheet: its save and the digests of its entries before and after; faults refuse all."""
    sheets: dict[tuple[int, str], dict[str, Version]] = {}
    for v in store.current_versions(ws.dataset.name):
        sheets.setdefault((v.institution, v.sheet), {})[v.key] = v
    plans, faults = [], []
    for (n, sheet), current in sorted(sheets.items()):
        live = {k: v.content for k, v in current.items() if v.content is not None}
        moved = {k: _rekey(k, c, mapping, ws.rubric) for k, c in live.items()}
        after: dict[str, dict] = {}
        for old, (new, content) in moved.items():
            if new != old and new in live and new not in {k for k, (t, _c) in moved.items() if t != k}:
                faults.append(Fault("id-map.yaml", f"机构 {n} 评分表 {sheet}：新标识 {new} 已有评分，不能再并入 {old}"))
            after[new] = content  # type: ignore[assignment]
        for lost in orphans(ws.rubric, after):
            faults.append(
                Fault("id-map.yaml", f"标识对应表不完整：机构 {n} 评分表 {sheet} 中的 {lost} 没有对应的新标识")
            )
        changes: dict[str, dict | None] = {k: None for k in live if k not in after}
        changes.update({k: c for k, c in after.items() if live.get(k) != c})
        if changes:
            request = SaveRequest(
                ws.dataset.name,
                n,
                changes,
                {k: v.seq for k, v in current.items()},
                expert="",
                stage=REMAP_STAGE,
                sheet=sheet,
                rubric=ws.rubric_ref,
            )
            plans.append((request, digest(live), digest(after)))
    if faults:
        raise InputError(faults)
    return plans


def remap(store: Store, ws: Workspace, mapping: Mapping[str, str], *, by: Person, reason: str) -> list[list[Version]]:
    """Move every current judgment of the dataset to its new id; all sheets in one transaction, or none.
    ``by``: the acting administrator (identity), recorded on every version and event."""
    if not reason.strip():
        raise InputError([Fault("remap-ids", "必须用 --reason 填写理由")])
    plans = _plan(store, ws, mapping)
    requests = [
        replace(r, expert=by.name, login=by.login, reason=f"标识迁移：{reason}") for r, _before, _after in plans
    ]
    written = store.save_many(requests)
    for (r, before, after), versions in zip(plans, written, strict=True):
        if r.sheet == GROUP_SHEET and versions:
            store.add_event(
                ws.dataset.name,
                r.institution,
                "remap",
                actor=by.name,
                login=by.login,
                note=reason,
                payload={"before": before, "after": after, "map": dict(sorted(mapping.items()))},
                rubric=ws.rubric_ref,
            )
    return written
