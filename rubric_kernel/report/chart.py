"""The first-level comparison chart as inline SVG with real Chinese glyphs.

Text is drawn as glyph outlines (matplotlib's default ``svg.fonttype = 'path'``), so the report shows
Chinese on any reader's machine; on the producing machine a CJK font must exist, and a missing one
is an error that says how to install it rather than a chart of empty boxes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache

from ..rubric import Rubric
from ..scoring import Result

CJK_FONT_FILES = (
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSansCJK-Regular.otf",
    "SourceHanSansSC-Regular.otf",
)
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")


class FontMissing(RuntimeError):
    pass


@cache
def cjk_font() -> str:
    """Register a CJK font with matplotlib once per process and return its family name."""
    from pathlib import Path

    from matplotlib import font_manager

    for d in FONT_DIRS:
        for name in CJK_FONT_FILES:
            for path in Path(d).rglob(name):
                font_manager.fontManager.addfont(str(path))
                return font_manager.FontProperties(fname=str(path)).get_name()
    raise FontMissing("未找到中文字体，图表无法显示汉字。请安装 fonts-wqy-microhei（make setup 会自动安装）。")


def level1_chart_svg(rubric: Rubric, r: Result, same_class: Sequence[Result], cohort: Sequence[Result]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    family = cjk_font()
    names = [lv.name for lv in rubric.levels]
    maxima = [lv.points for lv in rubric.levels]

    def pct(results: Sequence[Result]) -> list[float]:
        n = max(len(results), 1)
        return [100 * sum(x.level1[k] for x in results) / n / m for k, m in zip(names, maxima, strict=True)]

    series = [
        (r.name if len(r.name) <= 12 else "本机构", pct([r]), "#c0392b"),
        (f"{r.klass}均值", pct(same_class), "#7f8c8d"),
        ("全部机构均值", pct(cohort), "#bdc3c7"),
    ]
    fig = Figure(figsize=(7.2, 3.4), dpi=100)
    ax = fig.subplots()
    width = 0.26
    for k, (label, values, color) in enumerate(series):
        xs = [i + (k - 1) * width for i in range(len(names))]
        ax.bar(xs, values, width, label=label, color=color)
    ax.set_xticks(range(len(names)), names, fontfamily=family, fontsize=9)
    ax.set_ylim(0, 105)
    ax.set_ylabel("得分率（%）", fontfamily=family, fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(
        prop={"family": family, "size": 8}, ncols=3, loc="upper center", bbox_to_anchor=(0.5, 1.16), frameon=False
    )
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]
