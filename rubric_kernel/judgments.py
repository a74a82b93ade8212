"""Judgments between files, the store and the scoring core: import, bootstrap, current sheet."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import findings, people
from .authz import Person, expert_key
from .errors import Fault, InputError, display_path
from .id_map import refuse_orphans
from .judgments_file import JudgmentsFile
from .labels import key_label
from .people import registry
from .rubric import Rubric
from .sheet import Sheet, check_sheet
from .sheet_codec import sheet_to_entries
from .store import GROUP_SHEET, SaveRequest, Store, Version
from .workflow import collection
from .workflow.state import SIGNED, derive
from .workspace import Workspace, judgment_files, read_checked

IMPORT_STAGE = "现场评估"


def import_judgments(
    store: Store, ws: Workspace, paths: list[Path], by_name: bool = False, *, actor: Person | None = None
) -> dict[int, list[Version]]:
    """Make each institution's current sheet equal its file. Every file is checked before any write.

    ``by_name``: files are a dataset's ``judgments/NN.yaml``, whose name must match their content.
    ``actor``: the person importing (``import-judgments``): the file's own expert, assigned to the
    institution, or the organiser entering it on the expert's behalf; an expert's file never carries
    a veto decision or an adjustment. None only for the dataset's own files on the store's first use,
    recorded under the registered file's expert where there is one.
    """
    refuse_orphans(store, ws)  # never add to judgments the rubric can no longer read
    files = []
    faults: list[Fault] = []
    seen: dict[int, Path] = {}
    for path in paths:
        try:
            jf = read_checked(ws, path, expect=int(path.stem) if by_name else None)
        except InputError as exc:
            faults.extend(exc.faults)
            continue
        if jf.institution in seen:
            faults.append(Fault(display_path(path), f"与 {seen[jf.institution].name} 重复：同一机构只能有一份评分文件"))
        seen[jf.institution] = path
        files.append((path, jf))
    for path, jf in files:  # a signed sheet changes only through the review or an objection decision
        stage = derive(store.events(ws.dataset.name, jf.institution)).stage
        if stage in SIGNED:
            faults.append(
                Fault(
                    display_path(path),
                    f"机构 {jf.institution} 的评分表已签字（当前阶段“{stage}”），"
                    "不能用导入覆盖；请由省职鉴中心在复核中修改",
                )
            )
    reg = registry(store, ws.dataset.name)
    if actor is not None:
        faults.extend(f for path, jf in files for f in _import_faults(ws.rubric, actor, reg, path, jf))
    if faults:
        raise InputError(faults)
    requests = [_import_request(store, ws, path, jf, actor, reg) for path, jf in files]
    written = store.save_many(requests)  # one transaction: every file's versions, or none
    return {jf.institution: versions for (_path, jf), versions in zip(files, written, strict=True)}


def _author(reg: dict[str, Person], jf: JudgmentsFile) -> Person | None:
    return next((p for p in reg.values() if p.name == jf.expert and p.has("expert")), None)


def _import_faults(rubric: Rubric, actor: Person, reg: dict[str, Person], path: Path, jf: JudgmentsFile) -> list[Fault]:
    """Who may import this file: its own assigned expert, or the organiser on that expert's behalf."""
    where, n = display_path(path), jf.institution
    author = _author(reg, jf)
    if author is None:
        return [Fault(where, f"评估专家“{jf.expert}”未登记为“评估专家”，不能导入其评分")]
    if n not in author.institutions:
        return [Fault(where, f"{author.shown} 未分配到机构 {n} 的评估小组，不能导入其评分")]
    if actor.login != author.login and not actor.has("organiser"):
        return [Fault(where, f"{actor.shown} 不能导入 {author.name} 的评分（只有本人或“第三方评估机构”代为录入）")]
    entries = sheet_to_entries(jf.sheet, rubric)
    centre = sorted(key_label(rubric, k) for k, v in entries.items() if not expert_key(rubric, k, v))
    if centre:
        return [
            Fault(
                where,
                f"评估专家的评分文件不能含有 {'、'.join(centre)}：确认、驳回否定项和调整分数需要“省职鉴中心复核”角色",
            )
        ]
    return []


def _import_request(
    store: Store, ws: Workspace, path: Path, jf: JudgmentsFile, actor: Person | None, reg: dict[str, Person]
) -> SaveRequest:
    """The file's judgments become current; the experts' keys it omits are withdrawn, while the
    centre's veto decisions and adjustments it does not mention are left as they are."""
    entries = sheet_to_entries(jf.sheet, ws.rubric)
    snap = store.snapshot(ws.dataset.name, jf.institution)
    changes: dict[str, dict | None] = {
        k: None for k, v in snap.live.items() if k not in entries and expert_key(ws.rubric, k, v)
    }
    changes.update(entries)
    author = _author(reg, jf)
    behalf = f"，由 {actor.shown} 代为录入" if actor is not None and author and actor.login != author.login else ""
    return SaveRequest(
        ws.dataset.name,
        jf.institution,
        changes,
        snap.base,
        expert=jf.expert,
        stage=IMPORT_STAGE,
        reason=f"导入评分文件 {path.name}（{jf.date.isoformat()}）{behalf}",
        rubric=ws.rubric_ref,
        login=actor.login if actor is not None else author.login if author else None,
    )


def expand(paths: list[Path | str]) -> list[Path]:
    """Files, and the judgments files inside folders."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in (".yaml", ".yml", ".json")))
        elif p.exists():
            out.append(p)
        else:
            raise InputError([Fault(display_path(p), "文件不存在")])
    return out


@dataclass(frozen=True)
class Bootstrap:
    """What a store's first use did with the dataset's judgments files; the caller shows ``notice``."""

    folder: Path
    store: str
    imported: list[Path] = field(default_factory=list)  # taken in now, on the store's first use
    pending: list[Path] = field(default_factory=list)  # files of institutions the store knows nothing about

    def notice(self) -> str:
        """The Chinese lines for the terminal ("" when there is nothing to say)."""
        if self.imported:
            return (
                f"首次使用：已将 {display_path(self.folder)} 中 {len(self.imported)} 份评分文件导入评分库 {self.store}"
            )
        if self.pending:
            names = "、".join(p.name for p in self.pending[:5]) + (" 等" if len(self.pending) > 5 else "")
            return f"提示：{len(self.pending)} 份评分文件（{names}）尚未导入评分库，如需使用请运行 rubric-kernel import-judgments"
        return ""


def bootstrap(store: Store, ws: Workspace) -> Bootstrap:
    """First use of a store for a dataset: load the dataset's judgments files and record it.

    Later, files for institutions the store knows nothing about are reported as pending, never
    imported behind the user's back (the store, not the folder, is where judgments live once work
    began). The record makes this hold even if the store's judgments were lost: a store that already
    took the dataset's files once never takes them again by itself.
    """
    by_number = judgment_files(ws)
    people.bootstrap_demo(store, ws.dataset.name, ws.dataset.folder, ws.dataset.synthetic)
    collection.bootstrap_demo(store, ws.dataset.name, ws.dataset.folder, ws.dataset.synthetic)
    known = store.institutions(ws.dataset.name)
    marker = f"judgments_imported:{ws.dataset.name}"
    report = Bootstrap(ws.dataset.folder / "judgments", store.display)
    if known or marker in store.meta():
        return replace(report, pending=[by_number[n] for n in sorted(by_number) if n not in known])
    files = list(by_number.values())
    if not files:
        return report
    import_judgments(store, ws, files, by_name=True)
    _demo_findings(store, ws)
    store.record(marker, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    return replace(report, imported=files)


def _demo_findings(store: Store, ws: Workspace) -> None:
    """A synthetic dataset's own 人社部门 findings, recorded under its demo centre reviewer on first use.

    A real dataset's findings are the centre's act (``import-findings``), never recorded on its behalf.
    """
    path = findings.dataset_file(ws.dataset.folder)
    centre = next((p for p in registry(store, ws.dataset.name).values() if p.has("centre")), None)
    if path is None or centre is None or not ws.dataset.synthetic:
        return
    findings.record(store, ws, findings.read_findings(path, ws), centre, f"导入演示数据 {path.name}")


def current_sheet(store: Store, ws: Workspace, number: int, sheet: str = GROUP_SHEET) -> Sheet:
    """The institution's current sheet from the store, checked against the rubric and its records."""
    current = store.snapshot(ws.dataset.name, number, sheet).sheet(ws.rubric)
    faults = check_sheet(current, ws.rubric, ws.dataset.for_institution(number), f"评分库（机构 {number}）")
    if faults:
        raise InputError(faults)
    return current
