"""What the cohort analysis notebook's cells call (``notebooks/cohort.ipynb``): display objects only.

Each function returns something Jupyter displays by itself (a pandas ``Styler`` or an HTML
fragment), so this module needs no IPython and the notebook's cells stay one call each. Charts
are the report's hand-written SVG: real ``<text>``, so Chinese renders with the reader's CJK
font and no plotting library is imported. Every output made from synthetic data carries its mark.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from . import frames
from .frames import CohortFrames
from .report.chart import bar_chart, heatmap
from .store import Store

if TYPE_CHECKING:  # pandas itself is imported by frames.py alone
    import pandas as pd
    from pandas.io.formats.style import Styler

CLASS_COLOURS = {"院校": "#2e86c1", "社评机构": "#c0392b", "专项机构": "#7f8c8d"}


class Html:
    """An HTML fragment Jupyter shows as such (and nbconvert keeps as such)."""

    def __init__(self, html: str):
        self.html = html

    def _repr_html_(self) -> str:
        return self.html


def _marked(title: str, mark: str) -> str:
    return f"【{mark}】{title}" if mark else title


def _figure(svg: str, title: str, mark: str) -> Html:
    caption = f"<figcaption><strong>{escape(_marked(title, mark))}</strong></figcaption>"
    return Html(f"<figure>{caption}{svg}</figure>")


def _note(text: str, mark: str) -> Html:
    return Html(f"<p>{escape(_marked(text, mark))}</p>")


def _styled(df: pd.DataFrame, title: str, mark: str) -> Styler:
    return df.style.set_caption(_marked(title, mark)).format(precision=2, na_rep="—")


def overview(c: CohortFrames) -> Html:
    """What is being analysed: programme, as-of date, how many institutions are complete."""
    inst = c.institutions
    provisional = int(inst["暂定"].sum())
    banner = (
        f'<p style="background:#fde68a;border:2px solid #d97706;color:#7c2d12;padding:6px 12px">'
        f"<strong>{escape(c.mark)}</strong>：以下结果由合成数据生成，不代表任何机构的真实信用状况。</p>"
        if c.mark
        else ""
    )
    text = (
        f"评估项目“{escape(c.programme)}”，评估基准日 {c.as_of.isoformat()}：共 {len(inst)} 家机构，"
        f"评估已完成 {len(inst) - provisional} 家，暂定 {provisional} 家（尚有指标待评，总分与等级均未确定）。"
    )
    return Html(f"{banner}<p>{text}</p>")


def institutions_table(c: CohortFrames) -> Styler:
    columns = ["评价机构", "类别", "总分", "等级", "状态", "加分", "否定项", "待评指标数"]
    return _styled(c.institutions[columns].sort_values("总分", ascending=False), "各机构得分与等级", c.mark)


def grade_table(c: CohortFrames) -> Styler:
    return _styled(frames.grade_distribution(c), "各类别信用等级分布（机构数）", c.mark)


def grade_chart(c: CohortFrames) -> Html:
    table = frames.grade_distribution(c).drop(index="合计", columns="合计")
    series = [(k, table.loc[k].tolist(), CLASS_COLOURS.get(k, "#95a5a6")) for k in table.index]
    peak = int(table.sum().max()) if len(table) else 0
    title = "各类别信用等级分布"
    svg = bar_chart(
        [str(g) for g in table.columns],
        series,
        y_max=peak + (4 - peak % 4),
        y_label="机构数",
        stacked=True,
        title=title,
    )
    return _figure(svg, title, c.mark)


def deductions_heatmap(c: CohortFrames) -> Html:
    """Institutions × indicators, shaded by the share of the indicator's points lost."""
    matrix = frames.deductions_matrix(c)
    ind = c.rubric.indicators
    names = c.institutions["评价机构"]
    shares = [[matrix.at[n, k] / ind[k].max_points for k in matrix.columns] for n in matrix.index]
    tips = [
        [
            f"{n} {names[n]} · 指标 {k} {ind[k].name}：扣 {matrix.at[n, k]:g} 分（满分 {ind[k].max_points:g}）"
            for k in matrix.columns
        ]
        for n in matrix.index
    ]
    bands = [(lv.name, sum(len(g.indicators) for g in lv.groups)) for lv in c.rubric.levels]
    title = "各机构各指标扣分热力图（颜色越深，扣分占该指标满分的比例越高；行为机构序号，列为指标序号）"
    svg = heatmap(
        [str(n) for n in matrix.index], [str(k) for k in matrix.columns], shares, tips, bands=bands, title=title
    )
    return _figure(svg, title, c.mark)


def top_deductions(c: CohortFrames, count: int = 10) -> Styler:
    """The indicators that cost the cohort most points, with how many institutions lost points there."""
    lost = c.indicators[c.indicators["扣分"] > 0]
    table = (
        lost.groupby(["指标", "指标名称", "一级指标"])
        .agg(扣分机构数=("序号", "nunique"), 扣分合计=("扣分", "sum"), 平均扣分=("扣分", "mean"))
        .sort_values("扣分合计", ascending=False)
        .head(count)
    )
    return _styled(table, f"扣分最多的 {count} 个指标", c.mark)


def outlier_table(c: CohortFrames, threshold: float = 2.0) -> Styler | Html:
    found = frames.outliers(c, threshold)
    if found.empty:
        return _note(f"没有总分或一级指标得分偏离本类别均值 {threshold:g} 个标准差以上的机构。", c.mark)
    title = f"离群机构：总分或一级指标得分偏离本类别均值 {threshold:g} 个标准差以上（仅含评估已完成的机构）"
    return _styled(found, title, c.mark)


def comparison(c: CohortFrames, compare: str = "", db: str = "") -> Styler | Html:
    """Two programmes (years) side by side when the store holds both; otherwise say why not."""
    with Store(db or None) as store:
        held = frames.programmes(store)
    others = [p for p in held if p != c.programme]
    if not others:
        return _note(f"评分库中只有评估项目“{c.programme}”的评分，没有可比较的另一年度评估项目。", c.mark)
    if not compare:
        return _note(
            f"评分库中另有评估项目 {'、'.join(others)} 的评分；在参数 compare 中填写其数据集目录即可比较两个年度。",
            c.mark,
        )
    other = frames.load_cohort(compare, db, bootstrap_store=False)
    if other.programme not in held:
        return _note(f"评分库中没有评估项目“{other.programme}”的评分，无法比较。", c.mark or other.mark)
    table = frames.compare_programmes(c, other)
    return _styled(table, f"两个年度比较：{c.programme} 与 {other.programme}", c.mark or other.mark)
