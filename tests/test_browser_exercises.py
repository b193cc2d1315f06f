"""A student in JupyterLab: answers an exercise wrongly, reads why and a hint, answers it
rightly, and sees it counted by the progress widget."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import sys

import pytest

from .browser import REPO, chromium, free_port, require_browser, run_all_cells, server

pytestmark = pytest.mark.browser
LESSON = "00_welcome.ipynb"


@pytest.fixture
def lab(tmp_path):
    require_browser()
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO / "lessons" / LESSON, root / LESSON)
    port, token = free_port(), secrets.token_hex(16)
    progress = tmp_path / "progress.json"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "KIT_EXERCISE_PROGRESS": str(progress), "KIT_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    # every cell rendered (JupyterLab otherwise leaves cells outside the window empty)
    tracker = tmp_path / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    base = f"http://127.0.0.1:{port}"
    with server(cmd, f"{base}/api/status?token={token}", tmp_path / "lab.log", cwd=root, env=env, timeout=120):
        yield f"{base}/lab/tree/{LESSON}?token={token}", progress


def _run_cell_with(page, cell, source: str) -> None:
    """Replace a cell's text as a student would (select all, type) and run it (Shift+Enter)."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(source)  # typed text, without the editor's automatic closing quotes
    page.keyboard.press("Shift+Enter")


def test_a_student_answers_wrongly_reads_a_hint_answers_rightly_and_is_counted(lab):
    url, progress = lab
    with chromium() as page:
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto(url, timeout=120_000)
        page.locator(".jp-Notebook").wait_for(timeout=120_000)
        page.wait_for_function("document.querySelector('.jp-Notebook-ExecutionIndicator') !== null", timeout=60_000)
        run_all_cells(page)  # Run > Run All Cells, as a student would
        page.locator(".kit-progress-count").wait_for(timeout=300_000)  # the last widget: everything ran
        cell = page.locator(".jp-CodeCell", has_text="checksum_answer").first
        cell.scroll_into_view_if_needed()
        assert "Not answered yet" in cell.inner_text()

        _run_cell_with(page, cell, 'checksum_answer = "use it"\nq1 = ex.checksum()\nq1.check(checksum_answer)')
        cell.locator(".kit-feedback-wrong").wait_for(timeout=60_000)
        assert "never reaches the cache" in cell.inner_text()

        # a new cell below asks for a hint: Shift+Enter moved on a cell, so up one (k), then insert below (b)
        page.keyboard.press("Escape")
        page.keyboard.press("k")
        page.keyboard.press("b")
        hint_cell = page.locator(".jp-CodeCell.jp-mod-selected")
        _run_cell_with(page, hint_cell, "q1.hint()")
        page.wait_for_function("document.body.innerText.includes('Hint 1 of 2')", timeout=60_000)
        if os.environ.get("KIT_SCREENSHOTS"):
            cell.scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(os.environ["KIT_SCREENSHOTS"], "jupyterlab_exercise_hint.png"))

        _run_cell_with(page, cell, 'checksum_answer = "next source"\nq1 = ex.checksum()\nq1.check(checksum_answer)')
        cell.locator(".kit-feedback-right").wait_for(timeout=60_000)

        page.locator(".jp-CodeCell", has_text="ExerciseProgress").last.scroll_into_view_if_needed()
        page.locator("button.widget-button", has_text="Refresh").click()
        page.wait_for_function("document.querySelector('.kit-progress-count')?.textContent.startsWith('1 of ')",
                               timeout=60_000)
        if os.environ.get("KIT_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["KIT_SCREENSHOTS"], "jupyterlab_exercise.png"))
        text = page.locator(".jp-Notebook").inner_text()
    assert "Traceback" not in text
    entry = json.loads(progress.read_text())["exercises"]["00.checksum"]
    assert entry["attempts"] == 2 and entry["status"] == "right" and entry["first_passed"]
