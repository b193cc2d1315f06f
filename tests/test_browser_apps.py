"""Every Voila app as a demo visitor sees it: served on loopback, opened in headless
Chromium at a laptop's width. An app fails on "Error displaying widget", on a control
that has no width to be clicked, on any console error and on any request that leaves
the machine (the apps must work offline: no CDN)."""
from __future__ import annotations

import os
from urllib.parse import urlparse

import pytest

from .browser import REPO, chromium, require_browser, voila
from .conftest import require_models

pytestmark = pytest.mark.browser
APPS = REPO / "lessons" / "apps"

# what shows that each app has drawn its first result
READY = {
    "seird_explorer": "document.querySelector('.seird .summary')?.textContent.includes('ICU peak')",
    "forecast_dashboard": "[...document.querySelectorAll('.widget-html-content')].some(e => "
                          "e.textContent.includes('best model')) && "
                          "[...document.querySelectorAll('img')].some(i => i.naturalWidth > 300)",
    "mask_detector": "!!document.querySelector('.kit-cam .start')",
}
CONTROLS = (".widget-dropdown select, .widget-select-multiple select, .widget-slider, .widget-toggle-buttons button, "
            ".widget-toggle-button, "
            ".seird input[type=range], .kit-cam button, .kit-cam select")


class Visit:
    """Console errors, uncaught exceptions and requests that leave 127.0.0.1."""

    def __init__(self, page):
        self.problems = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed request: {r.url} ({r.failure})"))
        page.on("request", lambda r: urlparse(r.url).hostname not in ("127.0.0.1", None)
                and not r.url.startswith("data:") and self.problems.append(f"request off the machine: {r.url}"))


@pytest.mark.parametrize("app", sorted(READY))
def test_app_renders_offline_with_usable_controls(app):
    require_browser()
    if app == "mask_detector":
        require_models()
    with voila(APPS / f"{app}.ipynb") as url, chromium() as page:
        page.set_viewport_size({"width": 1280, "height": 900})
        visit = Visit(page)
        page.goto(url, timeout=180_000)
        page.wait_for_function(READY[app], timeout=180_000)
        page.wait_for_timeout(1000)  # late console errors (a widget view failing after the first draw)
        text = page.locator("body").inner_text()
        if os.environ.get("KIT_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["KIT_SCREENSHOTS"], f"app_{app}.png"), full_page=True)
        assert "Error displaying widget" not in text
        assert "Traceback" not in text
        sizes = page.locator(CONTROLS).evaluate_all(
            "els => els.filter(e => e.offsetParent !== null).map(e => [e.className, e.getBoundingClientRect().width])")
        assert sizes, "no controls found"
        narrow = [(name, width) for name, width in sizes if width < 40]
        assert not narrow, f"controls too narrow to use: {narrow}"
        assert not visit.problems, "\n".join(visit.problems)


PHONE = {"width": 390, "height": 844}
# the results of each app: on a phone they sit below the controls, at the screen's width
RESULTS = {"seird_explorer": ".seird .charts", "forecast_dashboard": ".kit-dashboard img"}
PHONE_CONTROLS = {"seird_explorer": ".seird .controls", "forecast_dashboard": ".kit-dashboard .widget-dropdown"}


@pytest.mark.parametrize("app", sorted(RESULTS))
def test_app_works_on_a_phone(app):
    require_browser()
    with voila(APPS / f"{app}.ipynb") as url, chromium() as page:
        page.set_viewport_size(PHONE)
        visit = Visit(page)
        page.goto(url, timeout=180_000)
        page.wait_for_function(READY[app], timeout=180_000)
        page.wait_for_timeout(1000)
        if os.environ.get("KIT_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["KIT_SCREENSHOTS"], f"phone_{app}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, "the page scrolls sideways"
        boxes = page.locator(f"{CONTROLS}, {RESULTS[app]}").evaluate_all(
            "els => els.filter(e => e.offsetParent !== null).map(e => {"
            " const r = e.getBoundingClientRect(); return [e.className, r.left, r.right, r.width]; })")
        outside = [(name, round(left), round(right)) for name, left, right, _ in boxes
                   if left < -1 or right > PHONE["width"] + 1]
        assert not outside, f"controls or charts outside a {PHONE['width']} px screen: {outside}"
        assert not [b for b in boxes if b[3] < 40], f"controls too narrow to use: {boxes}"
        top_results = page.locator(RESULTS[app]).first.evaluate("e => e.getBoundingClientRect().top")
        bottom_controls = page.locator(PHONE_CONTROLS[app]).first.evaluate("e => e.getBoundingClientRect().bottom")
        assert top_results >= bottom_controls - 1, "the results should come below the controls on a phone"
        width = page.locator(RESULTS[app]).first.evaluate("e => e.getBoundingClientRect().width")
        assert width >= 0.8 * PHONE["width"] - 40, f"the results are squeezed to {width:.0f} px"
        assert "Hold Ctrl" not in page.locator("body").inner_text()
        assert not visit.problems, "\n".join(visit.problems)


def test_a_visitors_kernel_and_its_memory_are_freed_after_the_page_closes():
    """Voila 0.5 refuses the shutdown a closing tab sends (no _xsrf token); kit serve culls
    the kernels of closed pages instead."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    from .browser import free_port, server

    require_browser()
    port = free_port()
    cmd = [sys.executable, "-m", "kit", "serve", "seird_explorer.ipynb", "--apps", str(APPS), "--port", str(port),
           "--cull-idle", "6"]
    log = REPO / "build" / f"serve-{port}.log"
    log.parent.mkdir(exist_ok=True)

    def kernels(server_process):
        try:
            family = psutil.Process(server_process.pid).children(recursive=True)
        except psutil.Error:
            return []
        return [p for p in family if "ipykernel_launcher" in " ".join(p.cmdline())]

    with server(cmd, f"http://127.0.0.1:{port}/", log, cwd=REPO, env=dict(os.environ)) as proc:
        with chromium() as page:
            page.goto(f"http://127.0.0.1:{port}/", timeout=180_000)
            page.wait_for_function(READY["seird_explorer"], timeout=180_000)
            started = kernels(proc)
            assert started, "a kernel for the visitor"
            rss = sum(p.memory_info().rss for p in started)
        # the page is closed; its kernel is freed within the idle time and a cull interval

        def alive():
            return [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

        deadline = time.time() + 60
        while time.time() < deadline and alive():
            time.sleep(1)
        assert not alive(), "the closed page's kernel is still running"
        print(f"freed {len(started)} kernel(s), {rss / 2**20:.0f} MB, after the page closed")
        proc.send_signal(signal.SIGTERM)
