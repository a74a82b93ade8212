"""The report's stylesheet and title, shared by the notebook view, the HTML export and the batch (no heavy imports)."""

from ..bundled import REPORT_CSS

CSS = REPORT_CSS.read_text(encoding="utf-8")


def report_title(name: str, mark: str) -> str:
    return f"{'【' + mark + '】' if mark else ''}信用评估报告 - {name}"
