"""The report's stylesheet, shared by the notebook view and the HTML export (no heavy imports here)."""

from pathlib import Path

HERE = Path(__file__).parent
CSS = (HERE / "report.css").read_text(encoding="utf-8")
