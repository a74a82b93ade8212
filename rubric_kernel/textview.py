"""Plain-text (terminal) views of a result and of the rubric, in Chinese."""

from __future__ import annotations

from collections.abc import Iterable

from .labels import (
    BASE_ZH,
    LINE_KIND_ZH,
    VETO_STATUS_ZH,
    fmt,
    grade_text,
    group_title,
    next_grade_text,
    status_text,
    total_note,
)
from .rubric import Rubric
from .scoring import Result


def render_result(r: Result, rubric: Rubric, mark: str = "") -> str:
    out = []
    if mark:
        out.append(f"【{mark}】本结果由合成数据生成，不代表任何机构的真实信用状况。")
    out.append(f"机构 {r.institution}  {r.name}（{r.klass}）  评估基准日 {r.as_of.isoformat()}")
    out.append(
        f"总分 {fmt(r.total)}（指标 {fmt(r.subtotal)} + 加分 {fmt(r.bonus)}）  等级 {grade_text(r)}  "
        f"状态 {status_text(r)}  {next_grade_text(r)}"
    )
    if r.pending:
        out.append(f"注意：{total_note(r)}。")
    out.append("")
    out.append("一级指标得分：")
    for lv in rubric.levels:
        out.append(f"  {lv.name:<6} {fmt(r.level1[lv.name]):>6} / {fmt(lv.points)}")
    moved = [i for i in r.indicators if i.lines]
    if moved:
        out.append("")
        out.append("扣分、加分与信用记录：")
        for i in moved:
            out.append(f"  指标{i.number} {i.name}：{fmt(i.score)} / {fmt(i.max_points)}")
            out.extend(f"    [{LINE_KIND_ZH[ln.kind]}] {fmt(ln.points):>6}  {ln.text}" for ln in i.lines)
    if r.bonus_lines:
        out.append("")
        out.append(f"加分项：{fmt(r.bonus)}")
        out.extend(f"    {fmt(ln.points):>6}  {ln.text}" for ln in r.bonus_lines)
    if r.veto:
        out.append("")
        out.append("否定项：")
        out.extend(f"  第{v.clause}条 [{VETO_STATUS_ZH[v.status]}] {v.text}；{v.reason}" for v in r.veto)
    if r.pending:
        out.append("")
        out.append(f"待评指标（{len(r.pending)} 项）：{'、'.join(str(n) for n in r.pending)}")
    return "\n".join(out)


def render_rubric(rubric: Rubric) -> str:
    out = [f"{rubric.meta.title}（{rubric.meta.version}）", rubric.meta.allocation_note, ""]
    for lv in rubric.levels:
        out.append(f"{lv.name}  {fmt(lv.points)} 分")
        for g in lv.groups:
            out.append(f"  {group_title(g.number, g.name, g.inferred)}")
            for i in g.indicators:
                style = BASE_ZH[i.base]
                out.append(f"    {i.number}. {i.name}  {fmt(i.max_points)} 分  {style}  来源：{'、'.join(i.sources)}")
    out.append("")
    out.append(f"加分项：上限 {fmt(rubric.bonus.cap)} 分")
    out.extend(f"  {b.text}  {fmt(b.points)} 分" for b in rubric.bonus.items)
    out.append("否定项：")
    out.extend(f"  {cid}. {text}" for cid, text in rubric.veto_clauses.items())
    out.append("等级：" + "，".join(f"{c.grade} ≥ {fmt(c.min)}" for c in rubric.cutoffs))
    return "\n".join(out)


def render_summary(results: Iterable[Result]) -> str:
    rows = [f"{'序号':>4}  {'等级':<6}{'总分':>7}  {'状态':<4}  {'类别':<5}机构"]
    for r in results:
        grade = r.grade or "—"
        status = status_text(r)
        veto = "  否定项：" + "、".join(v.clause for v in r.effective_veto) if r.effective_veto else ""
        rows.append(f"{r.institution:>4}  {grade:<6}{fmt(r.total):>7}  {status:<4}  {r.klass:<5}{r.name}{veto}")
    return "\n".join(rows)
