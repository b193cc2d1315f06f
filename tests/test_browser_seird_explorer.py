"""End to end: Voila serves the SEIRD explorer app and headless Chromium plays with it."""
from __future__ import annotations

import os

import pytest

from .browser import REPO, chromium, require_browser, voila

pytestmark = pytest.mark.browser


def test_seird_explorer_app_renders_and_reacts_to_a_slider():
    require_browser()
    with voila(REPO / "lessons" / "apps" / "seird_explorer.ipynb") as url, chromium() as page:
        page.goto(url, timeout=120_000)
        summary = page.locator(".seird .summary")
        summary.wait_for(timeout=120_000)
        page.wait_for_function("document.querySelector('.seird .summary').textContent.includes('ICU peak')",
                               timeout=60_000)
        before = summary.text_content()
        path = page.locator(".seird svg path[stroke='#9467bd']").first
        assert len(path.get_attribute("d")) > 100  # the C curve is drawn
        # move the "intervention day" slider 30 days earlier, as a user's drag would
        slider = page.locator(".seird input[type=range]").nth(2)
        slider.evaluate("(el) => { el.value = String(Number(el.value) - 30); "
                        "el.dispatchEvent(new Event('input', {bubbles: true})); }")
        page.wait_for_function(
            "(old) => document.querySelector('.seird .summary').textContent !== old", arg=before,
            timeout=30_000)
        after = summary.text_content()
        assert before != after and "ICU peak" in after
        assert page.locator(".seird .error").text_content() == ""
        if os.environ.get("KIT_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["KIT_SCREENSHOTS"], "seird_explorer.png"), full_page=True)
