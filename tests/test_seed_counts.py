"""Counts and names of the bundled parameters checked against the seed document (川人社职鉴〔2023〕22号).

The seed's 附件1 is the roster, 附件2 the indicator system, 附件3 the materials checklist. Besides the
fixed counts, the seed text itself is parsed so every name in the parameters is traced to it.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

from rubric_kernel.programme import load_materials
from rubric_kernel.roster import CLASSES

# The seed lives in the project's shared folder beside the checkout (../shared/seed); override with
# RUBRIC_KERNEL_SEED. The fixed counts below are asserted with or without it.
SEED = Path(
    os.environ.get(
        "RUBRIC_KERNEL_SEED",
        Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_18b2cc7d71edb377.txt",
    )
)

LEVEL1_POINTS = {
    "基本情况": 120,
    "质量控制": 430,
    "财务状况": 40,
    "社会责任": 40,
    "服务管理": 90,
    "行业信用": 120,
    "公共信用": 160,
}


def test_fixed_counts_without_the_seed(roster):
    """附件1: 75 institutions, 44 院校 / 26 社评机构 / 5 专项机构; 附件3: 27 materials, tables 1–5 (materials.yaml)."""
    assert len(roster) == 75
    assert Counter(i.klass for i in roster.values()) == {"院校": 44, "社评机构": 26, "专项机构": 5}
    checklist = load_materials()
    assert checklist.count == 27 and [i.number for i in checklist.items] == list(range(1, 28))
    assert sorted(checklist.table_names) == [1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def seed_text() -> str:
    if not SEED.exists():
        pytest.skip(f"seed document not available at {SEED}")
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def annex(seed_text) -> dict[int, str]:
    """The three annexes of the seed, by number."""
    i1 = seed_text.index("\n 附件1\n")
    i2 = seed_text.index("\n附件2\n")
    i3 = seed_text.index("\n 附件3\n")
    return {1: seed_text[i1:i2], 2: seed_text[i2:i3], 3: seed_text[i3:]}


@pytest.fixture(scope="module")
def seed_institutions(annex) -> dict[int, tuple[str, tuple[str, ...]]]:
    """附件1 parsed: number -> (name, types). Cells start with a tab; a wrapped cell continues untabbed."""
    out = {}
    for block in re.split(r"\n\s*\n", annex[1]):
        cells = block.strip("\n").lstrip("\t").split("\n\t")
        if len(cells) >= 4 and cells[0].strip().isdigit():
            number = int(cells[0])
            name = cells[1].replace("\n", "").strip()
            types = tuple(t.strip() for t in cells[-1].split("\n") if t.strip())
            out[number] = (name, types)
    return out


@pytest.fixture(scope="module")
def scoring_part(annex) -> str:
    """附件2 up to the bonus row (the indicator table proper)."""
    return annex[2][: annex[2].index("\t加分项")]


@pytest.fixture(scope="module")
def veto_part(annex) -> str:
    return annex[2][annex[2].index("\t否定项") :]


# ── 附件1: the roster ────────────────────────────────────────────────────────────────────────────


def test_roster_has_75_institutions_numbered_1_to_75(roster):
    assert len(roster) == 75
    assert list(roster) == list(range(1, 76))


def test_roster_class_counts_match_seed(roster, seed_text):
    counts = Counter(inst.klass for inst in roster.values())
    assert counts == {"院校": 44, "社评机构": 26, "专项机构": 5}
    assert set(counts) == set(CLASSES)
    m = re.search(r"共计(\d+)家.*?院校(\d+)家，社评机构(\d+)家，专项机构(\d+)家", seed_text, re.S)
    assert m is not None
    total, schools, social, special = map(int, m.groups())
    assert (total, schools, social, special) == (75, counts["院校"], counts["社评机构"], counts["专项机构"])


def test_institution_6_is_also_unified_exam_special(roster):
    assert "统考专项" in roster[6].types
    assert "认定机构" in roster[6].types
    assert [n for n, inst in roster.items() if "统考专项" in inst.types] == [6]


def test_seed_annex1_parses_to_75_institutions(seed_institutions):
    assert sorted(seed_institutions) == list(range(1, 76))


def test_roster_names_and_types_match_seed_annex1(roster, seed_institutions):
    for number, inst in roster.items():
        seed_name, seed_types = seed_institutions[number]
        assert inst.name == seed_name, number
        assert inst.types == seed_types, number


def test_every_roster_name_appears_in_seed(roster, seed_text):
    flat = seed_text.replace("\r", "").replace("\n", "")
    missing = [inst.name for inst in roster.values() if inst.name not in flat]
    assert missing == []


# ── 附件2: the indicator system ──────────────────────────────────────────────────────────────────


def test_68_third_level_indicators_numbered_1_to_68(rubric):
    assert sorted(rubric.indicators) == list(range(1, 69))
    numbers = [i.number for lv in rubric.levels for g in lv.groups for i in g.indicators]
    assert numbers == list(range(1, 69))  # in seed order, no duplicates


def test_23_second_level_indicators(rubric):
    numbers = [g.number for lv in rubric.levels for g in lv.groups]
    assert numbers == list(range(1, 24))


def test_7_first_level_indicators_with_default_allocation(rubric):
    assert {lv.name: lv.points for lv in rubric.levels} == LEVEL1_POINTS
    assert [lv.name for lv in rubric.levels] == list(LEVEL1_POINTS)
    assert sum(lv.points for lv in rubric.levels) == 1000
    assert rubric.meta.total_points == 1000
    for lv in rubric.levels:
        assert sum(i.max_points for g in lv.groups for i in g.indicators) == lv.points, lv.name


def test_total_points_and_bonus_cap_match_seed(rubric, annex):
    m = re.search(r"信用分值总计(\d+)分，另设置一项加分项（总分(\d+)分）", annex[2])
    assert m is not None
    assert (rubric.meta.total_points, rubric.bonus.cap) == (int(m.group(1)), int(m.group(2)))
    assert rubric.bonus.cap == 50


def test_first_level_names_match_seed(rubric, annex):
    names = re.findall(r"^\t[一二三四五六七]、(\S+)", annex[2], re.M)
    assert names == [lv.name for lv in rubric.levels]


def test_every_indicator_name_appears_in_seed_annex2(rubric, scoring_part):
    for ind in rubric.indicators.values():
        pattern = rf"^\t?{ind.number}\. {re.escape(ind.name)}$"
        assert re.search(pattern, scoring_part, re.M), f"{ind.number}. {ind.name}"


def test_seed_annex2_indicator_list_equals_rubric(rubric, scoring_part):
    found = re.findall(r"^\t?(\d{1,2})\. (\S+)$", scoring_part, re.M)
    assert [(int(n), name) for n, name in found] == [(i.number, i.name) for i in rubric.indicators.values()]


def test_second_level_names_and_inferred_flags_match_seed(rubric, scoring_part):
    seed_l2 = {int(n): re.sub(r"\s+", "", name) for n, name in re.findall(r"（(\d+)）[ \t]*([^\n]*)", scoring_part)}
    assert sorted(seed_l2) == list(range(1, 24))
    blank = {n for n, name in seed_l2.items() if not name}
    assert blank == {9, 12, 17, 23}
    groups = {g.number: g for lv in rubric.levels for g in lv.groups}
    assert {n for n, g in groups.items() if g.inferred} == blank
    for n, g in groups.items():
        assert g.name.strip(), n
        if n not in blank:
            assert g.name == seed_l2[n], n


def test_indicators_6_and_7_are_separate(rubric):
    six, seven = rubric.indicators[6], rubric.indicators[7]
    assert (six.name, seven.name) == ("信息化", "系统")
    assert rubric.placement[6][1].number == rubric.placement[7][1].number == 3
    assert six.max_points > 0 and seven.max_points > 0
    assert {it.id for it in six.items}.isdisjoint({it.id for it in seven.items})


def test_zero_base_exactly_for_honours_and_good_reputation(rubric):
    zero = sorted(n for n, i in rubric.indicators.items() if i.base == "zero")
    assert zero == [49, 50, 51, 52, 53, 54, 60, 61]
    assert all(i.base == "full" for n, i in rubric.indicators.items() if n not in zero)


def test_grades_are_the_five_seed_levels(rubric, annex):
    m = re.search(r"由高至低依次为([A、]+)", annex[2])
    assert m is not None
    seed_grades = m.group(1).split("、")
    assert seed_grades == ["AAAAA", "AAAA", "AAA", "AA", "A"]
    for preset in rubric.grades.presets.values():
        assert [c.grade for c in preset] == seed_grades
    assert rubric.grades.lowest == "A"


# ── 否定项 ─────────────────────────────────────────────────────────────────────────────────────────


def test_nine_veto_clause_groups_clause_1_with_7_items(rubric):
    assert [g.clause for g in rubric.veto] == list(range(1, 10))
    assert [c.id for c in rubric.veto[0].items] == [f"1({k})" for k in range(1, 8)]
    assert all(not g.items for g in rubric.veto[1:])
    assert len(rubric.veto_clauses) == 7 + 8


def test_veto_clause_texts_come_from_seed(rubric, veto_part):
    assert re.findall(r"^(\d)\.", veto_part, re.M) == [str(k) for k in range(1, 10)]
    sub_items = re.findall(r"^（(\d)）(.*)$", veto_part, re.M)
    assert [int(n) for n, _ in sub_items] == list(range(1, 8))
    flat = veto_part.replace("\n", "")
    for g in rubric.veto:
        assert g.text in flat, g.clause
        for c in g.items:
            assert c.text in flat, c.id


# ── 附件3 ─────────────────────────────────────────────────────────────────────────────────────────


def test_27_materials_items(annex):
    items = [int(n) for n in re.findall(r"^(\d+)\.", annex[3], re.M)]
    assert items == list(range(1, 28)) == [i.number for i in load_materials().items]


def test_personnel_tables_1_to_5_match_seed(annex):
    seed_tables = {int(n): name for n, name in re.findall(r"^表(\d) (\S+)", annex[3], re.M)}
    assert sorted(seed_tables) == [1, 2, 3, 4, 5]
    assert seed_tables == load_materials().table_names


def test_record_types_cover_the_seed_pre_collection_list(rubric, seed_text):
    # 实施方案 四（一）: the credit information 大证信用 collects before the on-site assessment
    m = re.search(r"采集汇总评价机构的(.+?)等信用信息", seed_text)
    assert m is not None
    kinds = m.group(1).split("、")
    assert len(kinds) == 12
    assert set(kinds) <= set(rubric.record_types_by_code)


# ── 附件2: information sources, 评估依据 and the notice's title as the seed writes them ──────────────


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_sources_are_written_as_the_seed_writes_them(rubric, annex):
    """Each indicator's joined sources occur in 附件2 (e.g. 人力资源和社会保障部门, 税务等有关部门),
    once the method in brackets is dropped; no shortened 人社部门."""
    seed = _flat(annex[2])
    for n, ind in rubric.indicators.items():
        joined = "、".join(ind.sources)
        assert "人社部门" not in joined, n
        if n == 3:  # two rows in the seed: 机构提供, then the departments
            assert _flat("、".join(ind.sources[1:])) in seed, joined
        else:
            assert _flat(joined) in seed, (n, joined)
    assert _flat("、".join(rubric.bonus.sources)) in seed


def test_every_basis_document_is_cited_in_full_from_the_seed(rubric, annex):
    seed = _flat(annex[2])
    refs = {b for ind in rubric.indicators.values() for b in ind.basis} | set(rubric.bonus.basis)
    for ref in refs:
        assert _flat(rubric.documents[ref]) in seed, ref
    assert rubric.bonus.basis, "the bonus item keeps its basis documents"


def test_notice_title(rubric, seed_text):
    title = "关于印发《四川省技能人才评价机构信用评估试点工作实施方案》的通知"
    assert title in rubric.meta.notice
    assert _flat(title.replace("《", "").replace("》", "")) in _flat(seed_text.replace("《", "").replace("》", ""))
