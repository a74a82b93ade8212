"""Generate the synthetic demo dataset (``data/demo``) for the 75 pilot institutions.

Deterministic: the same rubric and roster give byte-identical files, so a test can regenerate the
folder and compare. Every record, person and judgment is invented and labelled 演示: the data exists
to exercise the tool, never to describe a real institution.

    python tools/make_demo_data.py [OUT_DIR]
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
from pathlib import Path

import yaml

from rubric_kernel.evidence import CreditRecord, Evidence, classify_authority
from rubric_kernel.judgments_file import JudgmentsFile, write_judgments
from rubric_kernel.roster import load_roster
from rubric_kernel.rubric import POSITIVE_WINDOW, Rubric, load_rubric
from rubric_kernel.scoring import Scorer
from rubric_kernel.sheet import FreeEntry, IndicatorJudgment, Sheet, VetoDecision
from rubric_kernel.workspace import DEMO_DATA, ROSTER_PATH, RUBRIC_PATH

SEED = 20230508
AS_OF = dt.date(2023, 7, 31)
# Target totals cycle through every grade band so the demo shows all five grades.
TARGETS = [975, 955, 930, 915, 905, 880, 860, 845, 820, 805, 785, 760, 740, 720, 705, 680, 655, 630, 610, 570, 520]
PENDING = {20, 45, 71}  # judged only in part: provisional results
UNJUDGED = {75}  # no judgments file at all: every judgment indicator pending
CONFIRMED_VETO = 66  # a severe 人社 administrative penalty, veto confirmed by the centre
RAISED_VETO = 29  # a severe enforcement record raises a veto the centre has not yet decided
EXPERT_VETO = 44  # an expert raises clause 1(2) (false advertising) on site, still undecided
DISMISSED = {8, 17, 38, 52, 63}  # each gets one record dismissed after credit repair
NO_FINDING = {75}  # the centre has not yet entered its 人社部门 data (indicator 16 waits for it)
FINDINGS_DATE = dt.date(2023, 6, 30)  # the day the centre read the 题库建设技术评估 results

HRSS = ["四川省人力资源和社会保障厅", "四川省职业技能鉴定指导中心", "成都市人力资源和社会保障局"]
OTHERS = [
    "成都市市场监督管理局",
    "国家税务总局成都市税务局",
    "成都市中级人民法院",
    "四川省生态环境厅",
    "成都市应急管理局",
    "四川省民政厅",
    "成都市劳动人事争议仲裁委员会",
    "成都市人民政府",
]
NEGATIVE = [
    "履约践诺",
    "司法判决",
    "负面舆情",
    "数据报送",
    "有责投诉",
    "社保欠费欠缴",
    "通报批评",
    "约谈",
    "督促整改",
    "行政处罚",
    "司法执行",
    "行政强制",
    "异常名录",
    "劳动争议",
    "管理人员失信",
]
POSITIVE = ["红名单", "荣誉奖励"]
SUMMARIES = {
    "履约践诺": "未按合同约定履行场地租赁义务",
    "司法判决": "合同纠纷一审判决败诉",
    "负面舆情": "网络媒体报道考生投诉收费问题",
    "数据报送": "未按期报送考务及成绩数据",
    "有责投诉": "考生投诉考场组织混乱，经核查属实",
    "社保欠费欠缴": "欠缴职工社会保险费",
    "通报批评": "评价工作不规范被通报批评",
    "约谈": "因考务管理问题被约谈提醒",
    "督促整改": "质量督导发现问题被责令整改",
    "行政处罚": "违反规定被处以罚款",
    "司法执行": "未履行生效判决被强制执行",
    "行政强制": "被采取查封措施",
    "异常名录": "被列入经营异常名录",
    "劳动争议": "劳动争议仲裁败诉",
    "管理人员失信": "负责人存在失信记录",
    "红名单": "列入守信激励名单",
    "荣誉奖励": "获政府部门表彰",
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志宏海波宁"
EDUCATION = ["大专", "本科", "本科", "硕士研究生"]
PERSONNEL_ROLES = {
    1: ["领导岗位", "综合管理岗位", "考务管理岗位", "题库管理岗位", "财务管理岗位", "信息管理岗位", "证书管理岗位"],
    2: ["法定代表人", "负责人"],
    3: ["育婴员", "保育师", "中式烹调师", "电工", "美容师", "健康管理师", "茶艺师", "汽车维修工"],
    4: ["内部质量督导员"],
    5: ["题库专家"],
}
QUALIFICATIONS = {
    1: ["中级职称", "高级职称", "高级工", "技师"],
    2: ["高级职称", "高级技师", "考评管理培训合格"],
    3: ["三级/高级工", "二级/技师", "一级/高级技师"],
    4: ["质量督导员培训合格证"],
    5: ["二级/技师", "一级/高级技师"],
}
OPTIONAL_MATERIALS = {9, 19, 21, 22, 25, 26}  # the checklist says 若有


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def _severity_safe(rubric: Rubric, rtype: str, authority: str, severity: str) -> bool:
    """True when a record of this kind raises no veto (vetoes are placed deliberately, not by chance)."""
    system = classify_authority(authority, rubric)
    return not any(
        e.veto and e.authority in ("任意", system) and e.severity in (None, severity)
        for e in rubric.record_types_by_code[rtype].effects
    )


def _issuer(rubric: Rubric, rtype: str, pool: list[str], rng: random.Random) -> str:
    """An authority that plausibly issues this record type, from ``pool`` where it has one."""
    plausible = [a for a in pool if rubric.plausible_issuer(rtype, a)]
    return rng.choice(plausible or [a for a in HRSS + OTHERS if rubric.plausible_issuer(rtype, a)])


def make_records(rubric: Rubric, numbers: list[int], rng: random.Random) -> list[dict]:
    rows: list[dict] = []

    def add(n: int, rtype: str, authority: str, severity: str, date: dt.date) -> None:
        seq = sum(1 for r in rows if r["机构序号"] == n) + 1
        rows.append(
            {
                "记录编号": f"R{n:02d}-{seq:02d}",
                "机构序号": n,
                "记录类型": rtype,
                "发布机关": authority,
                "日期": date.isoformat(),
                "严重程度": severity,
                "文号": f"演示〔{date.year}〕{rng.randint(10, 999)}号",
                "摘要": f"（演示）{SUMMARIES[rtype]}",
                "信息来源": "大数据采集（演示）",
            }
        )

    for n in numbers:
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 4])):
            rtype = rng.choice(NEGATIVE)
            authority = _issuer(rubric, rtype, HRSS if rng.random() < 0.5 else OTHERS, rng)
            severity = rng.choices(["一般", "较重", "严重"], [70, 22, 8])[0]
            if not _severity_safe(rubric, rtype, authority, severity):
                severity = "一般"
            add(n, rtype, authority, severity, _date(rng, dt.date(2019, 6, 1), AS_OF - dt.timedelta(days=10)))
        if rng.random() < 0.3:
            rtype = rng.choice(POSITIVE)
            authority = _issuer(rubric, rtype, HRSS + OTHERS, rng)
            add(n, rtype, authority, "", _date(rng, dt.date(2022, 9, 1), AS_OF - dt.timedelta(days=10)))
        if n in DISMISSED:
            add(n, "负面舆情", "成都市市场监督管理局", "一般", dt.date(2023, 2, 14))
    add(CONFIRMED_VETO, "行政处罚", HRSS[0], "严重", dt.date(2023, 3, 20))
    add(RAISED_VETO, "司法执行", OTHERS[2], "严重", dt.date(2022, 11, 3))
    return rows


def make_materials(numbers: list[int], rng: random.Random) -> list[dict]:
    rows = []
    for n in numbers:
        for item in range(1, 28):
            missing = (item in OPTIONAL_MATERIALS and rng.random() < 0.35) or rng.random() < 0.03
            rows.append(
                {
                    "机构序号": n,
                    "材料序号": item,
                    "是否提供": "否" if missing else "是",
                    "备注": "（演示）机构未提供" if missing else "",
                }
            )
    return rows


def make_personnel(numbers: list[int], rng: random.Random) -> list[dict]:
    """One row per person and table (the loader refuses a person listed twice in one table)."""
    rows = []
    for n in numbers:
        for table, roles in PERSONNEL_ROLES.items():
            names: set[str] = set()
            for role in roles if table in (1, 2) else [rng.choice(roles) for _ in range(rng.randint(2, 5))]:
                name = _name(rng)
                while name in names:
                    name = _name(rng)
                names.add(name)
                rows.append(
                    {
                        "机构序号": n,
                        "表号": table,
                        "岗位": role,
                        "姓名": name,
                        "资格": rng.choice(QUALIFICATIONS[table]),
                        "学历": "" if table == 3 else rng.choice(EDUCATION),
                        "从业年限": rng.randint(1, 25),
                    }
                )
    return rows


def _records_by_institution(rubric: Rubric, rows: list[dict]) -> dict[int, Evidence]:
    out: dict[int, list[CreditRecord]] = {}
    for r in rows:
        rec = CreditRecord(
            r["记录编号"],
            r["机构序号"],
            r["记录类型"],
            r["发布机关"],
            classify_authority(r["发布机关"], rubric),
            dt.date.fromisoformat(r["日期"]),
            r["严重程度"] or POSITIVE_WINDOW,
            r["文号"],
            r["摘要"],
            r["信息来源"],
        )
        out.setdefault(rec.institution, []).append(rec)
    return {n: Evidence(tuple(rs)) for n, rs in out.items()}


def make_sheet(rubric: Rubric, inst, evidence: Evidence, target: float, rng: random.Random) -> Sheet:
    """Awards and bonus first, then deductions in random order until the total falls to the target."""
    judged = {i.number: {} for i in rubric.indicators.values() if i.needs_judgment}
    for ind in rubric.indicators.values():
        if ind.base == "zero" and ind.needs_judgment and target > 800:
            for it in ind.items:
                if rng.random() < 0.5:
                    judged[ind.number][it.id] = 1
    bonus = {
        b.id: "（演示）佐证材料见档案" for b in rubric.bonus.items if rng.random() < (0.5 if target > 850 else 0.2)
    }
    dismissed = {
        r.id: "（演示）已完成信用修复，修复决定见信用中国（四川）"
        for r in evidence.records
        if inst.number in DISMISSED and r.date == dt.date(2023, 2, 14)
    }
    veto = {}
    if inst.number == CONFIRMED_VETO:
        veto["3"] = VetoDecision("confirmed", "（演示）经核实，该机构被人社部门经听证程序处以行政处罚", "省职鉴中心")
    if inst.number == EXPERT_VETO:
        veto["1(2)"] = VetoDecision("raised", "（演示）现场发现招生宣传材料含“包过”字样，待中心核实", "评估小组")
    free: dict[int, list[FreeEntry]] = {}

    def build() -> Sheet:
        return Sheet(
            {
                n: IndicatorJudgment(dict(t), tuple(free.get(n, ())), f"（演示）档案 {inst.number:02d}-{n:02d}")
                for n, t in judged.items()
            },
            dismissed,
            bonus,
            veto,
        )

    candidates = [
        (ind.number, it)
        for ind in rubric.indicators.values()
        if ind.base == "full" and ind.needs_judgment
        for it in ind.items
    ]
    rng.shuffle(candidates)
    scorer = Scorer(rubric)
    for number, it in candidates:
        if scorer.score(inst, evidence, build(), AS_OF).total <= target:
            break
        judged[number][it.id] = judged[number].get(it.id, 0) + (1 if not it.unit else rng.randint(1, 2))
    if rng.random() < 0.25:
        n = rng.choice(sorted(judged))
        if rubric.indicators[n].base == "full":
            free.setdefault(n, []).append(FreeEntry(1.0, "（演示）现场发现台账填写不规范"))
    return build()


def _drop_some(sheet: Sheet, rng: random.Random, keep: float) -> Sheet:
    kept = {n: j for n, j in sheet.indicators.items() if rng.random() < keep}
    return Sheet(kept, sheet.dismissed, sheet.bonus, sheet.veto, sheet.adjustments)


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def make_findings(rubric: Rubric, numbers: list[int]) -> list[dict]:
    """The centre's 人社部门 findings (演示): every institution's 题库建设技术评估 passed, except one with
    no finding yet, so the demo shows an indicator waiting for the centre's data."""
    return [
        {
            "机构序号": n,
            "指标": ind.number,
            "结果": "无问题",
            "来源": ind.finding.source,
            "日期": FINDINGS_DATE.isoformat(),
            "说明": f"（演示）{ind.finding.data}：通过",
        }
        for n in numbers
        if n not in NO_FINDING
        for ind in rubric.indicators.values()
        if ind.finding is not None
    ]


def generate(out: Path) -> None:
    rubric = load_rubric(RUBRIC_PATH)
    roster = load_roster(ROSTER_PATH)
    rng = random.Random(SEED)
    numbers = list(roster)
    out.mkdir(parents=True, exist_ok=True)
    records = make_records(rubric, numbers, rng)
    _write_csv(out / "records.csv", records)
    _write_csv(out / "materials.csv", make_materials(numbers, rng))
    _write_csv(out / "personnel.csv", make_personnel(numbers, rng))
    _write_csv(out / "findings.csv", make_findings(rubric, numbers))
    meta = {
        "name": "demo",
        "synthetic": True,
        "as_of": AS_OF.isoformat(),
        "description": "75 家试点机构的合成演示数据：信用记录、材料清单、人员名单与评分均为虚构，仅用于演示本工具。",
    }
    (out / "dataset.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")
    evidence = _records_by_institution(rubric, records)
    judgments = out / "judgments"
    judgments.mkdir(exist_ok=True)
    for old in judgments.glob("*.yaml"):
        old.unlink()
    targets = TARGETS * (len(numbers) // len(TARGETS) + 1)
    rng.shuffle(targets)
    for n, target in zip(numbers, targets, strict=False):
        if n in UNJUDGED:
            continue
        sheet = make_sheet(rubric, roster[n], evidence.get(n, Evidence()), target, rng)
        if n in PENDING:
            sheet = _drop_some(sheet, rng, keep=0.8)
        expert = f"{_name(rng)}（演示专家）"
        date = AS_OF - dt.timedelta(days=rng.randint(10, 70))
        write_judgments(JudgmentsFile(n, expert, date, sheet), judgments / f"{n:02d}.yaml")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEMO_DATA
    generate(out)
    print(f"演示数据已生成：{out}")


if __name__ == "__main__":
    main()
