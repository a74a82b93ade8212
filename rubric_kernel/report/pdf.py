"""A4 PDFs of the HTML documents (reports, 公示名单) through headless chromium, only when asked for.

Chromium is the browser the project's tests already run (Debian's ``chromium``); it lays out CJK text
with the system's fonts and embeds them, honours the documents' ``@page`` A4 rules, and needs no
network: the documents are self-contained and are opened as local files. A second renderer (such as
WeasyPrint) would add a dependency tree for the same result. A PDF is written beside its HTML, through
a temporary name, so a failed print leaves no half-written file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import Fault, InputError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ENV = "RUBRIC_KERNEL_CHROMIUM"  # an explicit browser binary, e.g. on a machine without Debian's
FLAGS = (
    "--headless",
    "--no-sandbox",  # as root (containers, CI) chromium refuses to start otherwise
    "--disable-gpu",
    "--no-first-run",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
)


def find_chromium() -> str | None:
    chosen = os.environ.get(CHROMIUM_ENV)
    if chosen:
        return chosen
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def html_to_pdf(html: Path, pdf: Path | None = None, timeout: float = 180) -> Path:
    """Print one HTML file to an A4 PDF (``html`` with ``.pdf``); raises InputError in Chinese on failure."""
    pdf = pdf or html.with_suffix(".pdf")
    browser = find_chromium()
    if browser is None:
        raise InputError(
            [
                Fault(
                    "PDF",
                    f"未找到 chromium 浏览器，无法生成 PDF（请安装 Debian 软件包 chromium，或设置 {CHROMIUM_ENV}）",
                )
            ]
        )
    with tempfile.TemporaryDirectory(prefix="rk-pdf-") as profile:
        part = pdf.with_name(f".{pdf.name}.part")
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={part}", html.resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            part.unlink(missing_ok=True)
            raise InputError([Fault(str(html), f"chromium 在 {timeout:g} 秒内未完成 PDF 打印")]) from None
        if done.returncode != 0 or not part.is_file() or part.stat().st_size == 0:
            part.unlink(missing_ok=True)
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["无输出"]
            raise InputError([Fault(str(html), f"chromium 打印 PDF 失败：{tail[0]}")])
        part.replace(pdf)
    return pdf


def print_all(pages: list[Path], workers: int = 1) -> list[Path]:
    """Print several HTML files, a few chromium processes at a time; every failure is reported together."""
    from concurrent.futures import ThreadPoolExecutor

    faults: list[Fault] = []
    written: list[Path] = []

    def one(page: Path) -> None:
        try:
            written.append(html_to_pdf(page))
        except InputError as exc:
            faults.extend(exc.faults)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, pages))
    if faults:
        raise InputError(faults)
    return sorted(written)
