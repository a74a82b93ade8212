"""The codec is the one map between a sheet and the store's entries: it round-trips every valid sheet,
spells every key with the rubric's stable ids, and refuses ids the rubric does not have."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rubric_kernel.rubric import load_rubric
from rubric_kernel.sheet import Adjustment, FreeEntry, IndicatorJudgment, Sheet, VetoDecision
from rubric_kernel.sheet_codec import entries_to_sheet, orphans, parse_key, sheet_to_entries
from rubric_kernel.workspace import RUBRIC_PATH

RUBRIC = load_rubric(RUBRIC_PATH)
TEXT = st.text(min_size=1, max_size=8)


@st.composite
def judgments(draw) -> IndicatorJudgment:
    number = draw(st.sampled_from(sorted(RUBRIC.indicators)))
    items = [it.id for it in RUBRIC.indicators[number].items]
    ticks = draw(st.dictionaries(st.sampled_from(items), st.integers(1, 3), max_size=len(items))) if items else {}
    free = draw(st.lists(st.builds(FreeEntry, st.floats(0.5, 5), TEXT), max_size=2))
    return number, IndicatorJudgment(ticks, tuple(free), draw(TEXT), draw(st.text(max_size=4)))


@st.composite
def sheets(draw) -> Sheet:
    indicators = dict(draw(st.lists(judgments(), max_size=6)))
    veto = draw(
        st.dictionaries(
            st.sampled_from(sorted(RUBRIC.veto_clauses)),
            st.builds(VetoDecision, st.sampled_from(["raised", "confirmed", "rejected"]), TEXT, TEXT),
            max_size=3,
        )
    )
    return Sheet(
        dict(sorted(indicators.items())),
        draw(st.dictionaries(st.from_regex(r"R[0-9]{3}-[0-9]{2}", fullmatch=True), TEXT, max_size=2)),
        draw(st.dictionaries(st.sampled_from(sorted(RUBRIC.bonus_items)), TEXT, max_size=3)),
        veto,
        draw(
            st.dictionaries(
                st.sampled_from(sorted(RUBRIC.indicators)), st.builds(Adjustment, st.floats(0, 5), TEXT), max_size=2
            )
        ),
    )


@given(sheets())
def test_every_sheet_round_trips_under_stable_ids(sheet):
    entries = sheet_to_entries(sheet, RUBRIC)
    assert entries_to_sheet(entries, RUBRIC) == sheet
    assert orphans(RUBRIC, entries) == []
    for key, content in entries.items():
        assert key.startswith("dismiss:") or RUBRIC.meta.id + ":" in key, key
        assert parse_key(RUBRIC, key) is not None
        assert all(u in RUBRIC.by_urn for u in content.get("ticks", {}))


def test_renumbering_does_not_move_a_judgment(rubric_dict):
    """Swap the numbers of indicators 1 and 2 but keep their ids: the stored judgment follows the id."""
    from rubric_kernel.rubric import parse_rubric

    entries = sheet_to_entries(Sheet({1: IndicatorJudgment(evidence="档案")}), RUBRIC)
    first, second = rubric_dict["levels"][0]["groups"][0]["indicators"][:2]
    first["number"], second["number"] = 2, 1
    renumbered = parse_rubric(rubric_dict)
    assert entries_to_sheet(entries, renumbered).indicators == {2: IndicatorJudgment(evidence="档案")}


@pytest.mark.parametrize(
    ("key", "content"),
    [
        ("indicator:12", {}),  # the positional spelling of before r0003
        ("sc-2024:ind:12", {}),
        ("adjust:sc-2023:ind:999", {"score": 1, "reason": "x"}),
        ("sc-2023:ind:12", {"ticks": {"sc-2023:item:13a": 1}}),  # an item of another indicator
    ],
)
def test_an_id_the_rubric_lacks_is_an_orphan_and_is_not_decoded(key, content):
    assert orphans(RUBRIC, {key: content})
    with pytest.raises(ValueError, match="unknown stored ids"):
        entries_to_sheet({key: content}, RUBRIC)
