"""The canonical content of a report page: what a reader sees, whole and per marked section.

The visible text of the body (scripts, styles and other hidden elements left out, the seal block
excluded), as the chunks between tags, per element carrying ``data-section``; and ``#rk-digest``'s
``data-*`` attributes. The standard library's ``html.parser`` is the reference reading. Reading is
the largest per-report cost of sealing in the batch, so pages in the simple grammar this program
writes are read by a hand-written single-regex tokenizer instead (no maintained library yields the
same canonical text, chunk for chunk): it refuses anything it cannot prove html.parser reads the
same way, and ``read_content`` then falls back to html.parser. Both feed the same ``_Canon``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from html import unescape
from html.entities import html5
from html.parser import HTMLParser

from ..sheet_codec import digest

SEAL_ID = "rk-seal"
SECTION_ATTR = "data-section"
DIGEST_ID = "rk-digest"
HIDDEN = {"script", "style", "template", "head", "title", "noscript"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

Attrs = list[tuple[str, str | None]]


@dataclass
class Content:
    """The canonical content of a report: its visible text, whole and per marked section."""

    body: list[str] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)  # a section's name as readers call it (data-title)
    inputs: dict[str, str] = field(default_factory=dict)

    def digests(self) -> tuple[str, list[list[str]]]:
        return digest(_norm(self.body)), [[name, digest(_norm(text))] for name, text in self.sections.items()]


def _norm(chunks: list[str]) -> str:
    return " ".join(unicodedata.normalize("NFC", " ".join(chunks)).split())


class _Canon:
    """The content from a stream of parse events, in O(1) per event (amortised over an element's end)."""

    def __init__(self) -> None:
        self.content = Content()
        self.stack: list[tuple[str, list[str] | None, bool]] = []  # tag, text of the section it opens, hidden
        self.open: dict[str, int] = {}  # tag -> elements of that tag on the stack
        self.hidden = 0  # hidden elements on the stack
        self.sections: list[list[str]] = []  # the text of each open section, outermost first

    def start(self, tag: str, attrs: Attrs) -> None:
        hidden, text = tag in HIDDEN, None
        if attrs:  # most tags have none
            a = dict(attrs)
            if a.get("id") == DIGEST_ID:
                self.content.inputs = {k[5:]: v or "" for k, v in attrs if k.startswith("data-")}
            if tag in VOID:
                return
            hidden = hidden or a.get("id") == SEAL_ID
            section = a.get(SECTION_ATTR)
            if section is not None:
                sections = self.content.sections
                name, i = section.strip() or "（未命名）", 2
                while name in sections:
                    name, i = f"{section.strip()}（{i}）", i + 1
                text = sections[name] = []
                self.content.titles[name] = a.get("data-title") or name
                self.sections.append(text)
        elif tag in VOID:
            return
        self.stack.append((tag, text, hidden))
        self.open[tag] = self.open.get(tag, 0) + 1
        self.hidden += hidden

    def end(self, tag: str) -> None:
        if not self.open.get(tag):
            return
        stack = self.stack
        while True:  # close every element up to the innermost open one of this tag
            top, text, hidden = stack.pop()
            self.open[top] -= 1
            self.hidden -= hidden
            if text is not None:
                self.sections.pop()
            if top == tag:
                return

    def data(self, data: str) -> None:
        if self.hidden or not data.strip():
            return
        self.content.body.append(data)
        for text in self.sections:
            text.append(data)


class _Reader(HTMLParser):
    """The reference reading: html.parser's events into ``_Canon``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.canon = _Canon()
        self.handle_starttag = self.canon.start  # type: ignore[method-assign]
        self.handle_endtag = self.canon.end  # type: ignore[method-assign]
        self.handle_data = self.canon.data  # type: ignore[method-assign]


_WS = r"[ \t\n\r\f]"  # what ends a tag name for html.parser (\s would also take Unicode spaces)
_ATTRS = rf'((?:{_WS}++[a-zA-Z_:][-a-zA-Z0-9_:.]*+(?:="[^"]*+")?)*+){_WS}*+'
# Possessive quantifiers: no match of this grammar needs backtracking, and the regex runs twice as fast.
_TOKEN = re.compile(
    r"([^<]*+)"  # 1: the run of text before the markup, as html.parser hands it to handle_data (then unescaped)
    r"(?:</([a-zA-Z][a-zA-Z0-9-]*+)>"  # 2: an end tag
    rf"|<(style|title){_ATTRS}>[^<]*+</\3>"  # 3, 4: an element whose text is hidden (muted), no markup inside
    r"|<([a-zA-Z][a-zA-Z0-9-]*+)>([^<]*+)</\5>"  # 5, 6: an element of bare text and no attributes
    rf"|<([a-zA-Z][a-zA-Z0-9-]*+){_ATTRS}(/?)>"  # 7, 8, 9: a start tag, self-closing or not
    r"|<!--(?![->])(?:[^-]|-(?!-))*+-->"  # a plain comment: nothing where parsers differ (--, --!>, <!-->)
    r"|(<)"  # 10: any other '<': outside the grammar
    r"|\Z)"
)
_ATTR = re.compile(r'([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:(=)"([^"]*)")?')
_DOCTYPE = re.compile(rf"<!doctype{_WS}+html{_WS}*>", re.IGNORECASE)
# Elements html.parser (in some Python version) reads as raw or escapable text: outside the grammar,
# except style and title whose text contains no '<' (matched whole above).
_RAW = {"script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"}


# In attribute values newer html.parsers (3.11.13+, 3.12.11+, 3.13.6+, 3.14) decode a named reference only
# if it is a whole entity name, where html.unescape also decodes a known prefix (&ampx, &notit;): accept
# only numeric references and whole names with their ';', which both decode alike.
_REF = re.compile(r"&(?:#[0-9]+;|#[xX][0-9a-fA-F]+;|([a-zA-Z][a-zA-Z0-9]*;))?")


def _attrs(text: str) -> Attrs | None:
    """The attributes as html.parser lists them, or None if a value holds a reference outside the grammar."""
    attrs: Attrs = []
    for name, eq, value in _ATTR.findall(text):
        if not eq:
            attrs.append((name.lower(), None))
            continue
        if "&" in value:
            if not all(m[1] in html5 if m[1] else len(m[0]) > 1 for m in _REF.finditer(value)):
                return None
            value = unescape(value)
        attrs.append((name.lower(), value))
    return attrs


def fast_content(html: str) -> Content | None:
    """The content as ``_Reader`` reads it, for a page in the simple grammar; None for any other page."""
    canon = _Canon()
    start, end, data = canon.start, canon.end, canon.data
    doctype = _DOCTYPE.match(html)
    for text, ended, muted, muted_attrs, leaf, leaf_text, tag, attrs, closed, other in _TOKEN.findall(
        html, doctype.end() if doctype else 0
    ):
        if text:
            if "&" in text:
                data(unescape(text))
            elif not text.isspace():  # what data() skips (isspace and strip agree on whitespace)
                data(text)
        if ended:
            ended = ended.lower()
            if ended in _RAW:
                return None
            end(ended)
        elif leaf:
            # start, data, end: the element is pushed and popped again (or, void, never pushed), so only its
            # text counts, unless the element is hidden
            leaf = leaf.lower()
            if leaf in _RAW:
                return None
            if leaf_text and leaf not in HIDDEN:
                data(unescape(leaf_text) if "&" in leaf_text else leaf_text)
        elif tag:
            tag = tag.lower()
            listed = _attrs(attrs) if attrs else []
            if tag in _RAW or listed is None:
                return None
            start(tag, listed)
            if closed:
                end(tag)
        elif muted:
            listed = _attrs(muted_attrs) if muted_attrs else []
            if listed is None:
                return None
            start(muted, listed)
            end(muted)
        elif other:
            return None
    return canon.content


def read_content(html: str) -> Content:
    """The canonical content: the fast reading where it applies, else html.parser's."""
    content = fast_content(html)
    if content is not None:
        return content
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.canon.content
