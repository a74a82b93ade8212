"""Plain standalone HTML pages (index, lists, notifications): inline style, no external resource."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from markupsafe import Markup

PAGE_CSS = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;color:#1f2933;
margin:0;font-size:14px}main{max-width:1100px;margin:0 auto;padding:16px 20px}h1{font-size:22px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #d7dbe0;padding:4px 6px;text-align:left}
th{background:#f5f6f8;cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" ▲"}
th[aria-sort=descending]::after{content:" ▼"}.demo{background:#fde68a;border:2px solid #d97706;color:#7c2d12;
padding:6px 12px;margin-bottom:10px}.muted{color:#6b7280}.fail{color:#b91c1c}svg{max-width:100%;height:auto}
@page{size:A4;margin:14mm 12mm}@media print{th{cursor:auto}}
@media (max-width:600px){main{padding:10px 12px}h1{font-size:19px}table,thead,tbody,tr,td{display:block}
thead{display:none}tr{border:1px solid #d7dbe0;margin:0 0 8px;padding:4px 6px}td{border:0;padding:2px 0;overflow-wrap:anywhere}
td::before{content:attr(data-label)"：";color:#6b7280}td:empty,td:has(>[data-v]:empty){display:none}svg{width:100%}}
"""
# Inline, dependency-free column sorting for the index; the page still reads fully without it.
SORT_JS = """
document.querySelectorAll("table.sortable th").forEach((th,i)=>th.addEventListener("click",()=>{
const tb=th.closest("table").tBodies[0],asc=th.getAttribute("aria-sort")!=="ascending";
th.closest("tr").querySelectorAll("th").forEach(h=>h.removeAttribute("aria-sort"));
th.setAttribute("aria-sort",asc?"ascending":"descending");
const key=r=>{const c=r.cells[i],t=(c.querySelector("[data-v]")??c).dataset.v??c.textContent;const n=parseFloat(t);return isNaN(n)?t:n};
[...tb.rows].sort((a,b)=>{const x=key(a),y=key(b);return (x>y?1:x<y?-1:0)*(asc?1:-1)}).forEach(r=>tb.appendChild(r));}));
"""


def page(title: str, body: str, mark: str, script: str = "") -> str:
    """A standalone page; ``body`` and ``script`` are HTML built by the caller from escaped parts."""
    from .render import render

    return render(
        "page.html.j2", title=title, body=Markup(body), mark=mark, css=Markup(PAGE_CSS), script=Markup(script)
    )


def table(head: Iterable[object], rows: Iterable[Iterable[object]], cls: str = "") -> str:
    """The one HTML table of the package. Every header and cell is escaped unless it is ``Markup``:
    a fragment that is HTML on purpose must say so, so forgetting to escape a value cannot happen."""
    from .render import render

    return render("table.html.j2", head=list(head), rows=[list(r) for r in rows], cls=cls)


def html_table(rows: Sequence[Mapping[str, object]], cls: str = "") -> str:
    """Rows as dicts whose keys are the header; “（无）” when there are none."""
    if not rows:
        return "<p>（无）</p>"
    return table(rows[0], (row.values() for row in rows), cls)


def list_page(title: str, rows: Sequence[Mapping[str, object]], notes: Sequence[str], mark: str) -> str:
    """A published list: its rows as one table, then its notes (each escaped)."""
    from .render import render

    return render("list.html.j2", title=title, rows=rows, notes=notes, mark=mark, css=Markup(PAGE_CSS), script="")
