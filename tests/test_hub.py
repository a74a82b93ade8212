"""End to end through the provincial hub: JupyterHub (deploy/jupyterhub_config.py), Voilà, chromium, and a
password-checked throwaway PostgreSQL where each hub user writes as their own database login.

Two experts of 13's group open it at once and change the same indicator: the second save is refused
naming the first. An expert of another group, a reviewer, and a person whose roles are revoked each
meet what their role allows. The hub uses the dummy authenticator (tests only) and local processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from lab_driver import CHROMIUM, CHROMIUM_ARGS, ROOT

from rubric_kernel import hub as rk_hub
from rubric_kernel import people
from rubric_kernel.assessment import open_assessment
from rubric_kernel.store import Store
from rubric_kernel.workflow.service import Workflow
from rubric_kernel.workspace import load_workspace

sys.path.insert(0, str(ROOT / "tools"))
from demo_hub import prepare
from pg_cluster import cluster

PROXY = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "hub-test-only"  # the dummy authenticator's shared password: tests only
INSTITUTION = 13
FIRST, SECOND, OTHER_GROUP, CENTRE = "demo_expert_01", "demo_expert_02", "demo_expert_16", "demo_centre"
SIGNED = 2  # an institution of the same group walked to 初评 before the hub starts: the centre's pending review
LONG = 240_000  # ms: a single-user server, a Voilà kernel and the form on a loaded 2-core machine

pytestmark = [
    pytest.mark.hub,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="需要 Debian chromium（/usr/bin/chromium）：make test-deps"),
    pytest.mark.skipif(not PROXY.exists(), reason="需要 configurable-http-proxy：bash tools/hub_deps.sh"),
    pytest.mark.skipif(shutil.which("jupyterhub", path=str(Path(sys.executable).parent)) is None, reason="需要 .[hub]"),
]


def _items(url: str):
    """Two yes/no items of one full-score indicator of 13 that no credit record touches."""
    a = open_assessment(str(INSTITUTION), db=url, bootstrap_store=False)
    try:
        for ir in a.score().indicators:
            ind = a.ws.rubric.indicators[ir.number]
            items = [it for it in ind.items if not it.unit]
            if ind.base == "full" and ir.score == ind.max_points and not ir.lines and len(items) >= 2:
                return ind, items[0], items[1], *a.ws.rubric.placement[ind.number]
    finally:
        a.store.close()
    raise AssertionError("演示数据中没有含两个可勾选扣分项的指标")


def _as(url: str, pgpass: Path, login: str) -> Store:
    """The store as a person's own database login (a test password in the test's pgpass file), so the
    workflow service acts as that person, as it does in their hub server."""
    if f":{login}:" in pgpass.read_text(encoding="utf-8"):  # libpq takes the first matching line
        return Store(rk_hub.user_url(url, login))
    with pgpass.open("a", encoding="utf-8") as f:
        f.write(
            rk_hub.write_pgpass(
                pgpass.parent / login, url, login, rk_hub.issue_password(_admin(url), login)
            ).read_text()
        )
    return Store(rk_hub.user_url(url, login))


def _admin(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _to_initial(url: str, pgpass: Path, n: int) -> None:
    """待评估 → 初评 for `n` by the roles that own each step, each on their own login (CLI path)."""
    ws = load_workspace()
    members = [FIRST, SECOND]
    with _as(url, pgpass, "demo_organiser") as store:
        wf = Workflow(ws, store)
        wf.move(n, "现场评估")
        wf.set_group(n, [people.by_login(store, "demo", m).name for m in members])
        wf.commitment(n, dt.date(2023, 5, 20))
    for m in members:
        with _as(url, pgpass, m) as store:
            Workflow(ws, store).sign(n)
    with _as(url, pgpass, "demo_organiser") as store:
        Workflow(ws, store).move(n, "初评")


def _three_free_ports() -> int:
    """A port P with P+1 and P+2 free too (the hub and the proxy's API sit next to the proxy), taken
    below Linux's ephemeral range, where the suite's other connections get their own local ports."""
    low, _high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, low - 3)
        try:
            with contextlib.ExitStack() as held:
                for p in (port, port + 1, port + 2):
                    s = held.enter_context(socket.socket())
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no three consecutive free ports")


@contextmanager
def _hub(url: str, pgpass: Path, state: Path):
    port = _three_free_ports()
    env = {
        **os.environ,
        "PGPASSFILE": str(pgpass),
        "RK_HUB_DB": url,
        "RK_HUB_DATASET": "demo",
        "RK_HUB_STATE": str(state),
        "RK_HUB_SPAWNER": "local",
        "RK_HUB_AUTH": "dummy",
        "RK_HUB_DUMMY_PASSWORD": PASSWORD,
        "RK_HUB_PORT": str(port),
    }
    env.pop("RUBRIC_KERNEL_DB", None)  # the servers get theirs from the hub
    log = (state / "hub.log").open("wb")
    cmd = [str(Path(sys.executable).with_name("jupyterhub")), "-f", str(ROOT / "deploy" / "jupyterhub_config.py")]
    process = subprocess.Popen(cmd, env=env, cwd=state, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if requests.get(f"{base}/hub/login", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, (state / "hub.log").read_text(errors="replace")[-3000:]
            time.sleep(1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("hub")
    saved = os.environ.get("PGPASSFILE")
    with cluster(port=5442) as (url, pgpass):
        os.environ["PGPASSFILE"] = str(pgpass)
        try:
            prepare(url)
            chosen = _items(url)
            _to_initial(url, pgpass, SIGNED)
            with _hub(url, pgpass, tmp) as base, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                try:
                    yield base, url, chosen, browser, tmp
                finally:
                    browser.close()
        finally:
            if saved is None:
                os.environ.pop("PGPASSFILE", None)
            else:
                os.environ["PGPASSFILE"] = saved


def _submit_login(browser, base: str, user: str):
    """A fresh browser context (its own cookies: one person) that has submitted the hub's login form."""
    page = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{base}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    return page


def _login(browser, base: str, user: str):
    """A page logged in as `user`, on the page the hub lands them on once their server runs."""
    page = _submit_login(browser, base, user)
    page.wait_for_url(f"**/user/{user}/**", timeout=LONG)
    return page


def _open_form(page, base: str, user: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/user/{user}/voila/render/assessment.ipynb?institution={INSTITUTION}")
    expect(page.locator(".rk-save")).to_be_visible(timeout=LONG)


def _tick(page, item, level1, level2) -> None:
    box = page.locator(f".rk-item-{item.id} input[type=checkbox]")
    page.locator(".lm-TabBar-tab", has_text=f"{level1.name}（").first.click()
    header = page.locator(".jupyter-widget-Collapse-header", has_text=f"（{level2.number}）{level2.name}").first
    header.wait_for(state="visible", timeout=60_000)
    if "jupyter-widget-Collapse-open" not in (header.locator("..").get_attribute("class") or ""):
        header.click()
    box.wait_for(state="visible", timeout=60_000)
    box.scroll_into_view_if_needed()
    box.check()


def test_two_experts_one_institution_through_the_hub(hub):
    from playwright.sync_api import expect

    base, url, (ind, first_item, second_item, level1, level2), browser, tmp = hub
    pages = {}
    try:
        for user in (FIRST, SECOND):
            pages[user] = _login(browser, base, user)
            assert "/voila/render/assessment.ipynb" in pages[user].url  # experts land on the form
            _open_form(pages[user], base, user)
            with Store(url) as store:
                name = people.by_login(store, "demo", user).name
            shown = pages[user].locator(".widget-text", has_text="评估专家").locator("input")
            expect(shown).to_have_value(name)  # the login's registered name, not typed
            expect(shown).to_be_disabled()
        _tick(pages[FIRST], first_item, level1, level2)
        _tick(pages[SECOND], second_item, level1, level2)
        pages[FIRST].locator(".rk-save").click()
        expect(pages[FIRST].locator(".rk-message")).to_contain_text("已保存 1 项", timeout=60_000)
        pages[SECOND].locator(".rk-save").click()
        refused = pages[SECOND].locator(".rk-message")
        expect(refused).to_contain_text("保存被拒绝", timeout=60_000)
        with Store(url) as store:
            first = people.by_login(store, "demo", FIRST)
            history = store.history("demo", INSTITUTION, ind.urn)
        expect(refused).to_contain_text(first.name)
        expect(refused).to_contain_text(f"指标 {ind.number} {ind.name}")
        assert history[-1].login == FIRST and history[-1].expert == first.name
        assert history[-1].content["ticks"] == {first_item.urn: 1}

        # revoked: the running server can no longer write, and the hub no longer lets them in
        with Store(url) as store:
            people.revoke(store, "demo", SECOND, by="demo_admin", role_names=["expert"])
        pages[SECOND].locator(".rk-save").click()
        # the login lost its group roles (no read, no write), and is told why
        expect(refused).to_contain_text(f"您的账号（{SECOND}）已被撤销（于 ", timeout=60_000)
        expect(refused).to_contain_text("由 demo_admin），不能再保存")
        with Store(url) as store:
            assert store.history("demo", INSTITUTION, ind.urn)[-1].login == FIRST
        again = _submit_login(browser, base, SECOND)
        expect(again.locator("body")).to_contain_text(f"您的账号（{SECOND}）已被撤销", timeout=60_000)
    except Exception:
        for user, page in pages.items():
            page.screenshot(path=str(tmp / f"failure-{user}.png"))
        raise


def test_another_group_is_refused_and_the_reviewer_lands_on_the_review_page(hub):
    from playwright.sync_api import expect

    base, url, (ind, _first, item, level1, level2), browser, tmp = hub  # `item`: not ticked in 13 so far
    page = _login(browser, base, OTHER_GROUP)
    try:
        _open_form(page, base, OTHER_GROUP)
        with Store(url) as store:
            before = len(store.history("demo", INSTITUTION, ind.urn))
        _tick(page, item, level1, level2)
        page.locator(".rk-save").click()
        expect(page.locator(".rk-message")).to_contain_text("拒绝", timeout=60_000)
        with Store(url) as store:
            assert len(store.history("demo", INSTITUTION, ind.urn)) == before
        page.goto(f"{base}/user/{OTHER_GROUP}/voila/render/review.ipynb")  # an expert on the review page
        expect(page.locator(".rk-review")).to_contain_text("只对“省职鉴中心复核”和“领导审签”角色开放", timeout=LONG)
        assert page.locator(".rk-review button").count() == 0

        centre = _login(browser, base, CENTRE)
        assert "/voila/render/review.ipynb" in centre.url
        expect(centre.locator(".rk-review")).to_contain_text("演示数据", timeout=LONG)
        assert centre.locator(".rk-save").count() == 0
        centre.locator(f".rk-pending-{SIGNED} .rk-review-submit").click()
        expect(centre.locator(".rk-message")).to_contain_text(f"机构 {SIGNED} 复核结论已提交", timeout=60_000)
        with Store(url) as store:
            review = [e for e in store.events("demo", SIGNED) if e.kind == "review"]
        assert [(e.login, e.actor) for e in review] == [(CENTRE, "省职鉴中心复核员（演示）")]
    except Exception:
        page.screenshot(path=str(tmp / "failure-other-group.png"))
        raise
