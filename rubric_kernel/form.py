"""The interactive scoring form: ipywidgets generated from the rubric, working on one Assessment.

Nothing here knows an indicator by number: tabs, sections, rule items, records, bonus items and veto
clauses all come from the rubric and the dataset. Every change rebuilds a Sheet from the widget state
and re-scores it (pure, about a millisecond) to refresh the header; only the save button touches the
store. A save sends just the keys that differ from what the form was loaded with, based on the version
numbers the form saw, so a save made against a stale sheet is refused instead of overwriting.

Each widget is a model the browser fetches over the kernel's comm channel; the whole form is about
1,300 of them. So an indicator's controls are made only when its section is first opened (an unopened
one keeps its stored judgment), and controls share one layout and one style model per kind: a shown
form is under a hundred models, which JupyterLab restores reliably and renders at once. The controls
themselves are made in ``form_widgets``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from html import escape

import ipywidgets as w

from .assessment import Assessment
from .evidence import CreditRecord
from .form_widgets import (
    Fault,
    FreeRow,
    IndicatorControls,
    LazyControls,
    RecordControls,
    hbox,
    html_text,
    make_control,
    make_free_row,
    make_item_control,
    number_text,
    shared_layout,
    vbox,
    verb_of,
)
from .labels import (
    BASE_ZH,
    STATUS_ZH,
    describe_version,
    grade_text,
    group_title,
    key_label,
    local_time,
    next_grade_text,
    total_note,
)
from .rubric import Indicator
from .scoring import Result
from .sheet import Sheet, VetoDecision
from .sheet_codec import Entries, indicator_key, sheet_to_entries, veto_key
from .store import StaleSave, StoreError, Version, keys_changed

RECORD_KINDS = ("record", "dismissed", "outside")
VETO_OPTIONS = (("未提出", ""), ("已提出", "raised"), ("已确认（省职鉴中心认定）", "confirmed"), ("已驳回", "rejected"))
VETO_LABEL = {value: label for label, value in VETO_OPTIONS}
VETO_NOTE = (
    "否定项：专家发现情形时选择“已提出”并写明事实与理由；“已确认”是省职鉴中心在复核阶段的认定，"
    "一经确认等级即为 A。由信用记录触发的条款会注明记录编号。"
)
CSS = """<style>
.rk-form .rk-item.widget-checkbox, .rk-form .rk-item.jupyter-widget-checkbox { width: auto; height: auto; }
.rk-form .rk-item .widget-label-basic, .rk-form .rk-item .jupyter-widget-label-basic {
  white-space: normal; line-height: 1.5; }
.rk-form .rk-indicator { border-top: 1px solid var(--jp-border-color2, #ddd); padding: 4px 0 6px 0; }
.rk-form .rk-pending-badge { color: #b45309; font-weight: bold; }
.rk-form .rk-mark { background: #fde68a; color: #92400e; padding: 1px 6px; border-radius: 3px; font-weight: bold; }
.rk-form .rk-error { color: #b91c1c; } .rk-form .rk-ok { color: #166534; }
.rk-form table.rk-history td, .rk-form table.rk-history th { padding: 2px 8px; text-align: left; line-height: 1.5; }
.rk-form table.rk-history td:nth-child(-n+4), .rk-form table.rk-history th { white-space: nowrap; }
.rk-form .rk-note { color: var(--jp-ui-font-color2, #555); }
.rk-form .jupyter-widgets.jupyter-widget-tab > .lm-TabBar { height: auto; overflow: visible; }
.rk-form .jupyter-widgets.jupyter-widget-tab > .lm-TabBar .lm-TabBar-content { flex-wrap: wrap; }
.rk-form .jupyter-widgets.jupyter-widget-tab > .lm-TabBar .lm-TabBar-tab { flex: 0 0 auto; }
.rk-form .rk-invalid input, .rk-form input.rk-invalid, .rk-form .rk-invalid select {
  border: 2px solid #dc2626 !important; }
.rk-form .rk-field-error { color: #b91c1c; line-height: 1.4; }
.rk-form .rk-clamp { color: #b45309; }
.jp-Cell:has(.rk-form), .jp-Cell *:has(.rk-form), .rk-form { overflow: visible !important; }
.rk-form > .rk-top { position: sticky; top: 0; z-index: 20; background: var(--jp-layout-color0, #fff);
  border-bottom: 1px solid var(--jp-border-color2, #ddd); padding-bottom: 4px; overflow: visible; }
</style>"""


def build_form(a: Assessment) -> w.Widget:
    """The whole scoring form for one assessment, pre-filled from the store's current sheet."""
    return AssessmentForm(a).widget


def _signed_in(a: Assessment) -> tuple[str, str]:
    """(the registered name of the person behind the login, why there is none): the form never asks
    for a name, so a re-run cannot clear it and nobody can type another's."""
    from . import identity

    try:
        return identity.current(a.store, a.dataset).name, ""
    except StoreError as exc:
        return "", str(exc)


class AssessmentForm:
    """The widgets of one assessment's form and the state they are compared against when saving."""

    def __init__(self, a: Assessment):
        self.a = a
        self.rubric = a.ws.rubric
        snap = a.snapshot()
        self._shown: Entries = dict(snap.live)  # what the widgets were loaded from / last saved
        self._base: dict[str, int] = dict(snap.base)
        sheet = snap.sheet(self.rubric)
        self._adjustments = sheet.adjustments  # the centre's review; shown in the report, not edited here
        self._undismissed = a.score(replace(sheet, dismissed={}))  # every record's effect, for the labels
        self._loaded = sheet  # what an indicator, bonus or veto not yet shown still says
        # Scored before any widget is made, so titles, labels and header are born with their text
        # (a value set after construction is one more message to the browser per widget).
        self.result: Result = a.score(sheet)
        self.records = {r.id: self._record_controls(r, sheet) for r in a.evidence.records}
        for rc in self.records.values():
            for control in (rc.dismiss, rc.reason):
                control.observe(self._on_change, names="value")
        self.indicators = LazyControls(list(self.rubric.indicators), self._indicator)
        self._bonus: dict[str, tuple[w.Checkbox, w.Text]] | None = None
        self._veto: dict[str, tuple[w.Dropdown, w.Text]] | None = None
        self._opinion: w.Textarea | None = None
        self._veto_notes: dict[str, w.HTML] = {}
        self._marking = False  # after a refused save, faults are marked beside their fields and kept current
        self._marked: list[Fault] = []
        self.header = html_text(self._header_html(self.result), cls="rk-header")
        self.message = html_text(cls="rk-message")
        name, self._unknown = _signed_in(a)
        self.expert = make_control(
            w.Text, value=name, description="评估专家", placeholder="未识别登录身份", disabled=True
        )
        self.reason = make_control(
            w.Text, description="修改说明", placeholder="本次修改的原因", layout=shared_layout(width="40em")
        )
        self.save_button = make_control(
            w.Button, description="保存评分", button_style="primary", icon="save", classes=("rk-save",)
        )
        self.save_button.on_click(lambda _b: self.save())
        self.tabs = self._tabs()
        footer = hbox([self.expert, self.reason, self.save_button])
        top = vbox([self.header, footer, self.message], ("rk-top",))  # sticky: stays in view
        self.widget = vbox([html_text(CSS), top, self.tabs], ("rk-form",))
        self.refresh()

    @property
    def bonus(self) -> dict[str, tuple[w.Checkbox, w.Text]]:
        """The bonus items' controls, made when first needed (their page is shown)."""
        if self._bonus is None:
            self._bonus = self._bonus_controls(self._loaded)
            for pair in self._bonus.values():
                for control in pair:
                    control.observe(self._on_change, names="value")
        return self._bonus

    @property
    def veto(self) -> dict[str, tuple[w.Dropdown, w.Text]]:
        """The veto clauses' controls, made when first needed (their page is shown)."""
        if self._veto is None:
            self._veto = self._veto_controls(self._loaded)
            for pair in self._veto.values():
                for control in pair:
                    control.observe(self._on_change, names="value")
        return self._veto

    # building -----------------------------------------------------------------------------------
    @staticmethod
    def _record_controls(r: CreditRecord, sheet: Sheet) -> RecordControls:
        dismiss = make_control(
            w.Checkbox,
            value=r.id in sheet.dismissed,
            description="排除",
            indent=False,
            layout=shared_layout(width="5em"),
            classes=(f"rk-dismiss-{r.id}",),
        )
        reason = make_control(
            w.Text,
            value=sheet.dismissed.get(r.id, ""),
            placeholder="排除理由（必填）",
            layout=shared_layout(width="24em"),
            classes=(f"rk-dismiss-reason-{r.id}",),
        )
        return RecordControls(r, dismiss, reason, html_text(cls="rk-field-error"))

    def _indicator(self, number: int) -> IndicatorControls:
        ind = self.rubric.indicators[number]
        j = self._loaded.indicators.get(number)
        ticks = j.ticks if j else {}
        pairs = [make_item_control(it, ticks.get(it.id, 0)) for it in ind.items]
        free = [make_free_row(ind, e) for e in (j.free if j else ())] + [make_free_row(ind, None)]
        c = IndicatorControls(
            ind,
            make_control(
                w.Checkbox,
                value=j is not None,
                description="已评",
                indent=False,
                layout=shared_layout(width="5em"),
                classes=(f"rk-judged-{number}",),
            ),
            {it.id: control for it, (_, control) in zip(ind.items, pairs, strict=True)},
            free,
            make_control(
                w.Text,
                value=j.evidence if j else "",
                description="佐证",
                placeholder="佐证材料、档案编号",
                layout=shared_layout(width="45em"),
            ),
            j.note if j else "",
            html_text(self._current_title(ind)),
            make_control(
                w.ToggleButton,
                description="历史",
                icon="history",
                tooltip="查看该指标的保存历史",
                layout=shared_layout(width="6em"),
            ),
            html_text(),
            html_text(cls="rk-field-error"),
        )
        c.history_button.observe(lambda ch, c=c: self._toggle_history(c, ch["new"]), names="value")
        c.free_box = vbox([r.box for r in free])
        if not ind.needs_judgment:  # scored from the credit records alone: nothing for the expert to judge
            rows = [hbox([c.title, c.history_button]), c.history, *self._record_rows(ind)]
        else:
            add = make_control(
                w.Button,
                classes=("rk-free-add",),
                description=f"添加自由{verb_of(ind)}",
                icon="plus",
                layout=shared_layout(width="10em"),
            )
            add.on_click(lambda _b, c=c: self.add_free_row(c))
            rows = [hbox([c.judged, c.title, c.history_button]), c.history]
            rows += [box for box, _ in pairs]
            rows += [c.count_note, c.free_box, add, c.evidence, *self._record_rows(ind)]
        c.box = vbox(rows, ("rk-indicator", f"rk-indicator-{ind.number}"))
        handler = self._indicator_handler(c)
        for control in [*c.items.values(), c.judged, c.evidence]:
            control.observe(handler, names="value")
        for r in c.free:
            self._watch_free(c, r)
        return c

    def add_free_row(self, c: IndicatorControls) -> FreeRow:
        """A new empty free-deduction row under the indicator, live at once (no re-run)."""
        r = make_free_row(c.ind, None)
        c.free.append(r)
        c.free_box.children = [*c.free_box.children, r.box]
        self._watch_free(c, r)
        return r

    def remove_free_row(self, c: IndicatorControls, r: FreeRow) -> None:
        """Drop a free-deduction row; the header re-scores without it."""
        c.free.remove(r)
        c.free_box.children = [x for x in c.free_box.children if x is not r.box]
        c.sync_judged()
        self.refresh()

    def _record_rows(self, ind: Indicator) -> list[w.Widget]:
        """The credit records scoring maps to this indicator (counted, dismissed or outside the window)."""
        rows: list[w.Widget] = []
        lines = next(ir.lines for ir in self._undismissed.indicators if ir.number == ind.number)
        for ln in (ln for ln in lines if ln.kind in RECORD_KINDS and ln.ref in self.records):
            rc = self.records[ln.ref]
            r = rc.record
            effect = (
                f"{'扣' if ln.points < 0 else '加'} {number_text(abs(ln.points))} 分" if ln.kind == "record" else ""
            )
            effect = effect or "不在回溯期内，不计分"
            label = html_text(self._record_text(rc, effect), cls=f"rk-record-{r.id}")
            rc.labels.append((label, effect))
            rows += [label, hbox([rc.dismiss, rc.reason, rc.note], margin="0 0 0 2em", flex_flow="row wrap")]
        return rows

    @classmethod
    def _record_label(cls, rc: RecordControls, label: w.HTML, effect: str) -> None:
        value = cls._record_text(rc, effect)
        if label.value != value:
            label.value = value

    @staticmethod
    def _record_text(rc: RecordControls, effect: str) -> str:
        r = rc.record
        shown = "已排除，不计分" if rc.dismiss.value else effect
        return (
            f"信用记录 {escape(r.id)}：{escape(r.type)}（{escape(r.severity)}，{escape(r.authority)}，"
            f"{r.date.isoformat()}）{escape(r.summary)} → <b>{escape(shown)}</b>"
        )

    def _bonus_controls(self, sheet: Sheet) -> dict[str, tuple[w.Checkbox, w.Text]]:
        out = {}
        for b in self.rubric.bonus.items:
            box = make_control(
                w.Checkbox,
                classes=(
                    "rk-item",
                    f"rk-bonus-{b.id}",
                ),
                value=b.id in sheet.bonus,
                description=b.text,
                indent=False,
                tooltip=b.text,
            )
            ev = make_control(
                w.Text, value=sheet.bonus.get(b.id, ""), placeholder="佐证材料", layout=shared_layout(width="40em")
            )
            out[b.id] = (box, ev)
        return out

    def _veto_controls(self, sheet: Sheet) -> dict[str, tuple[w.Dropdown, w.Text]]:
        out = {}
        centre = self.a.stage == "复核"  # confirming or rejecting a veto is the centre's review, not the site visit
        for clause in self.rubric.veto_clauses:
            d = sheet.veto.get(clause)
            decided = d is not None and d.status in ("confirmed", "rejected")
            options = VETO_OPTIONS if centre or decided else VETO_OPTIONS[:2]
            status = make_control(
                w.Dropdown,
                classes=(f"rk-veto-{clause}",),
                options=options,
                value=d.status if d else "",
                disabled=decided and not centre,
                layout=shared_layout(width="16em"),
            )
            reason = make_control(
                w.Text,
                value=d.reason if d else "",
                placeholder="事实与理由（提出时必填）",
                layout=shared_layout(width="32em"),
            )
            out[clause] = (status, reason)
            self._veto_notes[clause] = html_text(cls="rk-field-error")
        return out

    def _tabs(self) -> w.Tab:
        """One tab per first-level indicator, then bonus and veto. Only the shown tab holds its page: the
        others are empty until selected, so the browser renders one page's widgets instead of all of them."""
        self._pages: list[Callable[[], w.Widget]] = []
        self._place: dict[int, tuple[int, int]] = {}  # indicator -> (tab, accordion section)
        titles = []
        for t, lv in enumerate(self.rubric.levels):
            for s, g in enumerate(lv.groups):
                self._place.update({i.number: (t, s) for i in g.indicators})
            self._pages.append(lambda lv=lv: self._level_page(lv))
            titles.append(f"{lv.name}（{number_text(lv.points)}分）")
        self._pages += [self._bonus_page, self._veto_page, self._opinion_page]
        titles += [f"加分项（上限{number_text(self.rubric.bonus.cap)}分）", "否定项", "专家组意见"]
        self._built: dict[int, w.Widget] = {}
        tabs = w.Tab(children=[vbox([]) for _ in titles], titles=titles, selected_index=0)
        tabs.observe(lambda ch: self._show_page(ch["new"]), names="selected_index")
        self._show_page(0, tabs)
        return tabs

    def _show_page(self, index: int | None, tabs: w.Tab | None = None) -> w.Widget | None:
        """Fill tab `index` with its page the first time it is shown."""
        tabs = tabs or self.tabs
        if index is None:
            return None
        if index not in self._built:
            self._built[index] = self._pages[index]()
            tabs.children[index].children = [self._built[index]]
        return self._built[index]

    def _level_page(self, lv) -> w.Accordion:
        """A first-level indicator's page: one section per second-level group, each filled when first opened."""
        names = [group_title(g.number, g.name, g.inferred) for g in lv.groups]
        page = w.Accordion(children=[vbox([]) for _ in lv.groups], titles=names, selected_index=0)

        def fill(index: int | None) -> None:
            if index is not None and not page.children[index].children:
                page.children[index].children = [self.indicators[i.number].box for i in lv.groups[index].indicators]

        page.observe(lambda ch: fill(ch["new"]), names="selected_index")
        fill(0)
        return page

    def show(self, fault: Fault) -> None:
        """Turn the form to a fault's field: its tab and accordion section (ipywidgets cannot scroll)."""
        if fault.indicator is not None:
            tab, section = self._place[fault.indicator]
            self.tabs.selected_index = tab
            page = self._show_page(tab)
            if isinstance(page, w.Accordion):
                page.selected_index = section
        elif fault.page:
            self.tabs.selected_index = list(self.tabs.titles).index(fault.page)

    def _bonus_page(self) -> w.VBox:
        note = html_text(f"<span class='rk-note'>{escape(self.rubric.bonus.description)}</span>")
        return vbox([note] + [vbox([box, ev]) for box, ev in self.bonus.values()])

    def _veto_page(self) -> w.VBox:
        raised = {v.clause: [x for x in v.raised_by if x in self.records] for v in self._undismissed.veto}
        rows = [html_text(f"<span class='rk-note'>{escape(VETO_NOTE)}</span>")]
        for clause, text in self.rubric.veto_clauses.items():
            rids = "、".join(raised.get(clause, []))
            by = f"<span class='rk-pending-badge'>（已由信用记录 {rids} 提出，待核实）</span>" if rids else ""
            label = html_text(f"<b>第 {escape(clause)} 条</b>　{escape(text)}{by}")
            status, reason = self.veto[clause]
            rows += [label, hbox([status, reason, self._veto_notes[clause]], flex_flow="row wrap")]
        return vbox(rows)

    @property
    def opinion(self) -> w.Textarea:
        """The group's 专家组意见, made when first needed (its page is shown); signed with the sheet."""
        if self._opinion is None:
            self._opinion = make_control(
                w.Textarea,
                value=self._loaded.opinion,
                placeholder="评估专家组对该机构的综合意见（随评分表一并签字）",
                layout=shared_layout(width="100%", height="10em"),
            )
            self._opinion.observe(self._on_change, names="value")
        return self._opinion

    def _opinion_page(self) -> w.VBox:
        return vbox(
            [html_text("<span class='rk-note'>专家组意见写入评估报告的“专家组意见”一节。</span>"), self.opinion]
        )

    def _watch_free(self, c: IndicatorControls, r: FreeRow) -> None:
        handler = self._indicator_handler(c)
        r.points.observe(lambda ch: self._clamp(c, r) or handler(ch), names="value")
        r.reason.observe(handler, names="value")
        r.remove.on_click(lambda _b: self.remove_free_row(c, r))

    @staticmethod
    def _clamp(c: IndicatorControls, r: FreeRow) -> bool:
        """Bring typed points into 0..maximum and say so under the row; True when it changed the value
        (the change re-enters the observer, which then refreshes)."""
        value = float(r.points.value or 0)
        top = c.ind.max_points
        if value > top:
            r.points.value = top
            r.note.value = f"<span class='rk-clamp'>已按上限 {number_text(top)} 计（输入 {number_text(value)}）</span>"
            return True
        if value < 0:
            r.points.value = 0.0
            r.note.value = f"<span class='rk-clamp'>分值不能为负，已按 0 计（输入 {number_text(value)}）</span>"
            return True
        if value != top and "rk-clamp" in r.note.value:
            r.note.value = ""
        return False

    def _indicator_handler(self, c: IndicatorControls) -> Callable[[dict], None]:
        def handler(_change: dict) -> None:
            self.refresh()  # first: the header is the expert's answer, the first message back
            c.sync_judged()  # content implies judged, so the score above does not depend on it

        return handler

    def _on_change(self, _change: dict) -> None:
        self.refresh()

    # state --------------------------------------------------------------------------------------
    def sheet(self, expert: str = "") -> Sheet:
        """The sheet the widgets currently describe (scorable even while reasons are still missing)."""
        loaded, built = self._loaded, self.indicators.built
        indicators = {
            n: j
            for n in self.rubric.indicators
            if (j := built[n].judgment() if n in built else loaded.indicators.get(n)) is not None
        }
        dismissed = {rid: rc.reason.value for rid, rc in self.records.items() if rc.dismiss.value}
        bonus = dict(loaded.bonus)
        if self._bonus is not None:
            bonus = {bid: ev.value for bid, (box, ev) in self._bonus.items() if box.value}
        veto = dict(loaded.veto)
        if self._veto is not None:
            veto = {
                clause: VetoDecision(
                    status.value, reason.value, self._veto_by(clause, status.value, reason.value, expert)
                )
                for clause, (status, reason) in self._veto.items()
                if status.value
            }
        opinion = loaded.opinion if self._opinion is None else self._opinion.value
        # the centre's 人社 findings are not the form's to change: carried through as stored
        return Sheet(indicators, dismissed, bonus, veto, self._adjustments, opinion, dict(loaded.findings))

    def _veto_by(self, clause: str, status: str, reason: str, expert: str) -> str:
        """Who made a veto decision: kept while unchanged, else the expert saving it."""
        prev = self._shown.get(veto_key(self.rubric, clause))
        if prev and prev.get("status") == status and prev.get("reason") == reason:
            return prev.get("by", "")
        return expert

    def problems(self) -> list[str]:
        """Every reason the current input cannot be saved, in Chinese."""
        return [f.message for f in self.faults()]

    def faults(self) -> list[Fault]:
        """The problems with the fields they belong to, in the order of the form."""
        out = [f for c in self.indicators.built.values() for f in c.faults()]
        for rid, rc in self.records.items():
            if rc.dismiss.value and not rc.reason.value.strip():
                where = self._record_indicator(rid)
                out.append(Fault(f"排除信用记录 {rid} 未填写理由", "请填写排除理由", (rc.reason,), rc.note, where))
        veto_page = list(self.tabs.titles)[-1]
        for clause, (status, reason) in (self._veto or {}).items():
            if status.value and not reason.value.strip():
                text = f"否定项第 {clause} 条（{VETO_LABEL[status.value]}）未填写事实与理由"
                out.append(Fault(text, "请填写事实与理由", (reason,), self._veto_notes[clause], page=veto_page))
        if self._unknown:
            out.append(Fault(self._unknown, "", (self.expert,), None))
        return out

    def _record_indicator(self, rid: str) -> int | None:
        """The first indicator a record is shown under."""
        return next(
            (ir.number for ir in self._undismissed.indicators for ln in ir.lines if ln.ref == rid),
            None,
        )

    def _mark(self, faults: list[Fault]) -> None:
        """Red borders and a line under each faulty field; clears the marks of faults now fixed."""
        for f in self._marked:
            for control in f.controls:
                control.remove_class("rk-invalid")
            if f.note is not None and "rk-clamp" not in f.note.value:
                f.note.value = ""
        notes: dict[int, list[str]] = {}
        for f in faults:
            for control in f.controls:
                control.add_class("rk-invalid")
            if f.note is not None:
                notes.setdefault(id(f.note), []).append(f.short)
        for f in faults:
            if f.note is not None and id(f.note) in notes:
                f.note.value = "".join(f"<div>{escape(x)}</div>" for x in notes.pop(id(f.note)))
        self._marked = faults

    def changes(self, sheet: Sheet) -> dict[str, dict | None]:
        """Keys whose content differs from what the form was loaded with; removed keys map to None."""
        new = sheet_to_entries(sheet, self.rubric)
        return {k: new.get(k) for k in keys_changed(self._shown, new)}

    # header -------------------------------------------------------------------------------------
    def refresh(self) -> Result:
        """Re-score the widget state and update the header and the indicator titles (no store access)."""
        self.result = self.a.score(self.sheet())
        self.header.value = self._header_html(self.result)
        for rc in self.records.values():
            for label, effect in rc.labels:
                self._record_label(rc, label, effect)
        if self._marking:
            self._mark(self.faults())
        built = self.indicators.built
        for ir in self.result.indicators:
            if ir.number in built:
                title = self._title_html(built[ir.number].ind, ir.score, ir.pending)
                if built[ir.number].title.value != title:
                    built[ir.number].title.value = title
        return self.result

    def _header_html(self, r: Result) -> str:
        a = self.a
        mark = f" <span class='rk-mark'>{escape(a.mark)}</span>" if a.mark else ""
        grade = grade_text(r)
        gap = escape(next_grade_text(r))
        if r.pending:
            gap += f"<div class='rk-note'>{escape(total_note(r))}</div>"
        veto = "".join(
            f"<div class='rk-error'>否定项第 {escape(v.clause)} 条已确认：{escape(v.reason)}，等级为 {escape(r.grade or '')}</div>"
            for v in r.effective_veto
        )
        return (
            f"<div class='rk-head'><div style='font-size:1.2em'><b>{a.institution.number} {escape(r.name)}</b>"
            f"（{escape(r.klass)}）{mark}</div>"
            f"<div>评估基准日 {r.as_of.isoformat()} · 阶段 {escape(a.stage)} · 数据集 {escape(a.dataset)}</div>"
            f"<div style='font-size:1.15em'>总分 <b><span class='rk-total'>{number_text(r.total)}</span></b>"
            f" / {number_text(self.rubric.meta.total_points)}（含加分 {number_text(r.bonus)}）"
            f" · 等级 <b><span class='rk-grade'>{escape(grade)}</span></b>"
            f" · 状态 <span class='rk-status'>{STATUS_ZH[r.status]}</span>"
            f" · 待评 <span class='rk-pending'>{len(r.pending)}</span> 项"
            f"{'（' + '、'.join(map(str, r.pending)) + '）' if r.pending else ''} · {gap}</div>{veto}</div>"
        )

    def _current_title(self, ind: Indicator) -> str:
        ir = next(x for x in self.result.indicators if x.number == ind.number)
        return self._title_html(ind, ir.score, ir.pending)

    def _title_html(self, ind: Indicator, score: float, pending: bool) -> str:
        style = BASE_ZH[ind.base]
        auto = "" if ind.needs_judgment else " · 按信用记录计分，无需专家评判"
        if ind.finding is not None:
            auto = " · 由省职鉴中心录入人社部门数据，无需专家评判"
        badge = " <span class='rk-pending-badge'>待评</span>" if pending else ""
        return (
            f"<b>{ind.number}. {escape(ind.name)}</b>　满分 {number_text(ind.max_points)} 分 · {style}"
            f" · 信息来源：{escape('、'.join(ind.sources))}{auto}"
            f" · 当前 <b><span class='rk-score'>{number_text(score)}</span></b> 分{badge}"
        )

    # history ------------------------------------------------------------------------------------
    def _toggle_history(self, c: IndicatorControls, shown: bool) -> None:
        c.history.value = self._history_html(c.ind) if shown else ""

    def _history_html(self, ind: Indicator) -> str:
        versions = self.a.history(indicator_key(self.rubric, ind.number))
        if not versions:
            return "<div class='rk-history rk-note'>评分库中尚无该指标的保存记录</div>"
        rows = "".join(
            f"<tr><td>{v.seq}</td><td>{escape(v.expert)}</td><td>{local_time(v.created_at)}</td>"
            f"<td>{escape(v.stage)}</td><td>{escape(describe_version(self.rubric, v.key, v.content))}</td><td>{escape(v.reason or '—')}</td></tr>"
            for v in reversed(versions)
        )
        head = "<tr><th>版本</th><th>专家</th><th>时间</th><th>阶段</th><th>内容</th><th>修改说明</th></tr>"
        return f"<table class='rk-history'>{head}{rows}</table>"

    # saving -------------------------------------------------------------------------------------
    def save(self) -> list[Version]:
        """Validate, then store the changed keys; every outcome is reported in the message area."""
        faults = self.faults()
        self._marking = bool(faults)
        self._mark(faults)
        if faults:
            self.show(next((f for f in faults if f.indicator is not None or f.page), faults[0]))
        expert = self.expert.value.strip()
        sheet = self.sheet(expert)
        problems = [f.message for f in faults] or [f.message for f in self.a.check(sheet)]
        if problems:
            items = "".join(f"<li>{escape(p)}</li>" for p in problems)
            return self._say(f"未保存，请先修正以下 {len(problems)} 个问题：<ul>{items}</ul>", ok=False)
        changes = self.changes(sheet)
        if not changes:
            return self._say("没有需要保存的修改。", ok=True)
        try:
            written = self.a.save(changes, self._base, reason=self.reason.value.strip())
        except StaleSave as exc:  # named as the expert reads them: the item, who changed it, when and why
            changed = "；".join(
                f"{self._label(v.key)} 已由 {v.expert} 于 {local_time(v.created_at)} 修改（{v.reason or '无说明'}）"
                for v in exc.conflicts
            )
            return self._say(
                escape(
                    f"保存被拒绝：您编辑期间评分已被他人修改。{changed}"
                    "（重新运行表单所在单元格可载入最新评分，然后重新填写本次修改）"
                ),
                ok=False,
            )
        except StoreError as exc:
            return self._say(escape(str(exc)), ok=False)
        return self._saved(written)

    def _saved(self, written: list[Version]) -> list[Version]:
        for v in written:
            self._base[v.key] = v.seq
            if v.content is None:
                self._shown.pop(v.key, None)
            else:
                self._shown[v.key] = v.content
        fresh = self.a.snapshot(refresh=True).base
        others = sorted(k for k, seq in fresh.items() if self._base.get(k) != seq)
        for c in self.indicators.built.values():
            if c.history_button.value:
                self._toggle_history(c, True)
        text = f"已保存 {len(written)} 项：{escape('、'.join(self._label(v.key) for v in written))}"
        if others:
            text += (
                f"<div class='rk-note'>注意：他人在此期间修改了 {escape('、'.join(map(self._label, others)))}，"
                "重新运行本单元格可载入最新评分。</div>"
            )
        return self._say(text, ok=True, result=written)

    def _label(self, key: str) -> str:
        return key_label(self.rubric, key)

    def _say(self, text: str, ok: bool, result: list[Version] | None = None) -> list[Version]:
        self.message.value = f"<div class='{'rk-ok' if ok else 'rk-error'}'>{text}</div>"
        return result or []
