"""Headless LibreOffice, shared by the print test and ``benchmarks/office_print.py``."""

from __future__ import annotations

import subprocess
from pathlib import Path


def convert_to_pdf(files: list[Path], profile: Path, out: Path, timeout: float = 300) -> None:
    """Convert workbooks to PDF in one LibreOffice start, with a private profile (no shared user state)."""
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            *map(str, files),
        ],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
