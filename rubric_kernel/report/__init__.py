"""The 评估报告: a frozen context (``context``, ``loader``), Jinja2 templates (``render``), chart, digests, export."""
