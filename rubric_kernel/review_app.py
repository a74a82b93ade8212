"""The review page (Voilà) for 省职鉴中心复核 and 领导审签: the cohort, pending reviews, open objections.

Every control calls the same workflow service (``workflow.service.Workflow``) the CLI calls, so the
acting person comes from the login (``identity``) and every refusal is the service's one Chinese
line. Controls are built only for the roles the logged-in person holds: an expert who opens the page
sees the lists and nothing to press (and the service would refuse them anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import ipywidgets as w

from . import identity
from .authz import ROLES, Person
from .cohort import cohort_for
from .errors import InputError
from .scoring import Result
from .signing import beijing_today
from .store import Store, StoreError
from .workflow.service import Workflow
from .workflow.state import WorkflowState
from .workspace import Workspace

VETO_CHOICES = [("属实（确认否定项）", "confirmed"), ("不属实（驳回）", "rejected")]
DECISIONS = [("异议成立", "upheld"), ("异议不成立", "rejected")]
CSS = """<style>
.rk-review table{border-collapse:collapse;margin:4px 0 12px}
.rk-review td,.rk-review th{border:1px solid #d4d4d8;padding:2px 8px;text-align:left}
.rk-review .rk-ok{color:#15803d}.rk-review .rk-error{color:#b91c1c}
</style>"""


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _grade(r: Result | None) -> str:
    if r is None:
        return "评分表有误"
    return r.grade or "暂定（有待评指标）"


class ReviewPage:
    """The page's state: the workflow on one store, the acting person, and the sections built for them."""

    def __init__(self, ws: Workspace, store: Store):
        self.ws, self.store = ws, store
        self.wf = Workflow(ws, store)
        self.message = w.HTML().add_class("rk-message")
        self.body = w.VBox()
        self.widget = w.VBox([w.HTML(CSS), self.message, self.body]).add_class("rk-review")
        self.refresh()

    @property
    def person(self) -> Person | None:
        try:
            return identity.current(self.store, self.wf.dataset)
        except StoreError as exc:
            self._say(str(exc), ok=False)
            return None

    def refresh(self) -> None:
        """Rebuild every section from the store (after each act: the stage and the lists change)."""
        person = self.person
        states = self.wf.states()
        results = cohort_for(self.ws, self.store, self.ws.dataset.as_of)
        roles = set(person.roles) if person else set()
        who = (
            f"{escape(person.shown)}，角色：{escape('、'.join(ROLES[r] for r in sorted(roles)))}"
            if person
            else "未识别的登录"
        )
        parts: list[w.Widget] = [
            w.HTML(
                f"<h3>复核与审签（{escape(self.ws.dataset.mark or self.ws.dataset.name)}）</h3><p>当前登录：{who}</p>"
            )
        ]
        if not roles & {"centre", "leader"}:
            parts.append(
                w.HTML(
                    "<p class='rk-note'>本页的复核、审签与异议处理操作只对“省职鉴中心复核”和“领导审签”角色开放。</p>"
                )
            )
        parts += self._pending(states, results, roles)
        parts += self._objections(states, roles)
        if "centre" in roles:
            parts += self._publicity(states)
        parts.append(self._index(states, results))
        self.body.children = parts

    # sections -------------------------------------------------------------------------------
    def _index(self, states: dict[int, WorkflowState], results: dict[int, Result]) -> w.HTML:
        rows = []
        for n, inst in self.ws.roster.items():
            r = results.get(n)
            rows.append([str(n), inst.name, f"{r.total:g}" if r else "—", _grade(r), states[n].stage])
        return w.HTML("<h4>全部机构</h4>" + _table(["序号", "机构", "总分", "等级", "阶段"], rows)).add_class(
            "rk-index"
        )

    def _pending(self, states: dict[int, WorkflowState], results: dict[int, Result], roles: set[str]) -> list[w.Widget]:
        pending = [n for n, st in states.items() if st.stage == "初评"]
        out: list[w.Widget] = [w.HTML(f"<h4>待复核（初评已签字）：{len(pending)} 家</h4>")]
        for n in pending:
            st, r = states[n], results.get(n)
            status = "已提交复核结论，待领导审签" if st.review else "待省职鉴中心复核"
            line = f"机构 {n} {self.ws.roster[n].name}：总分 {f'{r.total:g}' if r else '—'}，{_grade(r)}；{status}"
            row: list[w.Widget] = [w.HTML(escape(line))]
            if "centre" in roles:
                row.append(self._review_controls(n, r))
            if "leader" in roles and st.review:
                button = w.Button(description="审签同意", button_style="success").add_class("rk-approve")
                button.on_click(
                    lambda _b, n=n: self._act(lambda: self.wf.approve_review(n), f"机构 {n} 复核结果已审签")
                )
                row.append(button)
            out.append(w.VBox(row).add_class(f"rk-pending-{n}"))
        return out

    def _review_controls(self, n: int, r: Result | None) -> w.Widget:
        """Raised vetoes to confirm or reject, one optional adjustment, and the approving conclusion."""
        vetoes = {}
        for v in r.veto if r else ():
            if v.status == "raised":
                status = w.Dropdown(options=VETO_CHOICES, description=f"否定项第 {v.clause} 条")
                vetoes[v.clause] = (status, w.Text(placeholder="核实情况（必填）"))
        indicator = w.Text(description="调整指标", placeholder="指标序号（可不填）")
        value = w.FloatText(description="调整为")
        reason = w.Text(placeholder="调整理由")
        button = w.Button(description="复核通过，呈报领导审签", button_style="primary").add_class("rk-review-submit")

        def submit(_b: w.Button) -> None:
            adjust = {}
            if indicator.value.strip():
                if not indicator.value.strip().isdigit():
                    self._say(f"调整指标“{indicator.value}”应为指标序号", ok=False)
                    return
                adjust[int(indicator.value)] = (value.value, reason.value.strip())
            veto = {c: (s.value, t.value.strip()) for c, (s, t) in vetoes.items()}
            self._act(
                lambda: self.wf.review(n, veto=veto, adjust=adjust, approve=True),
                f"机构 {n} 复核结论已提交，待领导审签",
            )

        button.on_click(submit)
        rows = [w.HBox([s, t]) for s, t in vetoes.values()]
        return w.VBox([*rows, w.HBox([indicator, value, reason]), button])

    def _objections(self, states: dict[int, WorkflowState], roles: set[str]) -> list[w.Widget]:
        open_ = [(n, o) for n, st in states.items() for o in st.open_objections]
        out: list[w.Widget] = [w.HTML(f"<h4>待处理异议：{len(open_)} 件</h4>")]
        for n, o in open_:
            text = f"机构 {n} 异议 {o.id}：{o.applicant} 于 {o.date.isoformat()} 提出，理由：{o.grounds}；依据：{o.evidence}"
            row: list[w.Widget] = [w.HTML(escape(text))]
            if "centre" in roles:
                decision = w.Dropdown(options=DECISIONS, description="处理结论")
                note = w.Text(placeholder="核实情况（必填）")
                button = w.Button(description="处理异议", button_style="primary").add_class("rk-decide")
                button.on_click(
                    lambda _b, n=n, o=o, d=decision, t=note: self._act(
                        lambda: self.wf.decide_objection(n, o.id, decision=d.value, note=t.value, adjust={}),
                        f"机构 {n} 异议 {o.id} 已处理",
                    )
                )
                row.append(w.HBox([decision, note, button]))
            out.append(w.VBox(row))
        return out

    def _publicity(self, states: dict[int, WorkflowState]) -> list[w.Widget]:
        reviewed = [n for n, st in states.items() if st.stage == "复核"]
        start = w.DatePicker(value=beijing_today(), description="公示开始")
        button = w.Button(description=f"公示已复核的 {len(reviewed)} 家机构", disabled=not reviewed)
        button.add_class("rk-publish")
        button.on_click(lambda _b: self._act(lambda: self.wf.open_publicity(start.value), "已开始公示"))
        return [w.HTML("<h4>公示</h4>"), w.HBox([start, button])]

    # acting -----------------------------------------------------------------------------------
    def _act(self, step: Callable[[], object], done: str) -> None:
        """Run one workflow step; its refusal is shown as its one Chinese line, nothing else changes."""
        try:
            step()
        except InputError as exc:
            self._say("；".join(str(f) for f in exc.faults), ok=False)
            return
        except StoreError as exc:
            self._say(str(exc), ok=False)
            return
        self.refresh()
        self._say(done, ok=True)

    def _say(self, text: str, ok: bool) -> None:
        self.message.value = f"<div class='{'rk-ok' if ok else 'rk-error'}'>{escape(text)}</div>"


def show_review(data: str = "", db: str = "") -> ReviewPage:
    """The notebook's entry: the page on the given dataset and store (empty: the defaults)."""
    from IPython.display import display

    from .judgments import bootstrap
    from .workspace import KERNEL_WORKSPACES

    ws, store = KERNEL_WORKSPACES.load(data or None), Store(db or None)
    bootstrap(store, ws)  # a store used for the first time is filled from the dataset, as everywhere else
    page = ReviewPage(ws, store)
    display(page.widget)
    return page
