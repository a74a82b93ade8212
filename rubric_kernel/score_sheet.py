"""The printable score sheet (评分表) as XLSX, laid out like 附件2, ready for the expert group to sign."""

from __future__ import annotations

import io

from .labels import VETO_STATUS_ZH, defaults_note, grade_text, group_title, unchanged_text
from .roster import Institution
from .rubric import Rubric
from .scoring import Result
from .spreadsheet import append_row, print_setup

HEAD = ("一级指标", "二级指标", "三级指标", "信息来源", "评估依据", "满分", "得分", "扣分、加分说明", "佐证")
TITLE = "四川省技能人才评价机构信用评估评分表"


def score_sheet_xlsx(
    rubric: Rubric, inst: Institution, r: Result, mark: str, experts: list[str], opinion: str = ""
) -> bytes:
    """The sheet the expert group signs: every indicator, bonus, veto, total and the group's 专家组意见."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    wb = Workbook()
    ws = wb.active

    def add(row: list) -> None:
        append_row(ws, row)  # experts' text never becomes a formula

    ws.title = "评分表"
    thin = Side(style="thin", color="999999")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    title = f"{'【' + mark + '】' if mark else ''}{TITLE}"
    add([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEAD))
    ws["A1"].font = Font(bold=True, size=14, color="C0392B" if mark else "000000")
    ws["A1"].alignment = Alignment(horizontal="center")
    add(
        [
            f"评价机构：{inst.name}（序号 {inst.number}，{inst.klass}）",
            "",
            "",
            "",
            "",
            f"评估基准日：{r.as_of.isoformat()}",
        ]
    )
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=5)
    ws.merge_cells(start_row=2, start_column=6, end_row=2, end_column=len(HEAD))
    add(list(HEAD))
    for cell in ws[3]:
        cell.font = Font(bold=True)
        cell.border = box
    by_number = {i.number: i for i in r.indicators}
    for lv in rubric.levels:
        lv_start = ws.max_row + 1
        for g in lv.groups:
            g_start = ws.max_row + 1
            for ind in g.indicators:
                ir = by_number[ind.number]
                notes = "\n".join(f"{ln.points:+g} {ln.text}" for ln in ir.lines) or unchanged_text(
                    ir.pending, ir.base, ir.needs_finding
                )
                score = "待评" if ir.pending else ir.score
                add(
                    [
                        f"{lv.name}（{lv.points:g}）",
                        group_title(g.number, g.name, g.inferred),
                        f"{ind.number}. {ind.name}",
                        "、".join(ind.sources),
                        rubric.basis_text(ind.basis),
                        ind.max_points,
                        score,
                        notes,
                        ir.evidence,
                    ]
                )
            if ws.max_row > g_start:
                ws.merge_cells(start_row=g_start, start_column=2, end_row=ws.max_row, end_column=2)
        ws.merge_cells(start_row=lv_start, start_column=1, end_row=ws.max_row, end_column=1)
    table_end = ws.max_row
    for row in ws.iter_rows(min_row=4, max_row=ws.max_row):
        for cell in row:
            cell.alignment = wrap
            cell.border = box
    add([])
    add(
        [
            "加分项",
            "",
            rubric.bonus.description,
            "、".join(rubric.bonus.sources),
            rubric.basis_text(rubric.bonus.basis),
            rubric.bonus.cap,
            r.bonus,
            "\n".join(f"{ln.points:+g} {ln.text}" for ln in r.bonus_lines),
        ]
    )
    veto = "\n".join(f"第{v.clause}条（{VETO_STATUS_ZH[v.status]}）{v.text}；{v.reason}" for v in r.veto) or "无"
    add(["否定项", "", "", "", "", "", "", veto])
    add(["总分", "", "", "", "", rubric.meta.total_points, r.total, f"等级：{grade_text(r)}"])
    add(["专家组意见", "", opinion or "（未填写）"])
    ws.merge_cells(start_row=ws.max_row, start_column=3, end_row=ws.max_row, end_column=len(HEAD))
    for row in ws.iter_rows(min_row=ws.max_row - 3, max_row=ws.max_row):
        for cell in row:
            cell.alignment = wrap
    if note := defaults_note(rubric):
        add([note])
        ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=len(HEAD))
    add([])
    blank = [""] * (len(HEAD) - 2)  # the signature lines go into the wide 说明 column
    add(["评估专家签字：", *blank, "　　".join(f"{e}：________" for e in experts)])
    add(["日期：____年__月__日", *blank, "评价机构（签章）：　　　　负责人签字：________"])
    print_setup(ws, TITLE, mark, header_row=3, table_end=table_end, freeze_col=0, max_width=60)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
