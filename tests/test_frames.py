"""The cohort as DataFrames agrees with ``score_cohort``; the analysis views carry the demo mark."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from rubric_kernel import cohort_notebook as view
from rubric_kernel import frames
from rubric_kernel.cohort import score_cohort
from rubric_kernel.errors import InputError
from rubric_kernel.judgments import bootstrap
from rubric_kernel.labels import RECORD_STATUS_ZH
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace

INSTITUTION_COLUMNS = [
    "评价机构",
    "类别",
    "总分",
    "等级",
    "状态",
    "暂定",
    "小计",
    "加分",
    "否定项",
    "否定项待核实",
    "待评指标数",
    "待评指标暂计分值",
    "待评指标可增分值",
    "距上一等级",
]
INDICATOR_COLUMNS = [
    "序号",
    "评价机构",
    "类别",
    "指标",
    "指标名称",
    "一级指标",
    "二级指标",
    "计分方式",
    "满分",
    "得分",
    "扣分",
    "已评",
    "待评",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo cohort scored once from a fresh store: workspace, results, frames, store URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('frames') / 's.sqlite'}"
    ws = load_workspace()
    store = Store(url)
    bootstrap(store, ws)
    snapshots = store.snapshots(ws.dataset.name)
    store.close()
    return ws, score_cohort(ws, snapshots), frames.cohort_frames(ws, snapshots), url


def _pick(results, test) -> int:
    found = [n for n, r in sorted(results.items()) if test(r)]
    assert found, "the demo data should cover this case"
    return found[0]


def test_shapes_and_columns(demo):
    ws, results, c, _ = demo
    level1 = [f"一级·{lv.name}" for lv in ws.rubric.levels]
    assert list(c.institutions.columns) == INSTITUTION_COLUMNS + level1
    assert c.institutions.index.name == "序号"
    assert list(c.institutions.index) == sorted(results) == sorted(ws.roster)
    assert list(c.indicators.columns) == INDICATOR_COLUMNS
    assert len(c.indicators) == len(results) * len(ws.rubric.indicators)
    assert not c.indicators.duplicated(["序号", "指标"]).any()
    assert len(c.records) == sum(len(ws.dataset.for_institution(n).records) for n in results)
    assert {"记录编号", "状态", "计分", "排除理由", "影响指标", "分值"} <= set(c.records.columns)
    assert frames.deductions_matrix(c).shape == (len(results), len(ws.rubric.indicators))
    assert c.programme == ws.dataset.name and c.mark == "演示数据"


def test_values_agree_with_score_cohort(demo):
    _, results, c, _ = demo
    chosen = {
        _pick(results, lambda r: r.status == "complete" and not r.veto),
        _pick(results, lambda r: r.status == "provisional"),
        _pick(results, lambda r: bool(r.effective_veto)),
        _pick(results, lambda r: r.bonus > 0),
    }
    for n in chosen:
        r, row = results[n], c.institutions.loc[n]
        assert (row["评价机构"], row["类别"], row["总分"], row["加分"]) == (r.name, r.klass, r.total, r.bonus)
        assert (row["等级"] if isinstance(row["等级"], str) else None) == r.grade
        assert row["待评指标数"] == len(r.pending)
        assert row["否定项"] == "、".join(v.clause for v in r.effective_veto)
        assert {k: row[f"一级·{k}"] for k in r.level1} == r.level1
        mine = c.indicators[c.indicators["序号"] == n].set_index("指标")
        assert mine["得分"].to_dict() == {i.number: i.score for i in r.indicators}
        assert mine["待评"].to_dict() == {i.number: i.pending for i in r.indicators}
        assert set(mine.index[mine["待评"]]) == set(r.pending)


def test_provisional_institutions_are_flagged(demo):
    _, results, c, _ = demo
    provisional = {n for n, r in results.items() if r.status == "provisional"}
    assert provisional
    flagged = c.institutions[c.institutions["暂定"]]
    assert set(flagged.index) == provisional
    assert (flagged["状态"] == "暂定").all() and flagged["等级"].isna().all()
    assert c.institutions.loc[~c.institutions["暂定"], "等级"].notna().all()
    assert frames.grade_distribution(c).at["合计", frames.UNGRADED] == len(provisional)


def test_grades_are_ordered_by_the_rubric(demo):
    ws, results, c, _ = demo
    table = frames.grade_distribution(c)
    best_first = [cut.grade for cut in sorted(ws.rubric.cutoffs, key=lambda cut: -cut.min)]
    assert list(table.columns) == [*best_first, frames.UNGRADED, "合计"]
    assert table.at["合计", "合计"] == len(results)
    top = c.institutions[c.institutions["等级"] >= best_first[1]]
    assert set(top.index) == {n for n, r in results.items() if r.grade in best_first[:2]}


def test_deductions_are_points_lost_from_the_start(demo):
    _, results, c, _ = demo
    full = c.indicators[c.indicators["计分方式"] == "扣分制"]
    assert ((full["满分"] - full["得分"]).round(4) == full["扣分"]).all()
    assert (c.indicators.loc[c.indicators["计分方式"] == "加分制", "扣分"] == 0).all()
    n = _pick(results, lambda r: r.status == "complete")
    lost = sum(i.max_points - i.score for i in results[n].indicators if i.base == "full")
    assert frames.deductions_matrix(c).loc[n].sum() == pytest.approx(lost)


def test_records_status_and_points(demo):
    _, results, c, _ = demo
    assert set(c.records["状态"]) == set(RECORD_STATUS_ZH.values())
    assert (c.records.loc[~c.records["计分"], "分值"] == 0).all()
    dismissed = c.records[c.records["状态"] == "已排除"]
    assert (dismissed["排除理由"] != "").all()
    for n in {_pick(results, lambda r: any(ln.kind == "dismissed" for i in r.indicators for ln in i.lines)), 1}:
        lines = [ln for i in results[n].indicators for ln in i.lines if ln.kind in RECORD_STATUS_ZH]
        mine = c.records[c.records["序号"] == n]
        assert mine["分值"].sum() == pytest.approx(sum(ln.points for ln in lines))
        counted = {ln.ref for ln in lines if ln.kind == "record"}
        assert set(mine.loc[mine["计分"], "记录编号"]) >= counted


def test_outliers_are_far_from_their_class_mean(demo):
    _, results, c, _ = demo
    n = _pick(results, lambda r: r.status == "complete" and r.klass == "院校")
    skewed = c.institutions.copy()
    skewed.loc[n, "总分"] = 10_000.0
    found = frames.outliers(dataclasses.replace(c, institutions=skewed))
    assert (found.iloc[0]["序号"], found.iloc[0]["指标"]) == (n, "总分")
    assert (found["偏离（标准差倍数）"].abs() >= 2).all()
    assert not set(found["序号"]) & {m for m, r in results.items() if r.status == "provisional"}


def test_every_view_carries_the_demo_mark(demo):
    _, _, c, url = demo
    shown = [
        view.overview(c),
        view.institutions_table(c),
        view.grade_table(c),
        view.grade_chart(c),
        view.deductions_heatmap(c),
        view.top_deductions(c),
        view.outlier_table(c),
        view.comparison(c, "", url),
    ]
    for out in shown:
        html = out.to_html() if hasattr(out, "to_html") else out._repr_html_()
        assert "演示数据" in html, type(out)
    assert "<svg" in view.deductions_heatmap(c).html and "<svg" in view.grade_chart(c).html


def test_one_programme_in_the_store_is_said_so(demo):
    _, _, c, url = demo
    note = view.comparison(c, "", url)._repr_html_()
    assert "只有" in note and c.programme in note


def test_two_programmes_compared(demo, demo_copy, tmp_path):
    _, results, _, _ = demo
    url = f"sqlite:///{tmp_path / 'two.sqlite'}"
    meta = yaml.safe_load((demo_copy / "dataset.yaml").read_text(encoding="utf-8"))
    meta.update(name="demo-2024", as_of="2024-07-31")
    (demo_copy / "dataset.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    first = frames.load_cohort("", url)
    later = frames.load_cohort(str(demo_copy), url)
    store = Store(url)
    assert frames.programmes(store) == ["demo", "demo-2024"]
    store.close()
    assert "compare" in view.comparison(first, "", url)._repr_html_()

    table = frames.compare_programmes(first, later)
    assert set(table.index) == set(results)
    assert (table["总分·demo"] == first.institutions["总分"]).all()
    assert (table["总分·demo-2024"] == later.institutions["总分"]).all()
    assert (table["总分变化"] == (table["总分·demo-2024"] - table["总分·demo"]).round(4)).all()
    assert (table["总分变化"] != 0).any(), "a later as-of date moves records out of their windows"
    same = table[table["等级·demo"].astype(object) == table["等级·demo-2024"].astype(object)]
    assert (same["等级变化"] == "持平").all()
    graded = table[table["等级·demo"].notna() & table["等级·demo-2024"].notna()]
    assert set(graded.loc[graded["总分变化"] > 0, "等级变化"]) <= {"持平", "上升"}
    assert set(graded.loc[graded["总分变化"] < 0, "等级变化"]) <= {"持平", "下降"}
    assert (graded["等级变化"] != "持平").any()
    assert (table.loc[table.index.difference(graded.index), "等级变化"] == "暂定，不比较").all()
    shown = view.comparison(first, str(demo_copy), url)
    assert len(shown.data) == len(results) and "demo-2024" in shown.to_html()


def test_bad_as_of_is_one_chinese_line(demo):
    _, _, _, url = demo
    with pytest.raises(InputError) as exc:
        frames.load_cohort("", url, "2023-13-01")
    assert "as_of" in str(exc.value) and "无效" in str(exc.value)
