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
