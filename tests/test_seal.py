"""The issued report's seal (issue 10 §6) on a page built here: any edit of what a reader sees, or of
the seal itself, fails the check and names what differs. The full report is checked in test_report."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from rubric_kernel.report import seal
from rubric_kernel.signing import KeyRecord, SigningKey, demo_key

AT = "2026-11-27T08:00:00+00:00"
PAGE = """<!DOCTYPE html><html><head><title>报告</title><style>.x{color:red}</style></head><body>
<div class="rk-demo">演示数据：本报告由合成数据生成</div>
<header data-section="标题"><h1>信用评估报告</h1><p>四川旅游学院</p></header>
<section class="rk-section" data-section="评估结论"><h2>评估结论</h2>
  <div class="rk-card">总分 <span class="rk-total">948</span></div>
  <div class="rk-card">信用等级 <span class="rk-grade">AAAAA</span></div></section>
<section class="rk-section" data-section="指标评分明细"><h2>指标评分明细</h2>
  <table><tr><td>12. 鉴定考务管理</td><td>18</td><td>扣 2 分：试卷保管记录不全</td></tr></table>
  <svg><text>基本情况</text></svg></section>
<section class="rk-section" data-section="输入摘要"><h2>输入摘要</h2>
  <div id="rk-digest" data-institution="13" data-dataset="demo" data-inputs="ab12"></div><code>ab12</code></section>
<script>var ignored = 1;</script>
</body></html>"""
ISSUER = demo_key("大证信用")
KEYS = [KeyRecord("大证信用", "ed25519", ISSUER.public, dt.date(2026, 1, 1))]


@pytest.fixture(scope="module")
def sealed() -> str:
    return seal.seal_html(PAGE, ISSUER, AT, synthetic=True)


def test_a_sealed_page_checks_and_shows_its_seal(sealed):
    found = seal.check(sealed, KEYS)
    assert found.problems == [] and (found.signer, found.demo) == ("大证信用", True)
    assert 'id="rk-seal"' in sealed and "演示密钥" in sealed
    assert sealed.index('id="rk-seal"') < sealed.index("</body>")
    with pytest.raises(ValueError):
        seal.seal_html(sealed, ISSUER, AT, synthetic=True)


@pytest.mark.parametrize(
    ("old", "new", "section"),
    [
        ('rk-total">948<', 'rk-total">420<', "评估结论"),
        ('rk-grade">AAAAA<', 'rk-grade">A<', "评估结论"),
        ("<td>18</td>", "<td>20</td>", "指标评分明细"),
        ("试卷保管记录不全", "无问题", "指标评分明细"),
        ("<text>基本情况</text>", "<text>基本</text>", "指标评分明细"),
        ("<code>ab12</code>", "<code>cd34</code>", "输入摘要"),
    ],
)
def test_editing_a_visible_figure_or_reason_names_the_section(sealed, old, new, section):
    assert old in sealed
    assert seal.check(sealed.replace(old, new), KEYS).problems == [f"章节“{section}”的内容与签章时不同"]


def test_removing_or_adding_a_section_is_named(sealed):
    removed = re.sub(r'<section class="rk-section" data-section="指标评分明细">.*?</section>', "", sealed, flags=re.S)
    assert seal.check(removed, KEYS).problems == ["缺少章节“指标评分明细”"]
    added = sealed.replace("</header>", '</header><section data-section="附录"><p>补充说明</p></section>')
    assert seal.check(added, KEYS).problems == ["多出签章时没有的章节“附录”"]


def test_text_outside_the_sections_and_the_recorded_inputs_are_covered(sealed):
    assert seal.check(sealed.replace("合成数据生成", "真实数据生成"), KEYS).problems == ["章节之外的正文与签章时不同"]
    assert seal.check(sealed.replace('data-inputs="ab12"', 'data-inputs="cd34"'), KEYS).problems == [
        "报告记录的输入摘要与签章时不同"
    ]


def test_hidden_markup_and_layout_are_not_content(sealed):
    relaid = sealed.replace("<style>.x{color:red}</style>", "<style>.x{color:blue}</style>")
    relaid = relaid.replace("var ignored = 1;", "var ignored = 2;").replace("\n  <div", "<div")
    assert seal.check(relaid, KEYS).problems == []


def test_a_resealed_digest_does_not_carry_the_issuers_signature(sealed):
    """Whoever edits the body and recomputes the digests in the seal cannot sign them as the issuer."""
    edited = sealed.replace('rk-total">948<', 'rk-total">420<')
    body, sections = seal.read_content(edited).digests()
    old_body, _ = seal.read_content(sealed).digests()
    forged = edited.replace(old_body, body)
    for name, d in seal.read_content(sealed).digests()[1]:
        forged = forged.replace(d, dict(sections)[name])
    assert seal.check(forged, KEYS).problems == ["签章与签章数据不符：签章数据（摘要、签章人或时间）被改写"]


def test_a_seal_by_another_key_or_a_revoked_key_or_without_keys_fails(sealed):
    impostor = seal.seal_html(PAGE, SigningKey("大证信用", Ed25519PrivateKey.generate()), AT, synthetic=True)
    [problem] = seal.check(impostor, KEYS).problems
    assert "大证信用 名下没有登记指纹为" in problem
    revoked = [KeyRecord("大证信用", "ed25519", ISSUER.public, dt.date(2026, 1, 1), dt.date(2026, 11, 1))]
    [problem] = seal.check(sealed, revoked).problems
    assert "已于 2026-11-01 吊销" in problem
    [problem] = seal.check(sealed, None).problems
    assert "--keys" in problem
    assert seal.check(PAGE, KEYS).problems == ["报告没有签章（不是签章后发出的报告，或签章已被删除）"]


def test_a_demo_key_cannot_seal_a_report_of_real_data():
    real = seal.seal_html(PAGE, ISSUER, AT, synthetic=False)
    assert seal.check(real, KEYS).problems == ["演示密钥只能用于演示数据的报告"]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_change_of_one_visible_character_is_detected(sealed, data):
    start, end = sealed.index("<body>"), sealed.index("<script>")  # the body before its script and the seal
    visible = [m.start() for m in re.finditer(r"(?<=>)[^<>\s]", sealed) if start < m.start() < end]
    at = data.draw(st.sampled_from(visible))
    char = data.draw(st.characters(categories=("L", "N")).filter(lambda c: c != sealed[at]))
    assert seal.check(sealed[:at] + char + sealed[at + 1 :], KEYS).problems
