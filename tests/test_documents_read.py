"""The batch's documents as reviewers read them: PDFs (text extractable, fonts embedded) and, in Debian
chromium, a reviewer's ten seconds: the veto in report 66's first screen, the deductions within two
screens, and the index and publicity list readable on a 390 px wide phone.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_run import run as _run

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ONLY = (13, 66)
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="需要 Debian chromium（/usr/bin/chromium）")
needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext"), reason="需要 poppler-utils（pdftotext、pdffonts）")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One batch of two institutions with PDFs; the scores as ``score --json`` gives them."""
    if not CHROMIUM.exists():
        pytest.skip("需要 Debian chromium")
    tmp = tmp_path_factory.mktemp("docs")
    db, out = str(tmp / "s.sqlite"), tmp / "out"
    only = ",".join(map(str, ONLY))
    code, printed = _run(["batch", "--only", only, "--db", db, "--out", str(out), "--workers", "2", "--pdf"])
    assert code == 0, printed
    scores = {}
    for n in ONLY:
        code, text = _run(["score", str(n), "--json", "--db", db])
        assert code == 0
        scores[n] = json.loads(text)
    return out / "latest", scores


@needs_poppler
@pytest.mark.parametrize("n", ONLY)
def test_report_pdf_has_name_total_and_grade_as_text(batch, n):
    run, scores = batch
    pdf = run / f"{n:02d}.pdf"
    assert pdf.is_file()
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    s = scores[n]
    assert s["name"] in re.sub(r"\s+", "", text)
    conclusion = text[text.index("评估结论") : text.index("扣分、加分与否定项说明")]
    tokens = conclusion.split()
    assert f"{s['total']:g}" in tokens, conclusion
    assert (s["grade"] or "暂不评定") in tokens, conclusion
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info


@needs_poppler
@pytest.mark.parametrize("name", ["13.pdf", "66.pdf", "publicity.pdf"])
def test_every_font_is_embedded(batch, name):
    run, _ = batch
    listing = subprocess.run(["pdffonts", str(run / name)], capture_output=True, text=True, check=True).stdout
    flags = re.findall(r"\s(yes|no)\s+(?:yes|no)\s+(?:yes|no)\s+\d+\s+\d+\s*$", listing, re.M)
    assert flags, listing
    assert set(flags) == {"yes"}, listing


@needs_poppler
def test_publicity_pdf_lists_the_institutions(batch):
    run, scores = batch
    text = subprocess.run(["pdftotext", str(run / "publicity.pdf"), "-"], capture_output=True, text=True).stdout
    flat = re.sub(r"\s+", "", text)
    for s in scores.values():
        if s["status"] == "complete":
            assert s["name"] in flat


# --- a reviewer's ten seconds, in chromium ---------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from lab_driver import CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _open(browser, path: Path, width: int, height: int):
    page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
    page.goto(path.as_uri())
    return page


@needs_chromium
def test_the_veto_of_66_is_in_the_first_screen(batch, browser):
    run, _ = batch
    page = _open(browser, run / "66.html", 1366, 900)
    try:
        banner = page.locator(".rk-veto-banner").first
        assert banner.is_visible()
        box = banner.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, box
        assert "否定项" in banner.inner_text()
    finally:
        page.close()


@needs_chromium
def test_what_lost_points_starts_within_two_screens(batch, browser):
    run, _ = batch
    page = _open(browser, run / "66.html", 1366, 900)
    try:
        first = page.locator('[data-section="findings"] .rk-finding').first
        box = first.bounding_box()
        assert box is not None and box["y"] < 2 * 900, box
        assert re.search(r"-\d", first.inner_text()), "a deduction"
    finally:
        page.close()


OVERFLOW_JS = """() => {
  const wide = [...document.querySelectorAll('td, th, p, h1, h2, li, a, span')]
    .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 1)
    .map(e => e.textContent.slice(0, 30));
  return {scroll: document.documentElement.scrollWidth, inner: innerWidth, wide,
          font: parseFloat(getComputedStyle(document.querySelector('td')).fontSize)};
}"""


@needs_chromium
@pytest.mark.parametrize("name", ["index.html", "publicity.html"])
def test_index_and_publicity_read_on_a_phone(batch, browser, name):
    run, _ = batch
    page = _open(browser, run / name, 390, 844)
    try:
        got = page.evaluate(OVERFLOW_JS)
        assert got["scroll"] <= got["inner"], got
        assert not got["wide"], got
        assert got["font"] >= 12, got
    finally:
        page.close()
