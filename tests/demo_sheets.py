"""The demo's sheets as the store holds them after first use, for tests that score without a store.

First use records each judgments file and, for a synthetic dataset, the demo centre's 人社部门
findings (``data/demo/findings.csv``); a test that reads the files alone must add the findings, or
indicator 16 stays pending and every institution is provisional.
"""

from __future__ import annotations

import dataclasses

from rubric_kernel import findings
from rubric_kernel.sheet import Finding, Sheet
from rubric_kernel.workspace import Workspace, judgment_files, read_checked


def demo_findings(ws: Workspace) -> dict[int, dict[int, Finding]]:
    """The dataset's findings by institution and indicator."""
    out: dict[int, dict[int, Finding]] = {}
    for e in findings.read_findings(findings.dataset_file(ws.dataset.folder), ws):
        out.setdefault(e.institution, {})[e.indicator] = e.finding
    return out


def demo_sheets(ws: Workspace) -> dict[int, Sheet]:
    """Every institution's sheet: its judgments file (or nothing) with the centre's findings."""
    files, found = judgment_files(ws), demo_findings(ws)
    return {
        n: dataclasses.replace(
            read_checked(ws, files[n], n).sheet if n in files else Sheet(), findings=found.get(n, {})
        )
        for n in ws.roster
    }
