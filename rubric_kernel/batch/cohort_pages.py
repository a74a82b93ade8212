"""The cohort outputs of a run: summary (CSV, XLSX), publicity list (HTML, XLSX), index page, manifest.

They are built from the results the notebooks emitted; nothing here scores.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from html import escape
from pathlib import Path

from markupsafe import Markup

from ..files import atomic_write
from ..labels import STATUS_ZH, defaults_note
from ..programme import Programme
from ..report.chart import bar_chart
from ..report.page import PAGE_CSS, SORT_JS
from ..report.render import render
from ..roster import CLASSES, Institution
from ..rubric import Rubric
from ..spreadsheet import csv_text, xlsx_bytes
from ..workflow.documents import publicity_rows, write_list


def grade_order(rubric: Rubric) -> list[str]:
    """The active preset's grades from highest to lowest, ending with the rubric's lowest grade."""
    grades = [c.grade for c in rubric.cutoffs]
    return grades if rubric.grades.lowest in grades else [*grades, rubric.grades.lowest]


def summary_rows(rubric: Rubric, results: Mapping[int, dict]) -> list[dict]:
    rows = []
    for n, r in sorted(results.items()):
        row = {
            "序号": n,
            "评价机构": r["name"],
            "类别": r["class"],
            "总分": r["total"],
            "等级": r["grade"] or "",
            "状态": STATUS_ZH[r["status"]],
            "流程阶段": r.get("stage", ""),
            "加分": r["bonus"],
            "否定项": "、".join(r["veto"]),
            "待评指标数": len(r["pending"]),
            "距上一等级": r["to_next_grade"],
        }
        row.update({f"一级·{k}": v for k, v in r["level1"].items()})
        pending = set(r["pending"])
        row["待评指标暂计分值"] = r.get("pending_points", 0.0)
        row.update(
            {
                f"{i}.{ind.name}": "待评" if i in pending else r["indicators"][str(i)]
                for i, ind in rubric.indicators.items()
            }
        )
        rows.append(row)
    return rows


# The cohort tables a run writes beside its index, all made from the results, roster, rubric and programme.
TABLES = ("summary.csv", "summary.xlsx", "publicity.html", "publicity.xlsx")


def write_summary(out: Path, rubric: Rubric, results: Mapping[int, dict], mark: str) -> None:
    rows = summary_rows(rubric, results)
    atomic_write(out / "summary.csv", csv_text(rows, mark))
    # Printed, 68 indicator columns beside the totals would shrink the page to nothing: they get their own sheet.
    scores = {f"{i}.{ind.name}" for i, ind in rubric.indicators.items()}
    totals = [{k: v for k, v in r.items() if k not in scores} for r in rows]
    detail = [
        {"序号": r["序号"], "评价机构": r["评价机构"]} | {k: v for k, v in r.items() if k in scores} for r in rows
    ]
    sheets = [("评分汇总", totals), ("指标得分", detail)]
    atomic_write(out / "summary.xlsx", xlsx_bytes(sheets, mark, [defaults_note(rubric)]))


def preview_notes(programme: Programme, rubric: Rubric, complete: int, held: int) -> list[str]:
    """What a reader of the preview must know: it is not yet the 公示, and who will publish it, where and how."""
    return [
        n
        for n in (
            f"共 {complete} 家评估已完成；另有 {held} 家尚未完成或未纳入本次运行。",
            f"本名单由批量评估生成，供复核前预览，尚未经{programme.issuer.value}复核。",
            f"复核通过后由{programme.issuer.value}通过 {programme.publication_site.shown()} 公示，"
            f"公示期 {programme.publicity_days.shown(' 天')}，起止日期于公示时确定。",
            programme.objection_text(),
            defaults_note(rubric),
        )
        if n
    ]


def write_publicity(
    out: Path,
    roster: Mapping[int, Institution],
    results: Mapping[int, dict],
    mark: str,
    *,
    programme: Programme,
    rubric: Rubric,
    title: str = "拟公示名单（预览）",
) -> None:
    rows = publicity_rows(roster, results)
    notes = preview_notes(programme, rubric, len(rows), len(roster) - len(rows))
    write_list(out, "publicity", title, rows, notes, mark)


def grade_chart_svg(rubric: Rubric, roster: Mapping[int, Institution], results: Mapping[int, dict]) -> str:
    counts = Counter((roster[n].klass, r["grade"] or "暂定") for n, r in results.items())
    grades = [*grade_order(rubric), "暂定"]
    colours = {"院校": "#2e86c1", "社评机构": "#c0392b", "专项机构": "#7f8c8d"}
    series = [(k, [counts.get((k, g), 0) for g in grades], colours[k]) for k in CLASSES]
    peak = max([sum(s[1][i] for s in series) for i in range(len(grades))] + [1])
    return bar_chart(
        grades, series, y_max=peak + (4 - peak % 4), y_label="机构数", stacked=True, title="各类别信用等级分布"
    )


PROVISIONAL_OFFSET = 100_000  # provisional totals sort after every final one, whatever the scale


def total_cell(r: dict) -> str:
    """The total with its sort key; a provisional one is marked 906（暂定） and keyed below all final ones."""
    key = r["total"] - (PROVISIONAL_OFFSET if r["status"] != "complete" else 0)
    text = (
        f"{r['total']:g}" if r["status"] == "complete" else f'<span class="provisional">{r["total"]:g}（暂定）</span>'
    )
    return f'<span data-v="{key:g}">{text}</span>'


def veto_cell(r: dict) -> str:
    """The confirmed veto clauses, marked; empty when there is none (key 1 sorts vetoes together)."""
    if not r["veto"]:
        return '<span data-v="0"></span>'
    clauses = "、".join(f"第{escape(str(c))}条" for c in r["veto"])
    return f'<span data-v="1" class="veto">✖ 否定项 {clauses}</span>'


def write_index(
    out: Path,
    rubric: Rubric,
    roster: Mapping[int, Institution],
    results: Mapping[int, dict],
    failures: Mapping[int, str],
    mark: str,
    run_id: str,
) -> None:
    order = [*grade_order(rubric), "暂不评定"]
    rows = []
    for n, inst in roster.items():
        r = results.get(n)
        if r is None:
            status = Markup('<span class="fail">失败：{}</span>').format(failures[n]) if n in failures else "未运行"
            rows.append(
                {
                    "序号": Markup('<span data-v="{}">{}</span>').format(n, n),
                    "评价机构": inst.name,
                    "类别": inst.klass,
                    "总分": Markup('<span data-v="{}"></span>').format(-2 * PROVISIONAL_OFFSET),
                    "等级": Markup('<span data-v="{}"></span>').format(len(order)),
                    "否定项": Markup('<span data-v="0"></span>'),
                    "状态": status,
                    "流程阶段": "",
                    "报告": "",
                }
            )
            continue
        grade = r["grade"] or "暂不评定"
        status = STATUS_ZH[r["status"]] + (f"（待评 {len(r['pending'])} 项）" if r["pending"] else "")
        rank = order.index(grade) if grade in order else len(order)
        rows.append(
            {
                "序号": Markup('<span data-v="{}">{}</span>').format(n, n),
                "评价机构": inst.name,
                "类别": inst.klass,
                "总分": Markup(total_cell(r)),
                "等级": Markup('<span data-v="{}">{}</span>').format(rank, grade),
                "否定项": Markup(veto_cell(r)),
                "状态": status,
                "流程阶段": r.get("stage", ""),
                "报告": Markup(f'<a href="{n:02d}.html">查看报告</a>'),
            }
        )
    html = render(
        "index.html.j2",
        title="技能人才评价机构信用评估结果",
        mark=mark,
        css=Markup(PAGE_CSS),
        script=Markup(SORT_JS),
        run_id=run_id,
        note=defaults_note(rubric),
        chart=Markup(grade_chart_svg(rubric, roster, results)),
        rows=rows,
    )
    atomic_write(out / "index.html", html)


def write_manifest(out: Path, manifest: dict) -> None:
    atomic_write(out / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
