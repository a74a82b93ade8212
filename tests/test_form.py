"""The widget form without a browser: built from the rubric, live header, validation, saving, history."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import ipywidgets as w
import pytest

from rubric_kernel.assessment import open_assessment
from rubric_kernel.form import AssessmentForm, build_form
from rubric_kernel.store import Store

EXPERT = "蔡国（演示专家）"  # demo_expert_14: the demo registry's expert of 第1组 (institutions 1–15), not 13's author


@pytest.fixture(autouse=True)
def _acting_expert(monkeypatch):
    """The form saves as the person behind the login, here a registered expert assigned to 13."""
    monkeypatch.setenv("RUBRIC_KERNEL_ACTOR", "demo_expert_14")


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory) -> Path:
    """A store with the demo judgments imported once (importing 74 files takes over a second)."""
    path = tmp_path_factory.mktemp("seed") / "seed.sqlite"
    open_assessment(13, db=str(path)).store.close()
    return path


@pytest.fixture
def db(tmp_path, seeded_db) -> str:
    """A private copy of the seeded store for each test."""
    dest = tmp_path / "s.sqlite"
    with closing(sqlite3.connect(seeded_db)) as src, closing(sqlite3.connect(dest)) as dst:
        src.backup(dst)
    return str(dest)


@pytest.fixture
def a(db):
    return open_assessment(13, db=db, expert=EXPERT, mode="interactive")


@pytest.fixture
def form(a) -> AssessmentForm:
    return AssessmentForm(a)


def _total(form: AssessmentForm) -> float:
    m = re.search(r"<span class='rk-total'>([-\d.]+)</span>", form.header.value)
    assert m, form.header.value
    return float(m.group(1))


def _undeducted_item(form: AssessmentForm):
    """A yes/no rule item on a full-score, deduction-style indicator no record touches."""
    for ir in form.result.indicators:
        ind = form.rubric.indicators[ir.number]
        if ind.base == "full" and ir.score == ind.max_points and not ir.lines:
            for it in ind.items:
                if not it.unit:
                    return ind, it
    raise AssertionError("no undeducted item in the demo data")


def _descendants(widget: w.Widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _descendants(child)


def _history_count(a) -> int:
    return len(a.history())


def _shown(form: AssessmentForm) -> set[int]:
    return {id(x) for x in _descendants(form.widget)}


def _models(root: w.Widget) -> set[w.Widget]:
    """Every widget model the browser needs to show `root`: children, layouts and styles."""
    seen: dict[int, w.Widget] = {}
    todo = [root]
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen[id(x)] = x
        for name in x.keys:
            value = getattr(x, name)
            todo += [v for v in (value if isinstance(value, tuple | list) else [value]) if isinstance(v, w.Widget)]
    return set(seen.values())


def _open_everything(form: AssessmentForm) -> None:
    """Select every tab and every section once: pages and sections are built when first shown."""
    for tab in range(len(form.tabs.titles)):
        form.tabs.selected_index = tab
        page = form._built[tab]
        for section in range(len(getattr(page, "titles", ()))):
            page.selected_index = section


def test_build_has_one_control_per_rule_item(a):
    form = AssessmentForm(a)
    _open_everything(form)
    shown = _shown(form)
    rubric = a.ws.rubric
    for n, ind in rubric.indicators.items():
        controls = form.indicators[n].items
        assert list(controls) == [it.id for it in ind.items]
        for it in ind.items:
            control = controls[it.id]
            assert isinstance(control, w.IntText if it.unit else w.Checkbox)
            assert f"rk-item-{it.id}" in control._dom_classes
            assert (id(control) in shown) == ind.needs_judgment, f"细则 {it.id}"
    assert list(form.tabs.titles[: len(rubric.levels)]) == [f"{lv.name}（{lv.points:g}分）" for lv in rubric.levels]
    assert "rk-save" in form.save_button._dom_classes
    assert "演示数据" in form.header.value


def test_only_the_open_section_is_built(a):
    form = AssessmentForm(a)
    first = {n for n, place in form._place.items() if place == (0, 0)}
    assert set(form.indicators.built) == first
    assert {c.ind.number for c in form.indicators.built.values() if id(c.box) in _shown(form)} == first
    form.tabs.selected_index = 1
    assert {n for n in form.indicators.built if form._place[n][0] == 1} == {
        n for n, place in form._place.items() if place == (1, 0)
    }
    form._built[1].selected_index = 1
    assert all(id(form.indicators[n].box) in _shown(form) for n, place in form._place.items() if place == (1, 1))


def test_a_shown_form_is_a_few_dozen_widget_models(a):
    """The whole form is thousands of models; JupyterLab restoring three notebooks lost some of them
    ("model not found"). Only the open section is built, and controls share their layout and style."""
    models = _models(AssessmentForm(a).widget)
    assert len(models) < 150, len(models)
    assert sum(isinstance(m, w.Layout) for m in models) < 20  # shared, not one per control


def test_a_form_built_in_parts_saves_what_a_whole_form_saves(a):
    """An indicator never shown keeps its stored judgment: opening every section changes nothing."""
    lazy = AssessmentForm(a)
    whole = AssessmentForm(a)
    _open_everything(whole)
    assert lazy.sheet() == whole.sheet() == a.snapshot().sheet(a.ws.rubric)
    assert lazy.changes(lazy.sheet()) == whole.changes(whole.sheet()) == {}


def test_records_only_indicators_show_no_judgment_controls(form):
    auto = [c for c in form.indicators.values() if not c.ind.needs_judgment]
    assert auto, "评分表应有按信用记录计分的指标"
    for c in auto:
        inside = {id(x) for x in _descendants(c.box)}
        assert id(c.judged) not in inside and id(c.evidence) not in inside
        assert not any(id(r.points) in inside for r in c.free)
        # 16 takes the centre's 人社 data; the others are scored from the credit records
        assert ("由省职鉴中心录入人社部门数据" if c.ind.finding else "按信用记录计分") in c.title.value
    judged = next(c for c in form.indicators.values() if c.ind.needs_judgment)
    assert id(judged.judged) in {id(x) for x in _descendants(judged.box)}


def test_build_form_returns_the_root_widget(a):
    root = build_form(a)
    assert isinstance(root, w.VBox)
    assert "rk-form" in root._dom_classes


def test_prefilled_form_equals_the_stored_sheet(form, a):
    assert form.sheet() == a.snapshot().sheet(a.ws.rubric)
    assert form.changes(form.sheet()) == {}
    assert form.result.total == a.score().total


def test_ticking_an_item_lowers_the_total_by_its_points(form):
    ind, it = _undeducted_item(form)
    before = _total(form)
    form.indicators[ind.number].items[it.id].value = True
    assert _total(form) == pytest.approx(before - it.points)
    form.indicators[ind.number].items[it.id].value = False
    assert _total(form) == pytest.approx(before)


def test_a_deduction_marks_the_indicator_judged(form):
    unjudged = next(c for c in form.indicators.values() if c.ind.items and not c.judged.value)
    item_id = unjudged.ind.items[0].id
    unjudged.items[item_id].value = 1 if isinstance(unjudged.items[item_id], w.IntText) else True
    assert unjudged.judged.value and unjudged.judged.disabled
    assert unjudged.ind.number in form.sheet().indicators
    unjudged.items[item_id].value = 0 if isinstance(unjudged.items[item_id], w.IntText) else False
    assert unjudged.judged.value and not unjudged.judged.disabled  # still judged: a judgment of no deduction


def test_save_writes_exactly_the_changed_keys(form, a):
    ind, it = _undeducted_item(form)
    form.indicators[ind.number].items[it.id].value = True
    unticked = next(iter(a.snapshot().sheet(a.ws.rubric).bonus))
    ticked = next(b for b in form.bonus if b not in a.snapshot().sheet(a.ws.rubric).bonus)
    form.bonus[unticked][0].value = False
    form.bonus[ticked][0].value = True
    form.bonus[ticked][1].value = "证书编号 Q-1"
    clause = next(iter(form.veto))
    form.veto[clause][0].value = "raised"
    form.veto[clause][1].value = "现场发现相关情形"
    form.reason.value = "现场核查补充"
    before = _history_count(a)

    written = form.save()

    expected = {
        f"sc-2023:ind:{ind.number}",
        f"sc-2023:bonus:{unticked}",
        f"sc-2023:bonus:{ticked}",
        f"sc-2023:veto:{clause}",
    }
    assert {v.key for v in written} == expected
    assert _history_count(a) == before + len(expected)
    for v in written:
        assert (v.expert, v.stage, v.reason) == (EXPERT, "待评估", "现场核查补充")  # the stage from the event log
    by_key = {v.key: v for v in written}
    assert by_key[f"sc-2023:bonus:{unticked}"].content is None
    assert by_key[f"sc-2023:ind:{ind.number}"].content["ticks"] == {it.urn: 1}
    assert by_key[f"sc-2023:veto:{clause}"].content == {"status": "raised", "reason": "现场发现相关情形", "by": EXPERT}
    assert form.message.value.count("已保存 4 项") == 1
    assert a.snapshot().sheet(a.ws.rubric) == form.sheet()  # the assessment's snapshot was refreshed

    assert form.save() == []
    assert "没有需要保存的修改" in form.message.value
    assert _history_count(a) == before + len(expected)


def test_invalid_input_is_refused_listing_every_problem(form, a):
    ind, _ = _undeducted_item(form)
    form.indicators[ind.number].free[0].points.value = 3
    counted = next(c for c in form.indicators.values() if any(isinstance(x, w.IntText) for x in c.items.values()))
    count_id = next(i for i, x in counted.items.items() if isinstance(x, w.IntText))
    counted.items[count_id].value = 1000
    record = next(iter(form.records.values()))
    record.dismiss.value = True
    clause = next(iter(form.veto))
    form.veto[clause][0].value = "raised"
    before = _history_count(a)

    assert form.save() == []

    message = form.message.value
    assert "未保存" in message and "4 个问题" in message
    assert f"指标 {ind.number} {ind.name}：自由扣分 3 分未填写理由" in message
    assert f"细则 {count_id} 的次数 1000 超出范围" in message
    assert f"排除信用记录 {record.record.id} 未填写理由" in message
    assert f"否定项第 {clause} 条" in message
    assert "rk-error" in message
    assert _history_count(a) == before


def test_free_deduction_without_reason_stores_nothing(form, a):
    ind, _ = _undeducted_item(form)
    before_total = _total(form)
    form.indicators[ind.number].free[0].points.value = 2.5
    assert _total(form) == pytest.approx(before_total - 2.5)  # the header shows it while it is being typed
    before = _history_count(a)
    assert form.save() == []
    assert "自由扣分 2.5 分未填写理由" in form.message.value
    assert _history_count(a) == before
    form.indicators[ind.number].free[0].reason.value = "现场发现台账缺页"
    assert [v.key for v in form.save()] == [f"sc-2023:ind:{ind.number}"]


def test_stale_save_is_refused_and_names_the_other_expert(form, a, db):
    ind, it = _undeducted_item(form)
    key = f"sc-2023:ind:{ind.number}"
    other = Store(db)
    content = dict(a.snapshot().live[key], note="并行修改")
    other.save(a.dataset, 13, {key: content}, a.snapshot().base, expert="另一位专家", stage="现场评估", reason="同时")
    other.close()

    form.indicators[ind.number].items[it.id].value = True
    assert form.save() == []

    assert "另一位专家" in form.message.value
    assert "保存被拒绝" in form.message.value
    latest = a.history(key)[-1]
    assert latest.expert == "另一位专家"
    assert all(v.expert != EXPERT for v in a.history())


def test_history_shows_the_saved_version(form, a):
    ind, it = _undeducted_item(form)
    control = form.indicators[ind.number]
    assert control.history.value == ""
    control.history_button.value = True
    assert "马红敏" in control.history.value  # the imported judgments file
    control.items[it.id].value = True
    form.reason.value = "核查补充"
    form.save()
    text = control.history.value  # an open history refreshes after saving
    assert EXPERT in text and "核查补充" in text and f"勾选 {it.id}" in text
    assert text.index(EXPERT) < text.index("马红敏")  # newest first
    control.history_button.value = False
    assert control.history.value == ""


def test_header_follows_every_toggle(form):
    """Each tick re-scores at once: the header's total moves by the item's points and back (speed: benchmarks)."""
    ind, it = _undeducted_item(form)
    box = form.indicators[ind.number].items[it.id]
    before = form.result.total
    for i in range(6):
        box.value = i % 2 == 0
        expected = before - it.points if box.value else before
        assert form.result.total == expected
        assert f"{expected:g}" in form.header.value


def test_records_touching_an_indicator_can_be_dismissed_with_a_reason(form, a):
    record = a.evidence.records[0]
    touched = [ir for ir in form.result.indicators if any(ln.ref == record.id for ln in ir.lines)]
    assert touched, "演示数据中该机构的信用记录应映射到指标"
    controls = form.records[record.id]
    for ir in touched:
        assert id(controls.dismiss) in {id(x) for x in _descendants(form.indicators[ir.number].box)}
    counted = sum(ln.points for ir in touched for ln in ir.lines if ln.ref == record.id and ln.kind == "record")
    assert counted and not any(ln.kind == "clamp" for ir in touched for ln in ir.lines)
    before = form.result.total
    controls.dismiss.value = True
    assert form.result.total == pytest.approx(before - counted)
    assert "未填写理由" in " ".join(form.problems())
    controls.reason.value = "信用修复"
    assert [v.key for v in form.save()] == [f"dismiss:{record.id}"]
    assert a.snapshot().sheet(a.ws.rubric).dismissed == {record.id: "信用修复"}


def test_withdrawing_a_judgment_makes_the_result_provisional(form):
    c = next(c for c in form.indicators.values() if c.ind.needs_judgment and c.judged.value and not c.ticks())
    c.evidence.value = ""
    assert not c.judged.disabled
    c.judged.value = False
    assert c.ind.number in form.result.pending
    assert "<span class='rk-grade'>暂不评定</span>" in form.header.value
    assert "<span class='rk-pending'>1</span>" in form.header.value
    assert form.changes(form.sheet()) == {f"sc-2023:ind:{c.ind.number}": None}


def test_faults_are_marked_beside_their_fields_and_the_form_turns_to_the_first(form):
    ind, _ = _undeducted_item(form)
    c = form.indicators[ind.number]
    form.tabs.selected_index = len(form.tabs.titles) - 1  # somewhere else
    c.free[0].points.value = 3
    assert form.save() == []
    row = c.free[0]
    assert "rk-invalid" in row.reason._dom_classes
    assert "未填写理由" in row.note.value  # the empty reason box shows its fault
    tab, section = form._place[ind.number]
    assert form.tabs.selected_index == tab
    assert form._built[tab].selected_index == section
    row.reason.value = "现场发现台账缺页"  # fixing it clears the mark at once
    assert "rk-invalid" not in row.reason._dom_classes and row.note.value == ""


def test_an_empty_dismissal_reason_and_veto_reason_are_marked(form):
    rc = next(iter(form.records.values()))
    rc.dismiss.value = True
    clause = next(iter(form.veto))
    form.veto[clause][0].value = "raised"
    form.save()
    assert "rk-invalid" in rc.reason._dom_classes and "排除理由" in rc.note.value
    assert "rk-invalid" in form.veto[clause][1]._dom_classes and "事实与理由" in form._veto_notes[clause].value


def test_free_rows_can_be_added_and_removed_without_rerunning(form):
    ind, _ = _undeducted_item(form)
    c = form.indicators[ind.number]
    before = _total(form)
    rows = len(c.free)
    add = next(x for x in _descendants(c.box) if "rk-free-add" in getattr(x, "_dom_classes", ()))
    add.click()
    assert len(c.free) == rows + 1 and c.free[-1].box in c.free_box.children
    c.free[-1].points.value = 2
    c.free[-1].reason.value = "新增理由"
    assert _total(form) == pytest.approx(before - 2)
    c.free[-1].remove.click()
    assert len(c.free) == rows
    assert _total(form) == pytest.approx(before)


def test_a_clamped_value_says_so(form):
    ind, _ = _undeducted_item(form)
    row = form.indicators[ind.number].free[0]
    row.points.value = ind.max_points + 5
    assert row.points.value == ind.max_points
    assert f"已按上限 {ind.max_points:g} 计" in row.note.value
    row.points.value = 1
    assert row.note.value == ""
    row.points.value = -2
    assert row.points.value == 0 and "已按 0 计" in row.note.value


def test_an_excluded_record_says_so_instead_of_its_deduction(form, a):
    record = a.evidence.records[0]
    rc = form.records[record.id]
    _open_everything(form)
    assert rc.labels, "记录应显示在所映射的指标下"
    assert all("已排除" not in label.value for label, _ in rc.labels)
    rc.dismiss.value = True
    assert all("已排除" in label.value and "→ <b>扣" not in label.value for label, _ in rc.labels)
    rc.dismiss.value = False
    assert all("已排除" not in label.value for label, _ in rc.labels)


def test_interactive_mode_shows_no_stale_report(a, monkeypatch):
    from rubric_kernel import notebook

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    notebook.show_report(a)
    assert len(shown) == 1 and "不在此显示报告" in shown[0].data and "rubric-kernel report 13" in shown[0].data


def test_a_stored_opinion_survives_a_save_from_the_form(a):
    """The form has no opinion field (yet): saving an indicator keeps the group's 专家组意见 as stored."""
    a.save({"opinion": {"text": "专家组意见：考务规范。"}}, a.snapshot().base, reason="")
    a.snapshot(refresh=True)
    form = AssessmentForm(a)
    assert form.sheet().opinion == "专家组意见：考务规范。"
    ind, it = _undeducted_item(form)
    form.indicators[ind.number].items[it.id].value = True
    written = form.save()
    assert {v.key for v in written} == {ind.urn}
    assert a.snapshot().sheet(a.ws.rubric).opinion == "专家组意见：考务规范。"


def test_the_expert_name_is_the_logged_in_persons_and_cannot_be_typed(a, monkeypatch):
    from dataclasses import replace

    form = AssessmentForm(replace(a, expert="别人的名字"))
    assert (form.expert.value, form.expert.disabled) == (EXPERT, True)  # the login's person, not the parameter
    assert AssessmentForm(a).expert.value == EXPERT  # the cell run again: still there
    monkeypatch.setenv("RUBRIC_KERNEL_ACTOR", "nobody_registered")
    stranger = AssessmentForm(a)
    assert stranger.expert.value == ""
    before = _history_count(a)
    assert stranger.save() == []
    assert "“nobody_registered”不是评估项目" in stranger.message.value
    assert _history_count(a) == before


def test_the_opinion_is_entered_in_the_form_and_saved_with_the_sheet(a):
    form = AssessmentForm(a)
    assert form._opinion is None, "the page is built only when shown"
    form.tabs.selected_index = len(form.tabs.children) - 1
    form.opinion.value = "考务管理规范，建议加强题库保密。"
    form.reason.value = "填写专家组意见"
    written = form.save()
    assert [v.key for v in written] == ["opinion"]
    assert a.snapshot(refresh=True).sheet(a.ws.rubric).opinion == "考务管理规范，建议加强题库保密。"
