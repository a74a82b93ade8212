"""Bar charts as small hand-written SVG: text stays text, so Chinese renders with the reader's CJK font.

A plotting library would cost a second of imports and ~0.15 s per chart in every kernel, and would
either need a CJK font at render time or embed 50 KB of glyph outlines per chart. An SVG with real
``<text>`` is a few kilobytes, selectable and searchable, prints sharply, and renders real glyphs
wherever a CJK font exists (every desktop OS; setup installs one on servers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from ..rubric import Rubric
from ..scoring import Result

FONT = "'WenQuanYi Micro Hei','Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"
Series = tuple[str, Sequence[float], str]  # label, values, colour


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    y_max: float,
    y_label: str,
    stacked: bool = False,
    width: int = 720,
    height: int = 320,
    title: str = "",
) -> str:
    """Grouped (or stacked) vertical bars with a legend, axis and value gridlines."""
    left, right, top, bottom = 56, 12, 40, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(categories), 1)
    groups = 1 if stacked else len(series)
    bar_w = slot * 0.78 / groups

    def y(v: float) -> float:
        return top + plot_h * (1 - min(v, y_max) / y_max)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" font-family="{FONT}" font-size="12">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for k in range(5):
        v = y_max * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#6b7280">{v:g}</text>'
        )
    parts.append(
        f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" fill="#374151" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    for i, cat in enumerate(categories):
        x0 = left + slot * i + slot * 0.11
        base = 0.0
        for s, (label, values, colour) in enumerate(series):
            v = values[i]
            x = x0 + (0 if stacked else s * bar_w)
            lo, hi = (base, base + v) if stacked else (0.0, v)
            parts.append(
                f'<rect x="{x:.1f}" y="{y(hi):.1f}" width="{bar_w - 1:.1f}" height="{y(lo) - y(hi):.1f}" '
                f'fill="{colour}"><title>{escape(label)} · {escape(cat)}：{v:g}</title></rect>'
            )
            base = hi if stacked else base
        parts.append(
            f'<text x="{left + slot * (i + 0.5):.1f}" y="{height - bottom + 18}" text-anchor="middle" '
            f'fill="#111827">{escape(cat)}</text>'
        )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#9ca3af"/>')
    x = left
    for label, _, colour in series:
        parts.append(
            f'<rect x="{x}" y="12" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="22" fill="#111827">{escape(label)}</text>'
        )
        x += 30 + 13 * len(label)
    parts.append("</svg>")
    return "".join(parts)


def level1_chart_svg(
    rubric: Rubric, r: Result, class_mean: Mapping[str, float] | None, all_mean: Mapping[str, float] | None
) -> str:
    """Each first-level score as a share of its points: the institution, its class, everyone (a mean
    with no complete institution behind it is left out rather than drawn as zero)."""
    names = [lv.name for lv in rubric.levels]
    maxima = {lv.name: lv.points for lv in rubric.levels}

    def pct(scores: Mapping[str, float]) -> list[float]:
        return [round(100 * scores[k] / maxima[k], 1) for k in names]

    series = [("本机构", pct(r.level1), "#c0392b")]
    if class_mean is not None:
        series.append((f"{r.klass}均值", pct(class_mean), "#7f8c8d"))
    if all_mean is not None:
        series.append(("全部机构均值", pct(all_mean), "#c7ccd1"))
    return bar_chart(names, series, y_max=100, y_label="得分率（%）", title=f"{r.name} 一级指标得分率对比")


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    shares: Sequence[Sequence[float]],
    tips: Sequence[Sequence[str]],
    *,
    bands: Sequence[tuple[str, int]] = (),
    title: str = "",
    cell: int = 11,
) -> str:
    """A matrix of shares in [0, 1] as shaded cells, darker for more; zero cells stay blank, so a
    75 × 68 matrix of mostly untouched indicators stays small. Every cell names itself on hover.

    ``bands`` label consecutive runs of columns (label, how many columns), e.g. first-level indicators;
    their labels alternate between two lines so that narrow neighbours do not overwrite each other.
    """
    left, top, label_every = 30, 52, 5
    width, height = left + cell * len(columns) + 8, top + cell * len(rows) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" font-family="{FONT}" font-size="10">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    x = left
    for k, (label, span) in enumerate(bands):
        fill = "#f3f4f6" if k % 2 == 0 else "#e5e7eb"
        parts.append(
            f'<rect x="{x}" y="{top}" width="{cell * span}" height="{cell * len(rows)}" fill="{fill}"/>'
            f'<text x="{x + 1}" y="{12 + 12 * (k % 2)}" fill="#374151">{escape(label)}</text>'
        )
        x += cell * span
    shown = [j for j in range(len(columns)) if j == 0 or (j + 1) % label_every == 0]
    if columns and len(columns) - 1 - shown[-1] > 2:
        shown.append(len(columns) - 1)
    for j in shown:
        parts.append(f'<text x="{left + cell * j}" y="{top - 4}" fill="#6b7280">{escape(columns[j])}</text>')
    for i, row in enumerate(rows):
        y = top + cell * i
        parts.append(f'<text x="{left - 4}" y="{y + cell - 2}" text-anchor="end" fill="#111827">{escape(row)}</text>')
        for j, share in enumerate(shares[i]):
            if share > 0:
                parts.append(
                    f'<rect x="{left + cell * j}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                    f'fill="#b91c1c" fill-opacity="{0.15 + 0.85 * min(share, 1.0):.2f}">'
                    f"<title>{escape(tips[i][j])}</title></rect>"
                )
    parts.append("</svg>")
    return "".join(parts)
