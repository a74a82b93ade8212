"""Malformed rubric files: each is refused with InputError, and a fault names the file and the place.

Every case loads parameters/rubric.yaml as plain data, breaks one thing, writes it to a temporary file
and loads that file with ``load_rubric``, as a user editing the YAML would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rubric_kernel.errors import InputError
from rubric_kernel.rubric import load_rubric, parse_rubric
from rubric_kernel.workspace import RUBRIC_PATH

NAME = "broken-rubric.yaml"


def indicator(data: dict, number: int) -> dict:
    for lv in data["levels"]:
        for g in lv["groups"]:
            for ind in g["indicators"]:
                if ind["number"] == number:
                    return ind
    raise KeyError(number)


def level(data: dict, name: str) -> dict:
    return next(lv for lv in data["levels"] if lv["name"] == name)


def record_type(data: dict, code: str) -> dict:
    return next(t for t in data["record_types"] if t["code"] == code)


class NoAliases(yaml.SafeDumper):
    """Writes a shared object out twice: the rubric loader refuses YAML aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def load_broken(tmp_path: Path, data: dict) -> list:
    """Write ``data`` as YAML, load it, and return the faults (asserting it was refused and files are named)."""
    path = tmp_path / NAME
    text = yaml.dump(data, Dumper=NoAliases, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_rubric(path)
    faults = exc.value.faults
    assert faults, "InputError without faults"
    for f in faults:
        assert Path(f.file).name == NAME
        assert str(f).startswith(f.file)
    return faults


def matching(faults: list, *words: str) -> list:
    return [f for f in faults if all(w in f.message for w in words)]


def test_bundled_rubric_loads(rubric):
    assert len(rubric.indicators) == 68


def test_unmodified_dump_loads(tmp_path, rubric_dict):
    path = tmp_path / "same.yaml"
    path.write_text(yaml.safe_dump(rubric_dict, allow_unicode=True), encoding="utf-8")
    assert load_rubric(path).indicators.keys() == parse_rubric(rubric_dict).indicators.keys()


def test_points_not_summing_to_total(tmp_path, rubric_dict):
    # the level stays consistent with its indicators; only the grand total is off (1010)
    indicator(rubric_dict, 1)["max_points"] = 25
    level(rubric_dict, "基本情况")["points"] = 130
    faults = load_broken(tmp_path, rubric_dict)
    (f,) = matching(faults, "1010", "1000")
    assert "总分" in f.message


def test_total_points_changed_alone(tmp_path, rubric_dict):
    rubric_dict["meta"]["total_points"] = 900
    faults = load_broken(tmp_path, rubric_dict)
    assert matching(faults, "1000", "900")


def test_first_level_group_sum_wrong(tmp_path, rubric_dict):
    indicator(rubric_dict, 2)["max_points"] = 16
    faults = load_broken(tmp_path, rubric_dict)
    (f,) = faults  # the level's declared points still sum to 1000, so only the level is wrong
    assert "基本情况" in f.message and "121" in f.message and "120" in f.message


def test_duplicate_indicator_number(tmp_path, rubric_dict):
    indicator(rubric_dict, 2)["number"] = 1
    faults = load_broken(tmp_path, rubric_dict)
    dup = matching(faults, "重复")
    assert dup and dup[0].indicator == 1
    assert "指标1" in str(dup[0])
    assert matching(faults, "缺少", "2")


def test_missing_indicator_number(tmp_path, rubric_dict):
    indicator(rubric_dict, 30)["number"] = 69  # 30 missing, 69 out of sequence
    faults = load_broken(tmp_path, rubric_dict)
    (f,) = matching(faults, "缺少")
    assert "[30]" in f.message


def test_negative_indicator_points(tmp_path, rubric_dict):
    indicator(rubric_dict, 12)["max_points"] = -10
    faults = load_broken(tmp_path, rubric_dict)
    f = next(f for f in faults if "max_points" in f.message)
    assert f.indicator == 12


def test_negative_rule_item_points(tmp_path, rubric_dict):
    indicator(rubric_dict, 4)["items"][1]["points"] = -5
    faults = load_broken(tmp_path, rubric_dict)
    f = next(f for f in faults if "points" in f.message)
    assert f.indicator == 4
    assert "items" in f.message


def test_non_numeric_points(tmp_path, rubric_dict):
    indicator(rubric_dict, 10)["max_points"] = "十五"
    faults = load_broken(tmp_path, rubric_dict)
    assert [f.indicator for f in faults if "max_points" in f.message] == [10]


def test_rule_item_larger_than_indicator(tmp_path, rubric_dict):
    indicator(rubric_dict, 1)["items"][1]["points"] = 20  # 1b, indicator max 15
    faults = load_broken(tmp_path, rubric_dict)
    (f,) = matching(faults, "1b", "20")
    assert f.indicator == 1


def test_duplicate_rule_item_id(tmp_path, rubric_dict):
    indicator(rubric_dict, 5)["items"][1]["id"] = "5a"
    faults = load_broken(tmp_path, rubric_dict)
    assert [f.indicator for f in matching(faults, "重复")] == [5]


def test_invalid_base(tmp_path, rubric_dict):
    indicator(rubric_dict, 7)["base"] = "half"
    faults = load_broken(tmp_path, rubric_dict)
    assert [f.indicator for f in faults if "base" in f.message] == [7]


def test_judgment_source_without_needs_judgment(tmp_path, rubric_dict):
    indicator(rubric_dict, 9)["needs_judgment"] = False
    faults = load_broken(tmp_path, rubric_dict)
    assert [f.indicator for f in matching(faults, "needs_judgment")] == [9]


def test_bonus_item_over_cap(tmp_path, rubric_dict):
    rubric_dict["bonus"]["items"][0]["points"] = 60
    faults = load_broken(tmp_path, rubric_dict)
    assert len(matching(faults, "party", "60", "50")) == 1


def test_cutoffs_not_descending(tmp_path, rubric_dict):
    rubric_dict["grades"]["presets"]["strict"] = list(reversed(rubric_dict["grades"]["presets"]["strict"]))
    faults = load_broken(tmp_path, rubric_dict)
    (f,) = faults
    assert "grades" in f.message and "strict" in f.message


def test_cutoffs_with_a_tie(tmp_path, rubric_dict):
    rubric_dict["grades"]["presets"]["default"][1]["min"] = 900
    faults = load_broken(tmp_path, rubric_dict)
    assert matching(faults, "default")


def test_active_preset_unknown(tmp_path, rubric_dict):
    rubric_dict["grades"]["active"] = "lenient"
    faults = load_broken(tmp_path, rubric_dict)
    assert matching(faults, "lenient")


def test_unknown_indicator_in_record_effect(tmp_path, rubric_dict):
    record_type(rubric_dict, "负面舆情")["effects"][0]["indicator"] = 99
    faults = load_broken(tmp_path, rubric_dict)
    (f,) = faults
    assert "负面舆情" in f.message and "99" in f.message


def test_record_effect_to_missing_veto_clause(tmp_path, rubric_dict):
    record_type(rubric_dict, "司法执行")["effects"][2]["veto"] = "10"
    faults = load_broken(tmp_path, rubric_dict)
    (f,) = faults
    assert "司法执行" in f.message and "10" in f.message


def test_record_effect_to_veto_group_with_items(tmp_path, rubric_dict):
    # clause 1 is raised by its sub-items 1(1)–1(7), never as a whole
    record_type(rubric_dict, "司法执行")["effects"][2]["veto"] = "1"
    faults = load_broken(tmp_path, rubric_dict)
    assert matching(faults, "司法执行", "否定项")


def test_record_effect_points_over_indicator_max(tmp_path, rubric_dict):
    record_type(rubric_dict, "负面舆情")["effects"][2]["points"] = 11  # indicator 64 max 10
    faults = load_broken(tmp_path, rubric_dict)
    (f,) = faults
    assert f.indicator == 64 and "负面舆情" in f.message


def test_record_polarity_against_indicator_base(tmp_path, rubric_dict):
    record_type(rubric_dict, "红名单")["polarity"] = "negative"
    faults = load_broken(tmp_path, rubric_dict)
    (f,) = faults
    assert f.indicator == 60 and "红名单" in f.message


def test_duplicate_record_type(tmp_path, rubric_dict):
    rubric_dict["record_types"].append(dict(record_type(rubric_dict, "约谈")))
    faults = load_broken(tmp_path, rubric_dict)
    assert matching(faults, "约谈", "重复")


def test_unknown_severity_in_record_effect(tmp_path, rubric_dict):
    record_type(rubric_dict, "约谈")["effects"][0]["severity"] = "特别严重"
    faults = load_broken(tmp_path, rubric_dict)
    assert any("record_types" in f.message and "severity" in f.message for f in faults)


def test_missing_look_back_for_a_severity(tmp_path, rubric_dict):
    del rubric_dict["look_back_days"]["较重"]
    faults = load_broken(tmp_path, rubric_dict)
    assert matching(faults, "look_back_days", "较重")


@pytest.mark.parametrize("days", [0, -30])
def test_non_positive_look_back_refused(tmp_path, rubric_dict, days):
    # A window of 0 or fewer days silently stops every record of that severity from counting.
    rubric_dict["look_back_days"]["一般"] = days
    faults = load_broken(tmp_path, rubric_dict)
    assert any("look_back_days" in f.message for f in faults)


def test_record_type_must_map_every_authority_and_severity(tmp_path, rubric_dict):
    # Without an effect for 其他/严重, a severe 行政处罚 from e.g. 市场监管 would neither count nor appear
    # anywhere in the result: DESIGN §2 asks the rubric check that every record type is mapped.
    rt = record_type(rubric_dict, "行政处罚")
    rt["effects"] = [e for e in rt["effects"] if not (e["authority"] == "其他" and e["severity"] == "严重")]
    faults = load_broken(tmp_path, rubric_dict)
    assert matching(faults, "行政处罚")


def test_missing_hrss_authority_keywords(tmp_path, rubric_dict):
    del rubric_dict["authority_systems"]["人社"]
    faults = load_broken(tmp_path, rubric_dict)
    assert matching(faults, "authority_systems", "人社")


def test_second_level_numbering_gap(tmp_path, rubric_dict):
    level(rubric_dict, "公共信用")["groups"][2]["number"] = 24
    faults = load_broken(tmp_path, rubric_dict)
    assert matching(faults, "二级指标")


def test_unknown_top_level_key(tmp_path, rubric_dict):
    rubric_dict["scoring_notes"] = "typo"
    faults = load_broken(tmp_path, rubric_dict)
    (f,) = faults
    assert "scoring_notes" in f.message


def test_unknown_key_inside_indicator_names_indicator(tmp_path, rubric_dict):
    indicator(rubric_dict, 33)["max_point"] = 10
    faults = load_broken(tmp_path, rubric_dict)
    assert [f.indicator for f in faults if "max_point" in f.message] == [33]


def test_missing_required_section(tmp_path, rubric_dict):
    del rubric_dict["bonus"]
    faults = load_broken(tmp_path, rubric_dict)
    assert any("bonus" in f.message for f in faults)


def test_yaml_syntax_error_names_row(tmp_path):
    lines = RUBRIC_PATH.read_text(encoding="utf-8").splitlines()
    row = next(k for k, line in enumerate(lines, start=1) if line.strip().startswith("较重:"))
    lines[row - 1] = "  较重: 730: 1"
    path = tmp_path / NAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_rubric(path)
    (f,) = exc.value.faults
    assert Path(f.file).name == NAME
    assert f.row == row
    assert f"{NAME}:{row}" in str(f)
    assert "YAML" in f.message


def test_empty_yaml_file(tmp_path):
    path = tmp_path / NAME
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_rubric(path)
    assert all(Path(f.file).name == NAME for f in exc.value.faults)


def test_missing_rubric_file(tmp_path):
    with pytest.raises(InputError) as exc:
        load_rubric(tmp_path / "absent.yaml")
    (f,) = exc.value.faults
    assert Path(f.file).name == "absent.yaml"


def test_all_faults_reported_together(tmp_path, rubric_dict):
    indicator(rubric_dict, 1)["items"][1]["points"] = 20
    record_type(rubric_dict, "负面舆情")["effects"][0]["indicator"] = 99
    rubric_dict["bonus"]["items"][0]["points"] = 60
    faults = load_broken(tmp_path, rubric_dict)
    assert len(faults) >= 3
