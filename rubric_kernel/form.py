"""The interactive scoring form: ipywidgets generated from the rubric, working on one Assessment.

Nothing here knows an indicator by number: tabs, sections, rule items, records, bonus items and veto
clauses all come from the rubric and the dataset. Every change rebuilds a Sheet from the widget state
and re-scores it (pure, about a millisecond) to refresh the header; only the save button touches the
store. A save sends just the keys that differ from what the form was loaded with, based on the version
numbers the form saw, so a save made against a stale sheet is refused instead of overwriting.

Each widget is a model the browser fetches over the kernel's comm channel; the whole form is about
1,300 of them. So an indicator's controls are made only when its section is first opened (an unopened
one keeps its stored judgment), and controls share one layout and one style model per kind: a shown
form is under a hundred models, which JupyterLab restores reliably and renders at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from html import escape
from typing import TypeVar

import ipywidgets as w

from .assessment import Assessment
from .evidence import CreditRecord
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
from .rubric import Indicator, RuleItem
from .scoring import Result
from .sheet import FreeEntry, IndicatorJudgment, Sheet, VetoDecision
from .sheet_codec import Entries, indicator_key, sheet_to_entries, veto_key
from .store import StaleSave, StoreError, Version, keys_changed

W = TypeVar("W", bound=w.Widget)
MAX_COUNT = 99  # occurrences an expert may enter for a counted rule item ("每人次")
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


def _fmt(x: float) -> str:
    return f"{round(x, 4):g}"


def _layout(**kw: str) -> w.Layout:
    """One shared Layout per distinct setting: the form never changes a layout, and each Layout is a
    widget model of its own (hundreds of identical ones made the form slower to build and render)."""
    return _shared(w.Layout, **kw)


def _style(cls: type[w.Widget]) -> w.Widget:
    """One shared default style per style class, for the same reason: every control otherwise makes
    its own style model, a third of the comm messages the form sent."""
    return _shared(cls)


def _shared(cls: type[w.Widget], **kw: str) -> w.Widget:
    key = (cls, tuple(sorted(kw.items())))
    if key not in _SHARED or _SHARED[key].comm is None:  # None: closed (e.g. Widget.close_all)
        _SHARED[key] = cls(**kw)
    return _SHARED[key]


_SHARED: dict[tuple[type, tuple[tuple[str, str], ...]], w.Widget] = {}


def _signed_in(a: Assessment) -> tuple[str, str]:
    """(the registered name of the person behind the login, why there is none): the form never asks
    for a name, so a re-run cannot clear it and nobody can type another's."""
    from . import identity

    try:
        return identity.current(a.store, a.dataset).name, ""
    except StoreError as exc:
        return "", str(exc)


def _w(cls: type[W], layout: w.Layout | None = None, classes: tuple[str, ...] = (), **kw) -> W:
    """A control with the shared layout, the shared default style of its class and its CSS classes, all
    given at construction: a change after it is one more comm message per widget."""
    style = cls.class_traits().get("style")
    extra = {"style": _style(style.klass)} if style is not None else {}
    return cls(layout=layout or _layout(), _dom_classes=classes, **extra, **kw)


def _html(value: str = "", cls: str = "") -> w.HTML:
    """A static or updated piece of text."""
    return _w(w.HTML, value=value, classes=(cls,) if cls else ())


def _hbox(children: list[w.Widget], classes: tuple[str, ...] = (), **kw: str) -> w.HBox:
    return w.HBox(children, layout=_layout(**kw), _dom_classes=classes)


def _vbox(children: list[w.Widget], classes: tuple[str, ...] = (), **kw: str) -> w.VBox:
    return w.VBox(children, layout=_layout(**kw), _dom_classes=classes)


@dataclass
class _FreeRow:
    """One free deduction (or addition): points, reason, a remove button and a line for its notes."""

    points: w.FloatText
    reason: w.Text
    remove: w.Button
    note: w.HTML  # the clamp notice or the row's fault, beside the row
    box: w.HBox


@dataclass
class _RecordControls:
    """One credit record's dismissal; shown under every indicator the record touches (same widgets)."""

    record: CreditRecord
    dismiss: w.Checkbox
    reason: w.Text
    note: w.HTML  # the row's fault, under the reason box
    labels: list[tuple[w.HTML, str]] = field(default_factory=list)  # (label, its text before the effect)


@dataclass
class _IndicatorControls:
    ind: Indicator
    judged: w.Checkbox
    items: dict[str, w.Checkbox | w.IntText]
    free: list[_FreeRow]
    evidence: w.Text
    note: str  # kept from the stored judgment; the form does not edit it
    title: w.HTML
    history_button: w.ToggleButton
    history: w.HTML
    count_note: w.HTML  # faults of the count boxes, under the rule items
    free_box: w.VBox = field(init=False)
    box: w.VBox = field(init=False)

    def ticks(self) -> dict[str, int]:
        out = {}
        for item_id, control in self.items.items():
            count = int(control.value)
            if count > 0:
                out[item_id] = count
        return out

    def free_entries(self) -> tuple[FreeEntry, ...]:
        return tuple(FreeEntry(_points(r), r.reason.value) for r in self.free if _points(r) > 0)

    def has_content(self) -> bool:
        return bool(
            self.ticks() or any(_points(r) > 0 or r.reason.value.strip() for r in self.free) or self.evidence.value
        )

    def judgment(self) -> IndicatorJudgment | None:
        if not (self.judged.value or self.has_content()):
            return None
        return IndicatorJudgment(self.ticks(), self.free_entries(), self.evidence.value, self.note)

    def sync_judged(self) -> None:
        """Any deduction or evidence makes the indicator judged; 已评 can be unticked only when empty."""
        content = self.has_content()
        if content:
            self.judged.value = True
        self.judged.disabled = content

    def faults(self) -> list[_Fault]:
        where = f"指标 {self.ind.number} {self.ind.name}"
        verb = _verb(self.ind)
        out = []
        for item_id, control in self.items.items():
            if isinstance(control, w.IntText) and not 0 <= control.value <= MAX_COUNT:
                text = f"细则 {item_id} 的次数 {control.value} 超出范围 0–{MAX_COUNT}"
                out.append(_Fault(f"{where}：{text}", text, (control,), self.count_note, self.ind.number))
        for r in self.free:
            if _points(r) > 0 and not r.reason.value.strip():
                text = f"自由{verb} {_fmt(_points(r))} 分未填写理由"
                out.append(_Fault(f"{where}：{text}", text, (r.reason,), r.note, self.ind.number))
            elif _points(r) <= 0 and r.reason.value.strip():
                text = f"填写了自由{verb}理由，但分值为 0"
                out.append(_Fault(f"{where}：{text}", text, (r.points,), r.note, self.ind.number))
        return out


@dataclass(frozen=True)
class _Fault:
    """Why the input cannot be saved: the full line for the header, the short one beside the field."""

    message: str
    short: str
    controls: tuple[w.Widget, ...]  # given a red border
    note: w.HTML | None  # the line under the field where `short` is shown
    indicator: int | None = None  # where the form turns to show it (None: the page named by `page`)
    page: str = ""


def _points(r: _FreeRow) -> float:
    """The row's points as scored: what was typed, clamped to 0..maximum (the row says when it clamps)."""
    return float(r.points.value or 0)


def _verb(ind: Indicator) -> str:
    return "扣分" if ind.base == "full" else "加分"


def _item_control(it: RuleItem, count: int) -> tuple[w.Widget, w.Checkbox | w.IntText]:
    """A checkbox for a yes/no rule item, a count box for one that counts occurrences."""
    if not it.unit:
        box = _w(
            w.Checkbox,
            classes=(
                "rk-item",
                f"rk-item-{it.id}",
            ),
            value=count > 0,
            description=f"{it.id}　{it.text}",
            indent=False,
            tooltip=it.text,
        )
        return box, box
    count_box = _w(
        w.IntText,
        classes=(
            "rk-item-count",
            f"rk-item-{it.id}",
        ),
        value=count,
        layout=_layout(width="5.5em"),
        tooltip=f"次数（{it.unit}）",
    )
    label = _html(f"{escape(it.id)}　{escape(it.text)} <span class='rk-note'>（填写{escape(it.unit)}数）</span>")
    return _hbox([count_box, label]), count_box


def _free_row(ind: Indicator, entry: FreeEntry | None) -> _FreeRow:
    """A plain FloatText, clamped by the form rather than the browser, so the row can say it clamped."""
    points = _w(
        w.FloatText,
        classes=("rk-free-points",),
        value=entry.points if entry else 0.0,
        step=0.5,
        description=f"自由{_verb(ind)}",
        layout=_layout(width="13em"),
    )
    reason = _w(
        w.Text,
        classes=("rk-free-reason",),
        value=entry.reason if entry else "",
        placeholder=f"{_verb(ind)}理由（填写分值时必填）",
        layout=_layout(width="32em"),
    )
    remove = _w(
        w.Button,
        classes=("rk-free-remove",),
        description="删除",
        icon="trash",
        tooltip="删除这一行",
        layout=_layout(width="6em"),
    )
    note = _html(cls="rk-field-error")
    box = _hbox([points, reason, remove, note], ("rk-free-row",), flex_flow="row wrap", align_items="center")
    return _FreeRow(points, reason, remove, note, box)


class _Lazy(Mapping[int, _IndicatorControls]):
    """Every indicator's controls, each made the first time it is asked for (its section is shown, or a
    fault or a test needs it): a whole form is a few thousand widget models, one section a few dozen."""

    def __init__(self, numbers: list[int], make: Callable[[int], _IndicatorControls]):
        self._numbers = numbers
        self._make = make
        self.built: dict[int, _IndicatorControls] = {}

    def __getitem__(self, n: int) -> _IndicatorControls:
        if n not in self.built:
            if n not in self._numbers:
                raise KeyError(n)
            self.built[n] = self._make(n)
        return self.built[n]

    def __iter__(self) -> Iterator[int]:
        return iter(self._numbers)

    def __len__(self) -> int:
        return len(self._numbers)


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
        self.indicators = _Lazy(list(self.rubric.indicators), self._indicator)
        self._bonus: dict[str, tuple[w.Checkbox, w.Text]] | None = None
        self._veto: dict[str, tuple[w.Dropdown, w.Text]] | None = None
        self._opinion: w.Textarea | None = None
        self._veto_notes: dict[str, w.HTML] = {}
        self._marking = False  # after a refused save, faults are marked beside their fields and kept current
        self._marked: list[_Fault] = []
        self.header = _html(self._header_html(self.result), cls="rk-header")
        self.message = _html(cls="rk-message")
        name, self._unknown = _signed_in(a)
        self.expert = _w(w.Text, value=name, description="评估专家", placeholder="未识别登录身份", disabled=True)
        self.reason = _w(w.Text, description="修改说明", placeholder="本次修改的原因", layout=_layout(width="40em"))
        self.save_button = _w(
            w.Button, description="保存评分", button_style="primary", icon="save", classes=("rk-save",)
        )
        self.save_button.on_click(lambda _b: self.save())
        self.tabs = self._tabs()
        footer = _hbox([self.expert, self.reason, self.save_button])
        top = _vbox([self.header, footer, self.message], ("rk-top",))  # sticky: stays in view
        self.widget = _vbox([_html(CSS), top, self.tabs], ("rk-form",))
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
    def _record_controls(r: CreditRecord, sheet: Sheet) -> _RecordControls:
        dismiss = _w(
            w.Checkbox,
            value=r.id in sheet.dismissed,
            description="排除",
            indent=False,
            layout=_layout(width="5em"),
            classes=(f"rk-dismiss-{r.id}",),
        )
        reason = _w(
            w.Text,
            value=sheet.dismissed.get(r.id, ""),
            placeholder="排除理由（必填）",
            layout=_layout(width="24em"),
            classes=(f"rk-dismiss-reason-{r.id}",),
        )
        return _RecordControls(r, dismiss, reason, _html(cls="rk-field-error"))

    def _indicator(self, number: int) -> _IndicatorControls:
        ind = self.rubric.indicators[number]
        j = self._loaded.indicators.get(number)
        ticks = j.ticks if j else {}
        pairs = [_item_control(it, ticks.get(it.id, 0)) for it in ind.items]
        free = [_free_row(ind, e) for e in (j.free if j else ())] + [_free_row(ind, None)]
        c = _IndicatorControls(
            ind,
            _w(
                w.Checkbox,
                value=j is not None,
                description="已评",
                indent=False,
                layout=_layout(width="5em"),
                classes=(f"rk-judged-{number}",),
            ),
            {it.id: control for it, (_, control) in zip(ind.items, pairs, strict=True)},
            free,
            _w(
                w.Text,
                value=j.evidence if j else "",
                description="佐证",
                placeholder="佐证材料、档案编号",
                layout=_layout(width="45em"),
            ),
            j.note if j else "",
            _html(self._current_title(ind)),
            _w(
                w.ToggleButton,
                description="历史",
                icon="history",
                tooltip="查看该指标的保存历史",
                layout=_layout(width="6em"),
            ),
            _html(),
            _html(cls="rk-field-error"),
        )
        c.history_button.observe(lambda ch, c=c: self._toggle_history(c, ch["new"]), names="value")
        c.free_box = _vbox([r.box for r in free])
        if not ind.needs_judgment:  # scored from the credit records alone: nothing for the expert to judge
            rows = [_hbox([c.title, c.history_button]), c.history, *self._record_rows(ind)]
        else:
            add = _w(
                w.Button,
                classes=("rk-free-add",),
                description=f"添加自由{_verb(ind)}",
                icon="plus",
                layout=_layout(width="10em"),
            )
            add.on_click(lambda _b, c=c: self.add_free_row(c))
            rows = [_hbox([c.judged, c.title, c.history_button]), c.history]
            rows += [box for box, _ in pairs]
            rows += [c.count_note, c.free_box, add, c.evidence, *self._record_rows(ind)]
        c.box = _vbox(rows, ("rk-indicator", f"rk-indicator-{ind.number}"))
        handler = self._indicator_handler(c)
        for control in [*c.items.values(), c.judged, c.evidence]:
            control.observe(handler, names="value")
        for r in c.free:
            self._watch_free(c, r)
        return c

    def add_free_row(self, c: _IndicatorControls) -> _FreeRow:
        """A new empty free-deduction row under the indicator, live at once (no re-run)."""
        r = _free_row(c.ind, None)
        c.free.append(r)
        c.free_box.children = [*c.free_box.children, r.box]
        self._watch_free(c, r)
        return r

    def remove_free_row(self, c: _IndicatorControls, r: _FreeRow) -> None:
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
            effect = f"{'扣' if ln.points < 0 else '加'} {_fmt(abs(ln.points))} 分" if ln.kind == "record" else ""
            effect = effect or "不在回溯期内，不计分"
            label = _html(self._record_text(rc, effect), cls=f"rk-record-{r.id}")
            rc.labels.append((label, effect))
            rows += [label, _hbox([rc.dismiss, rc.reason, rc.note], margin="0 0 0 2em", flex_flow="row wrap")]
        return rows

    @classmethod
    def _record_label(cls, rc: _RecordControls, label: w.HTML, effect: str) -> None:
        value = cls._record_text(rc, effect)
        if label.value != value:
            label.value = value

    @staticmethod
    def _record_text(rc: _RecordControls, effect: str) -> str:
        r = rc.record
        shown = "已排除，不计分" if rc.dismiss.value else effect
        return (
            f"信用记录 {escape(r.id)}：{escape(r.type)}（{escape(r.severity)}，{escape(r.authority)}，"
            f"{r.date.isoformat()}）{escape(r.summary)} → <b>{escape(shown)}</b>"
        )

    def _bonus_controls(self, sheet: Sheet) -> dict[str, tuple[w.Checkbox, w.Text]]:
        out = {}
        for b in self.rubric.bonus.items:
            box = _w(
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
            ev = _w(w.Text, value=sheet.bonus.get(b.id, ""), placeholder="佐证材料", layout=_layout(width="40em"))
            out[b.id] = (box, ev)
        return out

    def _veto_controls(self, sheet: Sheet) -> dict[str, tuple[w.Dropdown, w.Text]]:
        out = {}
        centre = self.a.stage == "复核"  # confirming or rejecting a veto is the centre's review, not the site visit
        for clause in self.rubric.veto_clauses:
            d = sheet.veto.get(clause)
            decided = d is not None and d.status in ("confirmed", "rejected")
            options = VETO_OPTIONS if centre or decided else VETO_OPTIONS[:2]
            status = _w(
                w.Dropdown,
                classes=(f"rk-veto-{clause}",),
                options=options,
                value=d.status if d else "",
                disabled=decided and not centre,
                layout=_layout(width="16em"),
            )
            reason = _w(
                w.Text,
                value=d.reason if d else "",
                placeholder="事实与理由（提出时必填）",
                layout=_layout(width="32em"),
            )
            out[clause] = (status, reason)
            self._veto_notes[clause] = _html(cls="rk-field-error")
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
            titles.append(f"{lv.name}（{_fmt(lv.points)}分）")
        self._pages += [self._bonus_page, self._veto_page, self._opinion_page]
        titles += [f"加分项（上限{_fmt(self.rubric.bonus.cap)}分）", "否定项", "专家组意见"]
        self._built: dict[int, w.Widget] = {}
        tabs = w.Tab(children=[_vbox([]) for _ in titles], titles=titles, selected_index=0)
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
        page = w.Accordion(children=[_vbox([]) for _ in lv.groups], titles=names, selected_index=0)

        def fill(index: int | None) -> None:
            if index is not None and not page.children[index].children:
                page.children[index].children = [self.indicators[i.number].box for i in lv.groups[index].indicators]

        page.observe(lambda ch: fill(ch["new"]), names="selected_index")
        fill(0)
        return page

    def show(self, fault: _Fault) -> None:
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
        note = _html(f"<span class='rk-note'>{escape(self.rubric.bonus.description)}</span>")
        return _vbox([note] + [_vbox([box, ev]) for box, ev in self.bonus.values()])

    def _veto_page(self) -> w.VBox:
        raised = {v.clause: [x for x in v.raised_by if x in self.records] for v in self._undismissed.veto}
        rows = [_html(f"<span class='rk-note'>{escape(VETO_NOTE)}</span>")]
        for clause, text in self.rubric.veto_clauses.items():
            rids = "、".join(raised.get(clause, []))
            by = f"<span class='rk-pending-badge'>（已由信用记录 {rids} 提出，待核实）</span>" if rids else ""
            label = _html(f"<b>第 {escape(clause)} 条</b>　{escape(text)}{by}")
            status, reason = self.veto[clause]
            rows += [label, _hbox([status, reason, self._veto_notes[clause]], flex_flow="row wrap")]
        return _vbox(rows)

    @property
    def opinion(self) -> w.Textarea:
        """The group's 专家组意见, made when first needed (its page is shown); signed with the sheet."""
        if self._opinion is None:
            self._opinion = _w(
                w.Textarea,
                value=self._loaded.opinion,
                placeholder="评估专家组对该机构的综合意见（随评分表一并签字）",
                layout=_layout(width="100%", height="10em"),
            )
            self._opinion.observe(self._on_change, names="value")
        return self._opinion

    def _opinion_page(self) -> w.VBox:
        return _vbox([_html("<span class='rk-note'>专家组意见写入评估报告的“专家组意见”一节。</span>"), self.opinion])

    def _watch_free(self, c: _IndicatorControls, r: _FreeRow) -> None:
        handler = self._indicator_handler(c)
        r.points.observe(lambda ch: self._clamp(c, r) or handler(ch), names="value")
        r.reason.observe(handler, names="value")
        r.remove.on_click(lambda _b: self.remove_free_row(c, r))

    @staticmethod
    def _clamp(c: _IndicatorControls, r: _FreeRow) -> bool:
        """Bring typed points into 0..maximum and say so under the row; True when it changed the value
        (the change re-enters the observer, which then refreshes)."""
        value = float(r.points.value or 0)
        top = c.ind.max_points
        if value > top:
            r.points.value = top
            r.note.value = f"<span class='rk-clamp'>已按上限 {_fmt(top)} 计（输入 {_fmt(value)}）</span>"
            return True
        if value < 0:
            r.points.value = 0.0
            r.note.value = f"<span class='rk-clamp'>分值不能为负，已按 0 计（输入 {_fmt(value)}）</span>"
            return True
        if value != top and "rk-clamp" in r.note.value:
            r.note.value = ""
        return False

    def _indicator_handler(self, c: _IndicatorControls) -> Callable[[dict], None]:
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

    def faults(self) -> list[_Fault]:
        """The problems with the fields they belong to, in the order of the form."""
        out = [f for c in self.indicators.built.values() for f in c.faults()]
        for rid, rc in self.records.items():
            if rc.dismiss.value and not rc.reason.value.strip():
                where = self._record_indicator(rid)
                out.append(_Fault(f"排除信用记录 {rid} 未填写理由", "请填写排除理由", (rc.reason,), rc.note, where))
        veto_page = list(self.tabs.titles)[-1]
        for clause, (status, reason) in (self._veto or {}).items():
            if status.value and not reason.value.strip():
                text = f"否定项第 {clause} 条（{VETO_LABEL[status.value]}）未填写事实与理由"
                out.append(_Fault(text, "请填写事实与理由", (reason,), self._veto_notes[clause], page=veto_page))
        if self._unknown:
            out.append(_Fault(self._unknown, "", (self.expert,), None))
        return out

    def _record_indicator(self, rid: str) -> int | None:
        """The first indicator a record is shown under."""
        return next(
            (ir.number for ir in self._undismissed.indicators for ln in ir.lines if ln.ref == rid),
            None,
        )

    def _mark(self, faults: list[_Fault]) -> None:
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
            f"<div style='font-size:1.15em'>总分 <b><span class='rk-total'>{_fmt(r.total)}</span></b>"
            f" / {_fmt(self.rubric.meta.total_points)}（含加分 {_fmt(r.bonus)}）"
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
            f"<b>{ind.number}. {escape(ind.name)}</b>　满分 {_fmt(ind.max_points)} 分 · {style}"
            f" · 信息来源：{escape('、'.join(ind.sources))}{auto}"
            f" · 当前 <b><span class='rk-score'>{_fmt(score)}</span></b> 分{badge}"
        )

    # history ------------------------------------------------------------------------------------
    def _toggle_history(self, c: _IndicatorControls, shown: bool) -> None:
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
