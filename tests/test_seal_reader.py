"""The fast reader of a report's canonical content reads exactly what html.parser reads, or refuses.

The oracle is the reading sealing used before the fast reader: html.parser with handlers that scan the
element stack (kept here verbatim). Random pages within the simple grammar must be read fast and the
same; random pages beyond it may be refused, never read differently. Real reports must be read fast,
and a tampered real report must get exactly the check it got before.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from cli_run import run as _run
from hypothesis import given, settings
from hypothesis import strategies as st

from rubric_kernel import keyring
from rubric_kernel.judgments import bootstrap
from rubric_kernel.report import page_text, seal
from rubric_kernel.report.page_text import DIGEST_ID, HIDDEN, SEAL_ID, SECTION_ATTR, VOID, Content
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace


class _StackScan(HTMLParser):
    """The reading before the fast reader, handlers and all: the oracle."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.content = Content()
        self.stack: list[tuple[str, str | None, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") == DIGEST_ID:
            self.content.inputs = {k[5:]: v or "" for k, v in attrs if k.startswith("data-")}
        if tag in VOID:
            return
        hidden = tag in HIDDEN or a.get("id") == SEAL_ID
        section = a.get(SECTION_ATTR)
        if section is not None:
            name, i = section.strip() or "（未命名）", 2
            while name in self.content.sections:
                name, i = f"{section.strip()}（{i}）", i + 1
            self.content.sections[name] = []
            self.content.titles[name] = a.get("data-title") or name
            section = name
        self.stack.append((tag, section, hidden))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        if not data.strip() or any(hidden for _, _, hidden in self.stack):
            return
        self.content.body.append(data)
        for _, section, _ in self.stack:
            if section is not None:
                self.content.sections[section].append(data)


def oracle(html: str) -> Content:
    reader = _StackScan()
    reader.feed(html)
    reader.close()
    return reader.content


def reference(html: str) -> Content:
    reader = page_text._Reader()
    reader.feed(html)
    reader.close()
    return reader.canon.content


# ------------------------------------------------------------------------------ random pages
WORDS = ["信用评估", "四川旅游学院", "948", "AAAAA", "abc", "中"]
TEXT_BITS = [
    *WORDS,
    *[" ", "  ", "\n", "\t", "\r\n", "\f", "\xa0", "\u3000", "\u2028", "e\u0301", "\u212b", "\x00"],
    *["&amp;", "&lt;", "&gt;", "&quot;", "&#20013;", "&#x4e2d;", "&nbsp;", "&amp", "&notit;", "&#0;", "&#xd800;"],
    *["&", "&;", "&#", ">", "'", '"', "=", "-", "--", "/", "!", "?"],
]
SEPARATORS = [" ", "\n", "\t", "\r\n  ", "\f"]
SECTION_NAMES = ["甲", "乙", " 甲 ", "", "甲（2）", "评估&amp;结论"]
TAGS = ["div", "p", "section", "span", "td", "tr", "table", "header", "h2", "svg", "text", "g", "code", "DIV", "Span"]
HIDDEN_TAGS = ["head", "template", "TEMPLATE"]
VOID_TAGS = ["br", "img", "meta", "hr", "input", "BR"]

text = st.lists(st.sampled_from(TEXT_BITS), min_size=1, max_size=6).map("".join)
VALUE_BITS = [
    *WORDS,
    " ",
    "\n",
    "\xa0",
    "&amp;",
    "&quot;",
    "&lt;",
    "&gt;",
    "&#20013;",
    "&#x4e2d;",
    "&nbsp;",
    "&#0;",
    "&#xd800;",
]
VALUE_BITS += [">", "'", "=", "-", "/", "<", "<b>", "&amp;="]
BEYOND_VALUE_BITS = ["&amp", "&ampx", "&notit;", "&", "&;", "&#", "&#20013", "&amp=", "&unknown;"]


def value_text(beyond: bool) -> st.SearchStrategy[str]:
    bits = VALUE_BITS + BEYOND_VALUE_BITS if beyond else VALUE_BITS
    return st.lists(st.sampled_from(bits), max_size=4).map("".join)


@st.composite
def attribute(draw, beyond: bool) -> str:
    name = draw(st.sampled_from(["class", "id", "data-section", "data-title", "data-inputs", "hidden", "viewBox"]))
    name = draw(st.sampled_from([name, name.upper()]))
    if name.lower() == "id":
        value = draw(st.sampled_from([SEAL_ID, DIGEST_ID, "x", f" {DIGEST_ID}"]))
    elif name.lower() == "data-section":
        value = draw(st.sampled_from(SECTION_NAMES))
    else:
        value = draw(value_text(beyond))
    forms = [f'{name}="{value}"', name]
    if beyond:
        forms += [f"{name}='{value}'", f"{name}={value or 'x'}", f'{name} = "{value}"', f'{name}=="{value}"']
    return draw(st.sampled_from(forms))


@st.composite
def start_tag(draw, tag: str, beyond: bool, ends: tuple[str, ...] = (">", " >", "\n>")) -> str:
    attrs = draw(st.lists(attribute(beyond), max_size=3))
    seps = [*SEPARATORS, "", "\u3000", "\x0b", "/"] if beyond else SEPARATORS
    return f"<{tag}" + "".join(draw(st.sampled_from(seps)) + a for a in attrs) + draw(st.sampled_from(ends))


SIMPLE_FRAGMENTS = [
    "<!-- 注释 -->",
    "<!--x-->",
    "<!-- a - b -->",
    "</p>",
    "</DIV>",
    "</br>",
    "</section>",
    "<br/>",
    "<div/>",
    '<rect x="1" width="2"/>',
    '<section data-section="甲"/>',
    "<style>.x { color: red } p > b { }</style>",
    '<style id="s">&amp;</style>',
    "<title>报告 &amp; 附录</title>",
    "<title></title>",
    '<section id="rk-seal"><p>签章</p><div id="rk-seal-data" hidden data-seal="{&quot;a&quot;:1}"></div></section>',
    f'<div id="{DIGEST_ID}" data-institution="13" data-inputs="ab&amp;12" data-empty="" data-bare></div>',
]
BEYOND_FRAGMENTS = [
    "<script>var a = '<b>x</b>';</script>",
    "<script>",
    "<SCRIPT>x</SCRIPT>",
    "<style>a<b</style>",
    "<style>x</style >",
    "<Style>x</style>",
    "<style/>",
    "</style>",
    "<title>a<b>c</b></title>",
    "<textarea><b>x</b></textarea>",
    "<noscript><p>x</p></noscript>",
    "<xmp><p>x</p></xmp>",
    "<plaintext>",
    "<iframe><p>x</p></iframe>",
    "<!-->",
    "<!--->",
    "<!---x-->",
    "<!-- a -- b -->",
    "<!--x--!>y-->",
    "<!--x",
    "<!-- <!-- -->",
    "<?php echo 1 ?>",
    "<![CDATA[x]]>",
    "<!DOCTYPE html>",
    "<!foo>",
    "</ p>",
    "</>",
    "</p class='x'>",
    "< p>",
    "<3",
    "a < b",
    "<",
    "<p",
    '<p a="x>',
    "<a:b>x</a:b>",
    "<p\u3000class='x'>",
    '<p class="a&ampx">x</p>',
    '<p title="&notit;">x</p>',
    '<p title="a &amp= b">x</p>',
    '<p title="&">x</p>',
]


@st.composite
def nodes(draw, depth: int, beyond: bool) -> str:
    kinds = ["text", "void", "fragment", "leaf"] + (["element", "element"] if depth > 0 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "text":
        return draw(text)
    if kind == "void":
        return draw(start_tag(draw(st.sampled_from(VOID_TAGS)), beyond, (">", "/>", " />")))
    if kind == "leaf":  # an element of bare text, hidden, void or neither
        tag = draw(st.sampled_from(TAGS + HIDDEN_TAGS + VOID_TAGS))
        return f"<{tag}>{draw(text)}</{draw(st.sampled_from([tag, tag.lower()]))}>"
    if kind == "fragment":
        return draw(st.sampled_from(SIMPLE_FRAGMENTS + (BEYOND_FRAGMENTS if beyond else [])))
    tag = draw(st.sampled_from(TAGS + HIDDEN_TAGS))
    children = draw(st.lists(nodes(depth - 1, beyond), max_size=4))
    end = draw(st.sampled_from([f"</{tag}>", f"</{tag.lower()}>", ""]))  # sometimes never closed
    return draw(start_tag(tag, beyond)) + "".join(children) + end


@st.composite
def pages(draw, beyond: bool) -> str:
    head = draw(st.sampled_from(["", "<!DOCTYPE html>", "<!doctype html>\n", "<!DOCTYPE  html >"]))
    body = draw(st.lists(nodes(3, beyond), max_size=6))
    return head + "".join(body) + draw(st.sampled_from(["", "\n", " &amp", "&", "x &#20"]))


def _fields(c: Content) -> tuple:
    return c.body, c.sections, c.titles, c.inputs


@settings(max_examples=200, deadline=None)
@given(html=pages(beyond=True))
def test_the_o1_handlers_read_as_the_stack_scan_did(html):
    assert _fields(reference(html)) == _fields(oracle(html))


@settings(max_examples=300, deadline=None)
@given(html=pages(beyond=False))
def test_a_page_in_the_simple_grammar_is_read_fast_and_the_same(html):
    fast = page_text.fast_content(html)
    assert fast is not None, html
    assert _fields(fast) == _fields(oracle(html))
    assert fast.digests() == oracle(html).digests()


@settings(max_examples=300, deadline=None)
@given(html=pages(beyond=True))
def test_any_page_is_refused_or_read_the_same(html):
    fast = page_text.fast_content(html)
    if fast is not None:
        assert _fields(fast) == _fields(oracle(html))
    assert _fields(page_text.read_content(html)) == _fields(oracle(html))


@pytest.mark.parametrize("fragment", BEYOND_FRAGMENTS)
def test_each_construct_beyond_the_grammar_is_refused(fragment):
    assert page_text.fast_content(f"<p>甲</p>{fragment}<p>乙</p>") is None


# ------------------------------------------------------------------------------ real reports
INSTITUTIONS = (1, 13, 40)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Real sealed reports of a few institutions, and the registered keys that check them."""
    tmp = tmp_path_factory.mktemp("reports")
    db, out = str(tmp / "s.sqlite"), tmp / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUBRIC_KERNEL_DB", db)
        store = Store(f"sqlite:///{db}")
        bootstrap(store, load_workspace())
        store.close()
        for n in INSTITUTIONS:
            assert _run(["report", str(n), "--db", db, "--out", str(out)])[0] == 0
        store = Store(f"sqlite:///{db}")
        keys = keyring.registered(store)
        store.close()
    return {n: (out / f"{n:02d}.html").read_text(encoding="utf-8") for n in INSTITUTIONS}, keys


@pytest.mark.slow
@pytest.mark.parametrize("number", INSTITUTIONS)
def test_a_real_report_is_read_fast_and_the_same(reports, number):
    html = reports[0][number]
    fast = page_text.fast_content(html)
    assert fast is not None, "the fast reader refused a report this program wrote"
    assert _fields(fast) == _fields(oracle(html))
    assert len(fast.sections) > 5 and fast.inputs and fast.body
    assert seal.check(html, reports[1]).problems == []


def _into_total(h: str, before: str, after: str) -> str:
    """The report with markup put around the total's figure (in the section 评估结论)."""
    return re.sub(
        r'(rk-total">)([^<]*)(<)', lambda m: m.group(1) + before + m.group(2) + after + m.group(3), h, count=1
    )


TAMPERS = {  # name: (edit, whether the fast reader still reads the edited page)
    "figure": (lambda h: re.sub(r'rk-total">[^<]*<', 'rk-total">420<', h, count=1), True),
    "hidden in a comment": (lambda h: _into_total(h, "<!-- ", " -->"), True),
    "hidden in a template": (lambda h: _into_total(h, "<template>", "</template>"), True),
    "comment closed only by some parsers": (lambda h: _into_total(h, "<!--x--!>", ""), False),
    "unclosed script": (lambda h: _into_total(h, "<script>", ""), False),
    "single-quoted section": (lambda h: h.replace('data-section="conclusion"', "data-section='结论'", 1), False),
}


@pytest.mark.slow
@pytest.mark.parametrize("tamper", TAMPERS)
def test_a_tampered_report_gets_the_check_it_got_before(reports, tamper, monkeypatch):
    html, keys = reports[0][13], reports[1]
    edit, read_fast = TAMPERS[tamper]
    edited = edit(html)
    assert edited != html
    assert (page_text.fast_content(edited) is not None) == read_fast
    found = seal.check(edited, keys).problems
    monkeypatch.setattr(seal, "read_content", oracle)
    assert found == seal.check(edited, keys).problems
    assert found, "a change of what a reader sees must be caught"
