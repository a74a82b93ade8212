"""The form's building blocks: its controls, each indicator's and record's set of them, and the faults
they can show.

Each widget is a model the browser fetches over the kernel's comm channel, so controls are made with
one shared layout and one shared style model per kind (``make_control``), and an indicator's controls
only when first asked for (``LazyControls``). ``form.AssessmentForm`` assembles them into the form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import TypeVar

import ipywidgets as w

from .evidence import CreditRecord
from .rubric import Indicator, RuleItem
from .sheet import FreeEntry, IndicatorJudgment

W = TypeVar("W", bound=w.Widget)
MAX_COUNT = 99  # occurrences an expert may enter for a counted rule item ("每人次")


def number_text(x: float) -> str:
    return f"{round(x, 4):g}"


def shared_layout(**kw: str) -> w.Layout:
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


def make_control(cls: type[W], layout: w.Layout | None = None, classes: tuple[str, ...] = (), **kw) -> W:
    """A control with the shared layout, the shared default style of its class and its CSS classes, all
    given at construction: a change after it is one more comm message per widget."""
    style = cls.class_traits().get("style")
    extra = {"style": _style(style.klass)} if style is not None else {}
    return cls(layout=layout or shared_layout(), _dom_classes=classes, **extra, **kw)


def html_text(value: str = "", cls: str = "") -> w.HTML:
    """A static or updated piece of text."""
    return make_control(w.HTML, value=value, classes=(cls,) if cls else ())


def hbox(children: list[w.Widget], classes: tuple[str, ...] = (), **kw: str) -> w.HBox:
    return w.HBox(children, layout=shared_layout(**kw), _dom_classes=classes)


def vbox(children: list[w.Widget], classes: tuple[str, ...] = (), **kw: str) -> w.VBox:
    return w.VBox(children, layout=shared_layout(**kw), _dom_classes=classes)


@dataclass
class FreeRow:
    """One free deduction (or addition): points, reason, a remove button and a line for its notes."""

    points: w.FloatText
    reason: w.Text
    remove: w.Button
    note: w.HTML  # the clamp notice or the row's fault, beside the row
    box: w.HBox


@dataclass
class RecordControls:
    """One credit record's dismissal; shown under every indicator the record touches (same widgets)."""

    record: CreditRecord
    dismiss: w.Checkbox
    reason: w.Text
    note: w.HTML  # the row's fault, under the reason box
    labels: list[tuple[w.HTML, str]] = field(default_factory=list)  # (label, its text before the effect)


@dataclass
class IndicatorControls:
    ind: Indicator
    judged: w.Checkbox
    items: dict[str, w.Checkbox | w.IntText]
    free: list[FreeRow]
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
        return tuple(FreeEntry(row_points(r), r.reason.value) for r in self.free if row_points(r) > 0)

    def has_content(self) -> bool:
        return bool(
            self.ticks() or any(row_points(r) > 0 or r.reason.value.strip() for r in self.free) or self.evidence.value
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

    def faults(self) -> list[Fault]:
        where = f"指标 {self.ind.number} {self.ind.name}"
        verb = verb_of(self.ind)
        out = []
        for item_id, control in self.items.items():
            if isinstance(control, w.IntText) and not 0 <= control.value <= MAX_COUNT:
                text = f"细则 {item_id} 的次数 {control.value} 超出范围 0–{MAX_COUNT}"
                out.append(Fault(f"{where}：{text}", text, (control,), self.count_note, self.ind.number))
        for r in self.free:
            if row_points(r) > 0 and not r.reason.value.strip():
                text = f"自由{verb} {number_text(row_points(r))} 分未填写理由"
                out.append(Fault(f"{where}：{text}", text, (r.reason,), r.note, self.ind.number))
            elif row_points(r) <= 0 and r.reason.value.strip():
                text = f"填写了自由{verb}理由，但分值为 0"
                out.append(Fault(f"{where}：{text}", text, (r.points,), r.note, self.ind.number))
        return out


@dataclass(frozen=True)
class Fault:
    """Why the input cannot be saved: the full line for the header, the short one beside the field."""

    message: str
    short: str
    controls: tuple[w.Widget, ...]  # given a red border
    note: w.HTML | None  # the line under the field where `short` is shown
    indicator: int | None = None  # where the form turns to show it (None: the page named by `page`)
    page: str = ""


def row_points(r: FreeRow) -> float:
    """The row's points as scored: what was typed, clamped to 0..maximum (the row says when it clamps)."""
    return float(r.points.value or 0)


def verb_of(ind: Indicator) -> str:
    return "扣分" if ind.base == "full" else "加分"


def make_item_control(it: RuleItem, count: int) -> tuple[w.Widget, w.Checkbox | w.IntText]:
    """A checkbox for a yes/no rule item, a count box for one that counts occurrences."""
    if not it.unit:
        box = make_control(
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
    count_box = make_control(
        w.IntText,
        classes=(
            "rk-item-count",
            f"rk-item-{it.id}",
        ),
        value=count,
        layout=shared_layout(width="5.5em"),
        tooltip=f"次数（{it.unit}）",
    )
    label = html_text(f"{escape(it.id)}　{escape(it.text)} <span class='rk-note'>（填写{escape(it.unit)}数）</span>")
    return hbox([count_box, label]), count_box


def make_free_row(ind: Indicator, entry: FreeEntry | None) -> FreeRow:
    """A plain FloatText, clamped by the form rather than the browser, so the row can say it clamped."""
    points = make_control(
        w.FloatText,
        classes=("rk-free-points",),
        value=entry.points if entry else 0.0,
        step=0.5,
        description=f"自由{verb_of(ind)}",
        layout=shared_layout(width="13em"),
    )
    reason = make_control(
        w.Text,
        classes=("rk-free-reason",),
        value=entry.reason if entry else "",
        placeholder=f"{verb_of(ind)}理由（填写分值时必填）",
        layout=shared_layout(width="32em"),
    )
    remove = make_control(
        w.Button,
        classes=("rk-free-remove",),
        description="删除",
        icon="trash",
        tooltip="删除这一行",
        layout=shared_layout(width="6em"),
    )
    note = html_text(cls="rk-field-error")
    box = hbox([points, reason, remove, note], ("rk-free-row",), flex_flow="row wrap", align_items="center")
    return FreeRow(points, reason, remove, note, box)


class LazyControls(Mapping[int, IndicatorControls]):
    """Every indicator's controls, each made the first time it is asked for (its section is shown, or a
    fault or a test needs it): a whole form is a few thousand widget models, one section a few dozen."""

    def __init__(self, numbers: list[int], make: Callable[[int], IndicatorControls]):
        self._numbers = numbers
        self._make = make
        self.built: dict[int, IndicatorControls] = {}

    def __getitem__(self, n: int) -> IndicatorControls:
        if n not in self.built:
            if n not in self._numbers:
                raise KeyError(n)
            self.built[n] = self._make(n)
        return self.built[n]

    def __iter__(self) -> Iterator[int]:
        return iter(self._numbers)

    def __len__(self) -> int:
        return len(self._numbers)
