"""End to end: the scoring form in a real JupyterLab, driven in Debian chromium through Playwright.

The notebook is the real assessment notebook with the parameters an expert would type in; the server
and the store are private to this module (tests/lab_driver.py starts them).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_driver import (
    CHROMIUM,
    ROOT,
    jupyter_lab,
    lab_env,
    launch,
    open_notebook,
    run_all,
    voila,
    write_notebook,
)

from rubric_kernel.assessment import open_assessment
from rubric_kernel.store import Store

SCREENSHOT = ROOT / "test-artifacts" / "browser" / "form.png"
EXPERT = "浏览器测试专家"
ACTOR, ACTOR_NAME = "demo_expert_14", "蔡国（演示专家）"  # data/demo/people.yaml
INSTITUTION = 13

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="需要 Debian chromium（/usr/bin/chromium）：make test-deps"),
]


def _seed_store(db: Path):
    """Import the demo judgments into the temporary store and pick what to tick: a yes/no rule item
    on a full-score, deduction-style indicator that no credit record touches."""
    a = open_assessment(str(INSTITUTION), db=str(db))
    try:
        for ir in a.score().indicators:
            ind = a.ws.rubric.indicators[ir.number]
            if ind.base == "full" and ir.score == ind.max_points and not ir.lines:
                item = next((it for it in ind.items if not it.unit), None)
                if item is not None:
                    level1, level2 = a.ws.rubric.placement[ind.number]
                    return a.dataset, ind, item, level1, level2, len(a.history(f"sc-2023:ind:{ind.number}"))
    finally:
        a.store.close()
    raise AssertionError("演示数据中没有可勾选的扣分项")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab and one chromium for the module; each test opens its own copy of the notebook."""
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("browser")
    root = tmp / "lab"
    root.mkdir()
    db = tmp / "store.sqlite"
    seeded = _seed_store(db)
    env = lab_env(tmp / "jupyter", db)
    env["RUBRIC_KERNEL_ACTOR"] = ACTOR  # a registered expert of 13's demo group saves in the form
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    with jupyter_lab(root, env) as (base, token), sync_playwright() as p:
        browser = launch(p, tmp / "chromium-profile")
        try:
            yield root, db, base, token, browser, seeded, env
        finally:
            browser.close()


@pytest.fixture
def form_page(lab, request):
    """A page with the form built by Run All; a screenshot is kept when the test fails."""
    from playwright.sync_api import expect

    root, db, base, token, browser, seeded, _env = lab
    name = f"{request.node.name}.ipynb"
    write_notebook(root / name, INSTITUTION, EXPERT)
    page = browser.new_page()
    try:
        open_notebook(page, base, token, name)
        run_all(page)
        expect(page.locator(".rk-save")).to_be_visible(timeout=180_000)  # the machine may be loaded
        yield page, db, seeded
    except Exception:
        page.screenshot(path=str(SCREENSHOT.with_name(f"failure-{request.node.name}.png")))
        raise
    finally:
        page.close()


def _total(page) -> float:
    return float(page.locator(".rk-header .rk-total").inner_text())


def _open_section(page, target, level1, level2) -> None:
    """Bring an indicator into view: its tab, then its accordion section unless already open (the
    kernel builds a section when it is first opened, so wait for the header before looking)."""
    page.locator(".lm-TabBar-tab", has_text=f"{level1.name}（").first.click()
    header = page.locator(".jupyter-widget-Collapse-header", has_text=f"（{level2.number}）{level2.name}").first
    header.wait_for(state="visible", timeout=30_000)
    if "jupyter-widget-Collapse-open" not in (header.locator("..").get_attribute("class") or ""):
        header.click()
    target.wait_for(state="visible", timeout=30_000)


def _history(db, dataset, ind) -> list:
    store = Store(str(db))
    try:
        return store.history(dataset, INSTITUTION, ind.urn)
    finally:
        store.close()


def _tick_and_save(page, db, seeded) -> None:
    """Tick the chosen item: the total drops by its points; save: the store has the new version."""
    from playwright.sync_api import expect

    dataset, ind, item, level1, level2, _n = seeded
    versions_before = len(_history(db, dataset, ind))  # an earlier test may have saved and restored
    before = _total(page)
    box = page.locator(f".rk-item-{item.id} input[type=checkbox]")
    _open_section(page, box, level1, level2)
    box.scroll_into_view_if_needed()
    assert not box.is_checked()
    box.check()
    expect(page.locator(".rk-header .rk-total")).not_to_have_text(f"{before:g}", timeout=10_000)
    assert _total(page) == pytest.approx(before - item.points)

    page.locator(".rk-save").click()
    expect(page.locator(".rk-message")).to_contain_text("已保存 1 项", timeout=15_000)
    history = _history(db, dataset, ind)
    assert len(history) == versions_before + 1
    assert history[-1].expert == ACTOR_NAME, "recorded under the acting person's registered name, not the typed one"
    assert history[-1].login == ACTOR
    assert history[-1].content["ticks"] == {item.urn: 1}


def test_form_in_jupyterlab(form_page):
    page, db, seeded = form_page
    menus = page.locator(".lm-MenuBar-item").all_inner_texts()  # the project's settings select zh_CN
    assert all(any(m.startswith(word) for m in menus) for word in ("文件", "编辑", "运行")), menus
    _tick_and_save(page, db, seeded)
    page.screenshot(path=str(SCREENSHOT))
    _untick_and_save(page, db, seeded)


def _untick_and_save(page, db, seeded) -> None:
    """Put the store back as the module found it, so the next test starts from the same sheet."""
    from playwright.sync_api import expect

    dataset, ind, item, _l1, _l2, _n = seeded
    versions_before = len(_history(db, dataset, ind))
    page.locator(f".rk-item-{item.id} input[type=checkbox]").uncheck()
    page.locator(".rk-save").click()
    expect(page.locator(".rk-message")).to_contain_text("已保存 1 项", timeout=15_000)
    # The tick's save left the same words in the message: wait for the store itself, or a caller that
    # leaves the page at once (Voilà then stops the kernel) may leave the tick saved for the next test.
    for _ in range(150):
        history = _history(db, dataset, ind)
        if len(history) > versions_before:
            break
        page.wait_for_timeout(100)
    assert len(history) == versions_before + 1, "取消勾选后的保存未写入评分库"
    assert item.urn not in history[-1].content.get("ticks", {})


def test_form_in_voila(lab):
    """The same notebook served by Voilà: no code, the institution from the URL or the roster list,
    the same form, saving to the same store."""
    from playwright.sync_api import expect

    root, db, _base, _token, browser, seeded, env = lab
    app = root / "voila"
    app.mkdir(exist_ok=True)
    write_notebook(app / "assessment.ipynb", INSTITUTION, EXPERT)
    page = browser.new_page()
    try:
        with voila(app / "assessment.ipynb", env) as url:
            page.goto(f"{url}/?institution={INSTITUTION}", timeout=120_000)
            expect(page.locator(".rk-save")).to_be_visible(timeout=120_000)
            text = page.locator("body").inner_text()
            assert "open_assessment" not in text and "show_form" not in text  # no code cells
            expect(page.locator(".rk-header")).to_contain_text(f"{INSTITUTION} ")
            _tick_and_save(page, db, seeded)
            page.screenshot(path=str(SCREENSHOT.with_name("voila.png")))
            _untick_and_save(page, db, seeded)

            page.goto(f"{url}/", timeout=120_000)  # no institution in the URL: pick it from the roster
            picker = page.locator(".rk-picker select")
            expect(picker).to_be_visible(timeout=120_000)
            assert page.locator(".rk-save").count() == 0
            labels = picker.locator("option").all_text_contents()
            picker.select_option(
                label=next(o for o in labels if o.replace("\xa0", " ").startswith("21 "))
            )  # nbsp: ipywidgets
            expect(page.locator(".rk-header")).to_contain_text("21 ", timeout=30_000)
    except Exception:
        page.screenshot(path=str(SCREENSHOT.with_name("failure-voila.png")))
        raise
    finally:
        page.close()


OUTSIDER, OUTSIDER_NAME = "demo_expert_16", "杜志（演示专家）"  # registered, in 第2组: not assigned 13


def test_an_unassigned_expert_is_refused_in_the_form(lab):
    """The counterpart of the saves above (a registered expert of 13's group): a registered expert of
    another group opens 13's form in Voilà, ticks an item and saves; the form shows the one Chinese
    refusal line naming the role needed, and the store has nothing new."""
    from playwright.sync_api import expect

    root, db, _base, _token, browser, seeded, env = lab
    dataset, ind, item, level1, level2, _n = seeded
    app = root / "voila-outsider"
    app.mkdir(exist_ok=True)
    write_notebook(app / "assessment.ipynb", INSTITUTION, EXPERT)
    page = browser.new_page()
    try:
        with voila(app / "assessment.ipynb", {**env, "RUBRIC_KERNEL_ACTOR": OUTSIDER}) as url:
            page.goto(f"{url}/?institution={INSTITUTION}", timeout=120_000)
            expect(page.locator(".rk-save")).to_be_visible(timeout=120_000)
            before = len(_history(db, dataset, ind))
            box = page.locator(f".rk-item-{item.id} input[type=checkbox]")
            _open_section(page, box, level1, level2)
            box.scroll_into_view_if_needed()
            box.check()
            page.locator(".rk-save").click()
            expect(page.locator(".rk-message")).to_contain_text(
                f"{OUTSIDER_NAME}（{OUTSIDER}） 不是机构 {INSTITUTION} 评估小组的成员，不能保存其评分表"
                "（需要分配到该机构的“评估专家”）",
                timeout=15_000,
            )
            assert "已保存" not in page.locator(".rk-message").inner_text()
            assert len(_history(db, dataset, ind)) == before
            page.screenshot(path=str(SCREENSHOT.with_name("voila-refused.png")))
    except Exception:
        page.screenshot(path=str(SCREENSHOT.with_name("failure-voila-refused.png")))
        raise
    finally:
        page.close()


# True once the shown notebook's prompts say a cell is running or has run.
STARTED_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt')]
  .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""


# True once the shown notebook's toolbar names its kernel (its session exists).
HAS_KERNEL_JS = """() => {
  const name = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-kernelName');
  const text = (name?.textContent || '').trim();
  return text !== '' && !/No Kernel|无内核|没有内核/.test(text);
}"""


def _run_all_until_it_runs(page) -> None:
    """Run All, again if it was sent before the kernel was connected (then it silently runs nothing:
    with restored notebooks reconnecting, the kernel indicator cannot tell when this one is ready)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(12):
        # Sent before the notebook's session exists, Run All opens a kernel-choice dialog instead.
        page.wait_for_function(HAS_KERNEL_JS, polling="raf", timeout=60_000)
        run_all(page)
        try:
            page.wait_for_function(STARTED_JS, polling="raf", timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError("运行全部未能启动")


def test_a_restored_workspace_shows_every_form(lab):
    """Three assessment notebooks run, saved and left open; the page reloaded, JupyterLab restores
    the three tabs and reconnects their kernels: every form is shown again, none says "model not found"."""
    from playwright.sync_api import expect

    root, _db, base, token, browser, _seeded, _env = lab
    names = [f"restore-{n}.ipynb" for n in (INSTITUTION, 21, 7)]
    for name, number in zip(names, (INSTITUTION, 21, 7), strict=True):
        write_notebook(root / name, number, EXPERT)
    page = browser.new_page()
    try:
        for i, name in enumerate(names):
            # Opening a notebook by URL reloads the page, which already restores the ones before it.
            page.goto(f"{base}/lab/tree/{name}{'?reset&' if i == 0 else '?'}token={token}", timeout=60_000)
            expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")).to_contain_text(
                name, timeout=60_000
            )
            active = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
            _run_all_until_it_runs(page)
            expect(active.locator(".rk-save")).to_be_visible(timeout=180_000)
            page.keyboard.press("Control+s")
            expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-dirty")).to_have_count(0, timeout=30_000)
        page.reload(timeout=60_000)
        for name in names:
            page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name).first.click()
            active = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
            expect(active.locator(".rk-save")).to_be_visible(timeout=120_000)
            expect(active.locator(".rk-header .rk-total")).to_be_visible()
        page.wait_for_timeout(1000)
        assert page.get_by_text("model not found").count() == 0
        page.screenshot(path=str(SCREENSHOT.with_name("restored.png")))
    except Exception:
        page.screenshot(path=str(SCREENSHOT.with_name("failure-restore.png")))
        raise
    finally:
        page.close()


def _rect(locator) -> dict:
    return locator.evaluate("e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; }")


def test_header_stays_in_view_and_faults_show_beside_fields(form_page):
    from playwright.sync_api import expect

    page, _db, (_dataset, ind, _item, level1, level2, _n) = form_page
    top = page.locator(".rk-form .rk-top")
    points = page.locator(f".rk-indicator-{ind.number} .rk-free-points input")
    _open_section(page, points, level1, level2)

    # A value above the maximum is clamped, and the row says so.
    points.fill(f"{ind.max_points + 5:g}")
    points.press("Enter")
    row = page.locator(f".rk-indicator-{ind.number} .rk-free-row").first
    expect(row.locator(".rk-field-error")).to_contain_text(f"已按上限 {ind.max_points:g} 计", timeout=10_000)
    expect(points).to_have_value(f"{ind.max_points:g}")

    # Saving with the reason empty: the reason box turns red with its fault under it, and the form
    # turns back to the indicator's tab even when another tab was shown.
    page.locator(".lm-TabBar-tab", has_text="否定项").first.click()
    page.locator(".rk-save").click()
    expect(page.locator(".rk-message")).to_contain_text("未保存", timeout=15_000)
    reason = row.locator(".rk-free-reason input")
    expect(reason).to_be_visible(timeout=10_000)
    expect(row.locator(".rk-field-error")).to_contain_text("未填写理由")
    assert reason.evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(220, 38, 38)"

    # Scrolled down to the last indicator of the page, the header is still in view, stuck to the top.
    assert top.evaluate("e => getComputedStyle(e).position") == "sticky"
    start = _rect(top)["top"]
    last = page.locator(".rk-indicator:visible").last
    last.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # let the scroll settle before reading positions
    form_top = _rect(page.locator(".rk-form").first)["top"]
    header = _rect(top)
    chain = top.evaluate(
        """e => { const out = []; for (let x = e.parentElement; x; x = x.parentElement) {
          const s = getComputedStyle(x); if (s.overflow !== 'visible' || s.contain !== 'none')
            out.push(x.className + ' ' + s.overflow + ' ' + s.contain); } return out.join(' | '); }"""
    )
    assert form_top < header["top"] - 50, f"表单应已上移而表头停留：{chain}"
    assert header["top"] >= 0 and header["top"] != start
    assert header["bottom"] <= page.viewport_size["height"]
    expect(page.locator(".rk-header .rk-total")).to_be_in_viewport()
    expect(page.locator(".rk-message")).to_be_in_viewport()
    page.screenshot(path=str(SCREENSHOT.with_name("sticky.png")))
