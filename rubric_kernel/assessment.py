"""One institution's assessment session: what the notebook, the form and the report work on.

It loads the inputs once (rubric, roster, dataset, store) and hands out pure results; it holds no
business rule itself. The notebook's parameters arrive as strings (papermill, nbval, a user's
edit), so parsing them is done here, once, with Chinese errors.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from functools import cached_property

from .authz import edit_stage, own_sheet_problem, save_problem
from .batch.contract import STORE_READY_VARIABLE, Parameters, store_ready_token
from .cohort import cohort_for
from .errors import Fault, InputError
from .evidence import Evidence, parse_date
from .judgments import bootstrap
from .records import Event
from .roster import Institution
from .scoring import Result
from .sheet import Sheet, check_sheet
from .store import GROUP_SHEET, Snapshot, Store, resolve_url
from .workflow.collection import PROGRAMME_WIDE
from .workflow.state import STAGES, WorkflowState, derive
from .workspace import KERNEL_WORKSPACES, Workspace

MODES = ("interactive", "report")


@dataclass
class Assessment:
    ws: Workspace
    store: Store
    institution: Institution
    as_of: dt.date
    stage: str = "现场评估"
    expert: str = ""
    mode: str = "report"
    sheet_name: str = GROUP_SHEET
    _snapshot: Snapshot | None = field(default=None, repr=False)
    _stored_result: Result | None = field(default=None, repr=False)
    _workflow: WorkflowState | None = field(default=None, repr=False)
    _events: list[Event] | None = field(default=None, repr=False)

    @property
    def dataset(self) -> str:
        return self.ws.dataset.name

    @property
    def evidence(self) -> Evidence:
        return self.ws.dataset.for_institution(self.institution.number)

    @property
    def mark(self) -> str:
        return self.ws.dataset.mark

    def snapshot(self, refresh: bool = False) -> Snapshot:
        """The store's current sheet; cached so one notebook run reads the store once."""
        if self._snapshot is None or refresh:
            self._snapshot = self.store.snapshot(self.dataset, self.institution.number, self.sheet_name)
            self._stored_result = self._workflow = self._events = None  # all derive from what the store holds
        return self._snapshot

    def check(self, sheet: Sheet) -> list[Fault]:
        return check_sheet(sheet, self.ws.rubric, self.evidence, f"机构 {self.institution.number} 评分")

    def score(self, sheet: Sheet | None = None) -> Result:
        """Score the stored sheet (refused with every fault if it no longer fits the rubric or records),
        or a sheet being edited and already checked (the form's live header)."""
        if sheet is not None:
            return self.ws.score(self.institution.number, sheet, self.as_of)
        stored = self.snapshot().sheet(self.ws.rubric)
        if self._stored_result is None:  # the report and its result output share one scoring
            faults = self.check(stored)
            if faults:
                raise InputError(faults)
            self._stored_result = self.ws.score(self.institution.number, stored, self.as_of)
        return self._stored_result

    @cached_property
    def cohort(self) -> dict[int, Result]:
        return cohort_for(self.ws, self.store, self.as_of)

    def save(self, changes: dict[str, dict | None], base: dict[str, int], *, reason: str = ""):
        """Store changed judgments as the acting person (identity), at the stage the event log says.

        Who may save is checked first (role, assignment, stage: ``authz``); a signed group sheet then
        changes only as the workflow allows. The stage shown by the notebook plays no part.
        """
        from .workflow.service import WorkflowError, acting, refuse
        from .workflow.state import edit_problems

        person = acting(self.store, self.dataset)
        n = self.institution.number
        st = derive(self.events())
        if self.sheet_name == GROUP_SHEET:
            refuse(save_problem(person, st, n, changes, self.ws.rubric))
            stage = edit_stage(st)
            problems = edit_problems(st, stage, reason)  # the state just read: no second read of the log
            if problems:
                raise WorkflowError(problems)
        else:
            refuse(own_sheet_problem(person, n, self.sheet_name))
            stage = st.stage
        return self.store.save(
            self.dataset,
            n,
            changes,
            base,
            expert=person.name,
            stage=stage,
            reason=reason,
            sheet=self.sheet_name,
            rubric=self.ws.rubric_ref,
            login=person.login,
        )

    def events(self):
        return self.store.events(self.dataset, self.institution.number)

    def programme_events(self):
        """The events of the whole programme (the pre-collection record), which every report states."""
        return self.store.events(self.dataset, PROGRAMME_WIDE)

    def recorded_events(self) -> list[Event]:
        """The institution's events, read once per snapshot: the workflow state and the report's digest
        of them then describe the same events."""
        if self._events is None:
            self.snapshot()
            self._events = self.events()
        return self._events

    def workflow(self) -> WorkflowState:
        """The institution's workflow state, derived once per snapshot (a report asks for it three times)."""
        if self._workflow is None:
            self._workflow = derive(self.recorded_events())
        return self._workflow

    def history(self, key: str | None = None):
        return self.store.history(self.dataset, self.institution.number, key, self.sheet_name)


class NotebookInputError(InputError):
    """An input fault shown in a notebook as its Chinese lines, not as a traceback.

    IPython renders an exception through ``_render_traceback_`` when it has one; the cell still fails,
    so a batch (papermill) records the institution as failed with this message.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"输入有误：{f}" for f in self.faults]


def _parse_institution(raw: object, ws: Workspace) -> Institution:
    text = str(raw).strip()
    if not text.isdigit():
        raise InputError([Fault("参数 institution", f"机构序号“{raw}”应为数字，例如 13 或 013")])
    return ws.institution(int(text))


def _store_ready(url: str, ws: Workspace) -> bool:
    """The batch that started this kernel has opened and checked this store, and run its first-use
    check for this dataset."""
    return os.environ.get(STORE_READY_VARIABLE) == store_ready_token(url, ws.dataset.name)


def open_assessment(institution: object, *, bootstrap_store: bool = True, **given: str) -> Assessment:
    """Build an assessment from the notebook's parameters (``batch.contract.Parameters``, "" = default).

    ``sheet``: "group" edits the expert group's agreed sheet; "own" the expert's independent one,
    compared with the others' by the consolidation step. Faults are raised as ``NotebookInputError``.
    """
    p = Parameters(**given)
    expert = p.expert.strip()
    try:
        if p.sheet not in ("group", "own"):
            raise InputError([Fault("参数 sheet", f"“{p.sheet}”无效，应为 group（小组评分表）或 own（本人独立评分）")])
        if p.sheet == "own" and not expert:
            raise InputError([Fault("参数 expert", "独立评分（sheet=own）必须填写专家姓名")])
        if p.mode not in MODES:
            raise InputError([Fault("参数 mode", f"模式“{p.mode}”无效，应为 interactive（交互评分）或 report（报告）")])
        if p.stage not in STAGES:
            raise InputError([Fault("参数 stage", f"阶段“{p.stage}”无效，应为 {'、'.join(STAGES)} 之一")])
        ws = KERNEL_WORKSPACES.load(p.data or None, p.rubric or None, p.roster or None)
        inst = _parse_institution(institution, ws)
        try:
            when = parse_date(p.as_of) if p.as_of else ws.dataset.as_of
        except ValueError:
            raise InputError([Fault("参数 as_of", f"日期“{p.as_of}”无效，应为 YYYY-MM-DD")]) from None
        ready = _store_ready(resolve_url(p.db or None), ws)
        store = Store(p.db or None, vouched=ready)
        if bootstrap_store and not ready:
            bootstrap(store, ws)  # the command line says what it did; notebooks stay clean
        name = GROUP_SHEET if p.sheet == "group" else f"expert:{expert}"
        return Assessment(ws, store, inst, when, p.stage, expert, p.mode, name)
    except InputError as exc:
        raise NotebookInputError(exc.faults) from None
