"""The cohort as pandas DataFrames, for reviewers who analyse results the way analysts expect.

Three frames from one scoring of the cohort (``cohort.score_cohort`` over the store's current
sheets, so every figure agrees with the reports): one row per institution, one per institution ×
indicator, and the credit records with what became of each. pandas is imported here and only
here: the command line never imports this module, so it never pays pandas' import time.

Column names are the Chinese the reports use, since they are what the reviewers read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select

from .cohort import score_cohort
from .errors import Fault, InputError
from .evidence import parse_date
from .judgments import bootstrap
from .labels import BASE_ZH, RECORD_STATUS_ZH, STATUS_ZH
from .roster import CLASSES
from .rubric import Rubric
from .scoring import Result, in_window
from .store import Snapshot, Store
from .tables import versions
from .workspace import KERNEL_WORKSPACES, Workspace

UNGRADED = "暂定"  # the grade column of a provisional institution in distributions
LEVEL1 = "一级·"  # prefix of the first-level score columns


@dataclass(frozen=True)
class CohortFrames:
    """One programme's cohort, scored once, as three frames."""

    programme: str  # the dataset's name: how the store tells programmes (years) apart
    as_of: dt.date
    mark: str  # "演示数据" for synthetic data, shown on every output made from it
    rubric: Rubric
    institutions: pd.DataFrame
    indicators: pd.DataFrame
    records: pd.DataFrame


def grade_order(rubric: Rubric) -> list[str]:
    """Grades from best to worst, as the rubric's active cut-offs rank them."""
    order = [c.grade for c in sorted(rubric.cutoffs, key=lambda c: -c.min)]
    return order if rubric.grades.lowest in order else [*order, rubric.grades.lowest]


def institutions_frame(ws: Workspace, results: Mapping[int, Result]) -> pd.DataFrame:
    """One row per institution, indexed by 序号; ``等级`` is ordered (``df.等级 >= "AAA"`` works)."""
    rows = []
    for n, r in sorted(results.items()):
        rows.append(
            {
                "序号": n,
                "评价机构": r.name,
                "类别": r.klass,
                "总分": r.total,
                "等级": r.grade,
                "状态": STATUS_ZH[r.status],
                "暂定": r.status == "provisional",
                "小计": r.subtotal,
                "加分": r.bonus,
                "否定项": "、".join(v.clause for v in r.effective_veto),
                "否定项待核实": "、".join(v.clause for v in r.veto if v.status == "raised"),
                "待评指标数": len(r.pending),
                "待评指标暂计分值": r.pending_points,
                "待评指标可增分值": r.pending_upside,
                "距上一等级": r.to_next_grade,
                **{f"{LEVEL1}{k}": v for k, v in r.level1.items()},
            }
        )
    df = pd.DataFrame(rows).set_index("序号")
    df["等级"] = pd.Categorical(df["等级"], categories=grade_order(ws.rubric)[::-1], ordered=True)
    df["类别"] = pd.Categorical(df["类别"], categories=CLASSES)
    return df


def indicators_frame(results: Mapping[int, Result]) -> pd.DataFrame:
    """One row per institution × indicator. ``扣分``: points the indicator lost from where it
    started (its maximum, for deduction-style indicators; award-style ones start at 0 and lose none)."""
    rows = [
        {
            "序号": n,
            "评价机构": r.name,
            "类别": r.klass,
            "指标": i.number,
            "指标名称": i.name,
            "一级指标": i.level1,
            "二级指标": i.level2,
            "计分方式": BASE_ZH[i.base],
            "满分": i.max_points,
            "得分": i.score,
            "扣分": round(max(0.0, i.max_points - i.score), 4) if i.base == "full" else 0.0,
            "已评": i.judged,
            "待评": i.pending,
        }
        for n, r in sorted(results.items())
        for i in r.indicators
    ]
    return pd.DataFrame(rows)


def records_frame(
    ws: Workspace, snapshots: Mapping[int, Snapshot], results: Mapping[int, Result], as_of: dt.date
) -> pd.DataFrame:
    """Every credit record of the scored institutions: counted, dismissed (with the reason) or outside
    its look-back window, and the points it moved on which indicators."""
    rows = []
    for n, r in sorted(results.items()):
        moved: dict[str, list[tuple[int, float]]] = {}
        for i in r.indicators:
            for line in i.lines:
                if line.kind in RECORD_STATUS_ZH:
                    moved.setdefault(line.ref, []).append((i.number, line.points))
        dismissed = snapshots.get(n, Snapshot({})).sheet(ws.rubric).dismissed
        for rec in ws.dataset.for_institution(n).records:
            if rec.id in dismissed:  # the precedence ``scoring.score`` applies
                status = "dismissed"
            elif not in_window(rec, ws.rubric, as_of):
                status = "outside"
            else:
                status = "record"
            effects = moved.get(rec.id, [])
            rows.append(
                {
                    "序号": n,
                    "评价机构": r.name,
                    "记录编号": rec.id,
                    "记录类型": rec.type,
                    "严重程度": rec.severity,
                    "认定机关": rec.authority,
                    "系统": rec.system,
                    "日期": rec.date,
                    "文号": rec.ref,
                    "摘要": rec.summary,
                    "状态": RECORD_STATUS_ZH[status],
                    "计分": status == "record",
                    "排除理由": dismissed.get(rec.id, ""),
                    "影响指标": "、".join(str(k) for k, _ in effects),
                    "分值": round(sum(p for _, p in effects), 4),
                }
            )
    columns = ["序号", "评价机构", "记录编号", "记录类型", "严重程度", "认定机关", "系统", "日期", "文号", "摘要"]
    columns += ["状态", "计分", "排除理由", "影响指标", "分值"]
    return pd.DataFrame(rows, columns=columns)


def cohort_frames(ws: Workspace, snapshots: Mapping[int, Snapshot], as_of: dt.date | None = None) -> CohortFrames:
    """The three frames of one programme from the store's current sheets (a sheet that no longer
    fits the rubric or the records is refused, as for the lists: analysis must not hide it)."""
    as_of = as_of or ws.dataset.as_of
    results = score_cohort(ws, snapshots, as_of)
    return CohortFrames(
        ws.dataset.name,
        as_of,
        ws.dataset.mark,
        ws.rubric,
        institutions_frame(ws, results),
        indicators_frame(results),
        records_frame(ws, snapshots, results, as_of),
    )


def programmes(store: Store) -> list[str]:
    """The programmes (dataset names) the store holds judgments for."""
    with store.engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(select(versions.c.dataset).distinct()))


def load_cohort(data: str = "", db: str = "", as_of: str = "", *, bootstrap_store: bool = True) -> CohortFrames:
    """The notebook's entry: parameters as strings, empty meaning the default (as ``open_assessment``).

    A store used for the first time is filled from the dataset's judgments files, as everywhere else.
    """
    ws = KERNEL_WORKSPACES.load(data or None)
    try:
        when = parse_date(as_of) if as_of else ws.dataset.as_of
    except ValueError:
        raise InputError([Fault("参数 as_of", f"日期“{as_of}”无效，应为 YYYY-MM-DD")]) from None
    with Store(db or None) as store:
        if bootstrap_store:
            bootstrap(store, ws)
        return cohort_frames(ws, store.snapshots(ws.dataset.name), when)


def grade_distribution(c: CohortFrames) -> pd.DataFrame:
    """Institutions per class (rows) and grade (columns, best first, provisional last), with totals."""
    grades = c.institutions["等级"].astype(object).where(c.institutions["等级"].notna(), UNGRADED)
    table = pd.crosstab(c.institutions["类别"], grades)
    table = table.reindex(columns=[*grade_order(c.rubric), UNGRADED], fill_value=0)
    table = table.reindex(index=[k for k in CLASSES if k in table.index], fill_value=0)
    table.loc["合计"] = table.sum()
    table["合计"] = table.sum(axis=1)
    table.index.name, table.columns.name = "类别", "等级"
    return table


def deductions_matrix(c: CohortFrames) -> pd.DataFrame:
    """Points lost per institution (rows, 序号) and indicator (columns, number)."""
    return c.indicators.pivot(index="序号", columns="指标", values="扣分")


def outliers(c: CohortFrames, threshold: float = 2.0) -> pd.DataFrame:
    """Complete institutions whose total or first-level score lies ``threshold`` or more standard
    deviations from their class mean (provisional totals still hold starting points: left out)."""
    done = c.institutions[~c.institutions["暂定"]]
    measures = ["总分", *[col for col in done.columns if col.startswith(LEVEL1)]]
    found = []
    for klass, group in done.groupby("类别", observed=True):
        for m in measures:
            mean, std = group[m].mean(), group[m].std()
            if not std or pd.isna(std):
                continue
            z = (group[m] - mean) / std
            for n in z[z.abs() >= threshold].index:
                found.append(
                    {
                        "序号": n,
                        "评价机构": group.at[n, "评价机构"],
                        "类别": klass,
                        "指标": m.removeprefix(LEVEL1),
                        "得分": group.at[n, m],
                        "类别均值": round(mean, 2),
                        "偏离（标准差倍数）": round(float(z[n]), 2),
                    }
                )
    columns = ["序号", "评价机构", "类别", "指标", "得分", "类别均值", "偏离（标准差倍数）"]
    out = pd.DataFrame(found, columns=columns)
    return out.sort_values("偏离（标准差倍数）", key=abs, ascending=False).reset_index(drop=True)


def compare_programmes(a: CohortFrames, b: CohortFrames) -> pd.DataFrame:
    """Institutions scored in both programmes: total and grade in each, and how they moved."""
    cols = ["总分", "等级"]
    left = a.institutions[["评价机构", "类别", *cols]].rename(columns={k: f"{k}·{a.programme}" for k in cols})
    right = b.institutions[cols].rename(columns={k: f"{k}·{b.programme}" for k in cols})
    both = left.join(right, how="inner")
    both["总分变化"] = (both[f"总分·{b.programme}"] - both[f"总分·{a.programme}"]).round(4)
    order = grade_order(a.rubric)
    rank = {g: i for i, g in enumerate(order)}

    def moved(row: pd.Series) -> str:
        ga, gb = row[f"等级·{a.programme}"], row[f"等级·{b.programme}"]
        if pd.isna(ga) or pd.isna(gb):
            return "暂定，不比较"
        return "持平" if ga == gb else ("上升" if rank[gb] < rank[ga] else "下降")

    both["等级变化"] = both.apply(moved, axis=1)
    return both
