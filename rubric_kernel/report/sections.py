"""The sections of the per-institution credit report (信用评估报告) as HTML fragments.

Every value that came from a user or a file passes through ``esc``; the fragments use only the
classes styled in ``report.css`` so the page needs no script and prints on A4.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from markupsafe import Markup

from ..assessment import Assessment
from ..cohort import class_means
from ..labels import (
    BASE_ZH,
    INFERRED_ZH,
    LINE_KIND_ZH,
    VETO_STATUS_ZH,
    describe_version,
    fmt,
    grade_text,
    local_time,
    next_grade_text,
    status_text,
    total_note,
)
from ..scoring import IndicatorResult, Line, Result
from ..store import Version
from .chart import level1_chart_svg
from .digest import input_digests
from .page import table
from .signoffs import signoffs_html


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A report table whose headers and cells are fragments built here, every value in them through ``esc``."""
    return table(map(Markup, head), ([Markup(c) for c in row] for row in rows), f"rk-table {cls}".strip())


def _section(title: str, body: str, cls: str = "") -> str:
    """One report section, marked with ``data-section`` so the report's seal digests it by name (seal.py)."""
    return f'<section class="rk-section {cls}" data-section="{esc(title)}"><h2>{esc(title)}</h2>{body}</section>'


def demo_banner(a: Assessment) -> str:
    if not a.mark:
        return ""
    return (
        f'<div class="rk-demo" role="note"><strong>{esc(a.mark)}</strong>：本报告由合成的演示数据生成，'
        "信用记录、材料与评分均为虚构，不代表该机构的真实信用状况，不得作为评估结论引用。</div>"
        f'<div class="rk-watermark" aria-hidden="true">{esc(a.mark)}</div>'
    )


def identity(a: Assessment, r: Result) -> str:
    inst = a.institution
    rows = [
        ("机构序号", inst.number),
        ("评价机构", inst.name),
        ("地址", inst.address),
        ("机构类型", "、".join(inst.types)),
        ("类别", inst.klass),
        ("数据集", a.dataset),
        ("评估基准日", r.as_of.isoformat()),
        ("流程阶段", a.workflow().stage),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return (
        f'<header class="rk-title" data-section="标题"><p class="rk-kicker">四川省技能人才评价机构信用评估</p>'
        f'<h1>信用评估报告</h1><p class="rk-inst">{esc(inst.name)}</p></header>'
        f'<section class="rk-section" data-section="机构基本情况"><h2>机构基本情况</h2><dl class="rk-dl">{dl}</dl></section>'
    )


def conclusion(a: Assessment, r: Result) -> str:
    total = f'<span class="rk-total">{fmt(r.total)}</span>' + ("（暂定）" if r.pending else "")
    cards = [
        ("总分", total),
        ("信用等级", f'<span class="rk-grade">{esc(grade_text(r))}</span>'),
        ("状态", esc(status_text(r))),
        ("加分项", fmt(r.bonus)),
        ("距上一等级", esc(next_grade_text(r))),
    ]
    body = (
        '<div class="rk-cards">'
        + "".join(
            f'<div class="rk-card"><div class="rk-card-k">{k}</div><div class="rk-card-v">{v}</div></div>'
            for k, v in cards
        )
        + "</div>"
    )
    body += (
        f'<p class="rk-note">总分 = {len(a.ws.rubric.indicators)} 项三级指标得分 {fmt(r.subtotal)} + 加分项 {fmt(r.bonus)}。'
        f"等级分数线：{esc('，'.join(f'{c.grade} ≥ {fmt(c.min)}' for c in a.ws.rubric.cutoffs))}。</p>"
    )
    if r.pending:
        verdict = (
            f"经核实的否定项已使信用等级直接列为 {r.grade} 级" if r.effective_veto else "本结果为暂定结果，不评定等级"
        )
        body += f'<p class="rk-warn">尚有指标未评：{esc(total_note(r))}。{verdict}。</p>'
    return _section("评估结论", body, "rk-conclusion")


def level1(a: Assessment, r: Result) -> str:
    complete = {n: x for n, x in a.cohort.items() if x.status == "complete"}
    means = class_means(complete)
    counts = {k: sum(1 for x in complete.values() if k in ("全部", x.klass)) for k in means}
    mine, everyone = means.get(r.klass), means.get("全部")

    def mean(m: dict | None, name: str) -> str:
        return "—" if m is None else f"{m[name]:.1f}"  # no complete institution to compare with

    rows = [
        (
            esc(lv.name),
            fmt(lv.points),
            f"<strong>{fmt(r.level1[lv.name])}</strong>",
            mean(mine, lv.name),
            mean(everyone, lv.name),
        )
        for lv in a.ws.rubric.levels
    ]
    table = _table(
        (
            "一级指标",
            "满分",
            "本机构",
            f"{esc(r.klass)}均值（{counts.get(r.klass, 0)} 家）",
            f"全部机构均值（{counts.get('全部', 0)} 家）",
        ),
        rows,
    )
    chart = level1_chart_svg(a.ws.rubric, r, mine, everyone)
    return _section(
        "一级指标得分与对比",
        f'{table}<figure class="rk-chart">{chart}'
        "<figcaption>各一级指标得分率（得分 ÷ 满分），与同类机构及全部机构均值对比；均值只含评估已完成的机构，"
        "按本报告生成时评分库中的评分计算</figcaption></figure>",
    )


def _lines_html(lines: Sequence[Line]) -> str:
    if not lines:
        return '<span class="rk-muted">无扣分</span>'
    items = "".join(
        f'<li class="rk-line rk-{ln.kind}"><span class="rk-kind">{esc(LINE_KIND_ZH[ln.kind])}</span> '
        f'<span class="rk-pts">{fmt(ln.points)}</span> {esc(ln.text)}'
        f"{f' <span class=rk-ref>[{esc(ln.ref)}]</span>' if ln.ref else ''}</li>"
        for ln in lines
    )
    return f'<ul class="rk-lines">{items}</ul>'


def _indicator_row(a: Assessment, i: IndicatorResult) -> tuple[str, ...]:
    ind = a.ws.rubric.indicators[i.number]
    state = "待评" if i.pending else ("已评" if i.judged else "按记录")
    style = BASE_ZH[i.base]
    score = (
        f"<strong>{fmt(i.score)}</strong>"
        if not i.pending
        else f'<span class="rk-pending">{fmt(i.score)}（待评）</span>'
    )
    return (
        str(i.number),
        f"{esc(i.name)}<br><small>{esc('、'.join(ind.sources))}；{style}</small>",
        fmt(i.max_points),
        score,
        esc(state),
        _lines_html(i.lines),
        esc(i.evidence) or "—",
    )


def indicators(a: Assessment, r: Result) -> str:
    parts = []
    for lv in a.ws.rubric.levels:
        for g in lv.groups:
            rows = [_indicator_row(a, i) for i in r.indicators if i.level2 == g.name]
            mark = INFERRED_ZH if g.inferred else ""
            parts.append(
                f"<h3>{esc(lv.name)} · （{g.number}）{esc(g.name)}{mark}  "
                f"<small>{fmt(r.level2[g.name])} / {fmt(sum(i.max_points for i in g.indicators))}</small></h3>"
            )
            parts.append(
                _table(("编号", "三级指标", "满分", "得分", "状态", "扣分、加分与依据", "佐证"), rows, "rk-indicators")
            )
    return _section("指标评分明细", "".join(parts))


def records(a: Assessment, r: Result) -> str:
    dismissed = a.snapshot().sheet().dismissed
    hits: dict[str, list[str]] = {}
    kinds: dict[str, set[str]] = {}
    for i in r.indicators:
        for ln in i.lines:
            if ln.ref and ln.kind in ("record", "dismissed", "outside"):
                hits.setdefault(ln.ref, []).append(f"指标{i.number}（{fmt(ln.points)}）")
                kinds.setdefault(ln.ref, set()).add(ln.kind)
    rows = []
    for rec in a.evidence.records:
        hit = hits.get(rec.id, [])
        if rec.id in dismissed:
            state = f"已排除：{esc(dismissed[rec.id])}"
        elif "record" in kinds.get(rec.id, ()):
            state = "计分"
        else:
            state = "不计分（回溯期外或基准日后）"
        rows.append(
            (
                esc(rec.id),
                esc(rec.type),
                esc(rec.severity),
                esc(rec.authority),
                rec.date.isoformat(),
                esc(rec.ref),
                esc(rec.summary),
                esc("、".join(hit) or "—"),
                state,
            )
        )
    if not rows:
        return _section("信用记录", "<p>预采集未发现该机构的信用记录。</p>")
    return _section(
        "信用记录",
        _table(("编号", "类型", "程度", "发布机关", "日期", "文号", "摘要", "影响指标", "处理"), rows, "rk-records"),
    )


def materials_and_staff(a: Assessment) -> str:
    """附件3 as the institution provided it: missing materials by name, staff counted per table (no names)."""
    items = {i.number: i.text for i in a.ws.materials.items}
    given = {m.item: m for m in a.evidence.materials}
    missing = [n for n in items if n not in given or not given[n].provided]
    if not given:
        body = "<p>数据集中没有该机构的材料清单记录。</p>"
    elif missing:
        rows = [(str(n), esc(items[n]), esc(given[n].note) if n in given else "未登记") for n in missing]
        body = f"<p>附件3 共 {len(items)} 项材料，未提供 {len(missing)} 项：</p>" + _table(
            ("序号", "材料", "备注"), rows
        )
    else:
        body = f"<p>附件3 所列 {len(items)} 项材料均已提供。</p>"
    counts = [
        (f"表{t}", esc(name), str(sum(1 for p in a.evidence.personnel if p.table == t)))
        for t, name in a.ws.materials.table_names.items()
    ]
    body += "<h3>相关人员统计表</h3>" + _table(("表", "名单", "人数"), counts)
    return _section("准备材料与人员（附件3）", body)


def bonus_and_veto(a: Assessment, r: Result) -> str:
    bonus = _lines_html(r.bonus_lines) if r.bonus_lines else "<p>无加分项。</p>"
    body = f"<h3>加分项（上限 {fmt(a.ws.rubric.bonus.cap)} 分）：{fmt(r.bonus)} 分</h3>{bonus}"
    if r.veto:
        rows = [
            (esc(v.clause), esc(v.text), esc(VETO_STATUS_ZH[v.status]), esc(v.reason), esc("、".join(v.raised_by)))
            for v in r.veto
        ]
        body += "<h3>否定项</h3>" + _table(("条款", "内容", "状态", "事实与理由", "提出依据"), rows, "rk-veto")
        if r.effective_veto:
            body += (
                '<p class="rk-warn">经省职鉴中心核实的否定项：第 '
                + "、".join(esc(v.clause) for v in r.effective_veto)
                + f" 条，信用等级直接列为 {esc(r.grade)} 级。</p>"
            )
    else:
        body += "<h3>否定项</h3><p>未发现否定项情形。</p>"
    return _section("加分项与否定项", body)


def pending(a: Assessment, r: Result) -> str:
    if not r.pending:
        return _section("待评事项", "<p>全部需专家评判的指标均已评分。</p>")
    names = "".join(f"<li>{n}. {esc(a.ws.rubric.indicators[n].name)}</li>" for n in r.pending)
    return _section(
        "待评事项",
        f'<p class="rk-warn">以下 {len(r.pending)} 项指标尚未评分：</p><ul class="rk-pending-list">{names}</ul>',
    )


def _version_row(rubric, v: Version) -> tuple[str, ...]:
    return (
        esc(local_time(v.created_at)),
        esc(v.expert),
        esc(v.stage),
        esc(v.key),
        str(v.seq),
        esc(describe_version(rubric, v.key, v.content)),
        esc(v.reason or "—"),
    )


def history(a: Assessment) -> str:
    versions = a.history()
    body = signoffs_html(a)
    if versions:
        body += f"<p>评分库共记录 {len(versions)} 个版本（每次修改均保留修改人、时间、原因与原值）。</p>"
        body += _table(
            ("时间（北京时间）", "修改人", "阶段", "项目", "版本", "内容", "说明"),
            [_version_row(a.ws.rubric, v) for v in reversed(versions)],
            "rk-history",
        )
    else:
        body += "<p>评分库中尚无该机构的评分记录。</p>"
    return _section("签字与修改记录", body)


def digest_section(a: Assessment) -> str:
    d = input_digests(a)
    attrs = " ".join(f'data-{k}="{esc(v)}"' for k, v in d.items())
    rows = [
        ("指标体系", d["rubric"]),
        ("机构名单", d["roster"]),
        ("证据（信用记录、材料、人员）", d["evidence"]),
        ("专家评分（评分库当前版本）", d["judgments"]),
        ("全部输入", d["inputs"]),
    ]
    table = _table(("输入", "SHA-256"), [(esc(k), f"<code>{esc(v)}</code>") for k, v in rows], "rk-digest")
    note = (
        "<p>用 <code>rubric-kernel verify 报告.html</code> 可根据评分库与数据集重新计算摘要，"
        "核对本报告是否仍与当前数据一致。</p>"
    )
    return _section("输入摘要", f'<div id="rk-digest" {attrs}></div>{table}{note}')


def consolidation(a: Assessment, threshold: float = 3.0) -> str:
    """The group's consolidation view; empty unless experts scored independently (sheet="own")."""
    from ..workflow.consolidate import EXPERT_PREFIX, consolidate

    if sum(s.startswith(EXPERT_PREFIX) for s in a.store.sheets(a.dataset, a.institution.number)) < 2:
        return ""
    rows = consolidate(a.ws, a.store, a.institution.number, threshold)
    if not rows:
        return _section("专家独立评分比对", f"<p>各专家独立评分在所有指标上的分差均不超过 {threshold:g} 分。</p>")
    body = _table(
        ("指标", "分差", "各专家得分与理由"),
        [
            (
                f"{d.number}. {esc(d.name)}",
                fmt(d.spread),
                "<br>".join(
                    f"{esc(e)}：{fmt(v)}　{esc('；'.join(d.reasons[e]) or '无扣分')}" for e, v in d.scores.items()
                ),
            )
            for d in rows
        ],
    )
    return _section("专家独立评分比对", f"<p>分差超过 {threshold:g} 分的指标，请小组合议后形成一致评分表：</p>{body}")


def full_report(a: Assessment) -> list[str]:
    """All sections in reading order; each becomes one output of the notebook."""
    r = a.score()
    parts = [
        demo_banner(a) + identity(a, r),
        conclusion(a, r),
        level1(a, r),
        indicators(a, r),
        records(a, r),
        materials_and_staff(a),
        bonus_and_veto(a, r),
        pending(a, r),
        consolidation(a),
        history(a),
        digest_section(a),
    ]
    return [p for p in parts if p]
