"""A student's view: JupyterLab on loopback, a lesson opened and run in headless
Chromium; its widget must render (no "Error displaying widget"), the forecast
dashboard with a drawn chart on its first result, and the page must log no console
error about the widgets."""
from __future__ import annotations

import os
import secrets
import shutil
import sys

import pytest

from .browser import REPO, chromium, free_port, require_browser, run_all_cells, server

pytestmark = pytest.mark.browser
# lesson -> what shows that its widget rendered
RENDERED = {
    "02_seird_simulation.ipynb": "document.querySelector('.seird .summary')?.textContent.includes('ICU peak')",
    "03_forecasting.ipynb": "[...document.querySelectorAll('.widget-html-content')].some(e => "
                            "e.textContent.includes('best model')) && [...document.querySelectorAll('.widget-image')]"
                            ".some(i => i.naturalWidth > 300 && i.getBoundingClientRect().height > 100)",
}


@pytest.fixture(params=sorted(RENDERED))
def lab(request, tmp_path):
    require_browser()
    lesson = request.param
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO / "lessons" / lesson, root / lesson)
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    base = f"http://127.0.0.1:{port}"
    with server(cmd, f"{base}/api/status?token={token}", tmp_path / "lab.log", cwd=root, env=env, timeout=120):
        yield lesson, f"{base}/lab/tree/{lesson}?token={token}"


def test_lesson_runs_in_jupyterlab_and_its_widget_renders(lab):
    lesson, url = lab
    with chromium() as page:
        page.set_viewport_size({"width": 1400, "height": 1000})
        errors = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url, timeout=120_000)
        page.locator(".jp-Notebook").wait_for(timeout=120_000)
        page.wait_for_function("document.querySelector('.jp-Notebook-ExecutionIndicator') !== null", timeout=60_000)
        run_all_cells(page)  # Run > Run All Cells, as a student would
        page.wait_for_function(RENDERED[lesson], timeout=400_000)
        text = page.locator(".jp-Notebook").inner_text()
        if os.environ.get("KIT_SCREENSHOTS"):
            page.locator(".jp-OutputArea-output").last.scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(os.environ["KIT_SCREENSHOTS"], f"jupyterlab_{lesson[:2]}.png"))
    assert "Error displaying widget" not in text
    assert "Traceback" not in text
    # JupyterLab itself logs nothing wrong about our widgets or cells
    assert not [e for e in errors if "widget" in e.lower() or "seird" in e.lower() or "anywidget" in e.lower()], errors


def test_the_webcam_detector_runs_on_the_device_in_jupyterlab(tmp_path):
    """The live detector in a student's JupyterLab: the page detects (ONNX Runtime Web in its
    workers; its files come through the widget), the kernel counts the people."""
    import nbformat

    from .conftest import require_models
    from .test_browser_mask_detector import camera_args

    require_browser()
    require_models()
    from kit.vision.live.demo import demo_frames, write_y4m

    camera = write_y4m(demo_frames(60), tmp_path / "faces.y4m")
    root = tmp_path / "course"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from widgets.webcam_detector import WebcamDetector\n\nWebcamDetector()")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "camera.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    base = f"http://127.0.0.1:{port}"
    with server(cmd, f"{base}/api/status?token={token}", tmp_path / "lab.log", cwd=root, env=env, timeout=120), \
            chromium(camera_args(camera), permissions=["camera"]) as page:
        page.set_viewport_size({"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/lab/tree/camera.ipynb?token={token}", timeout=120_000)
        page.locator(".jp-Notebook").wait_for(timeout=120_000)
        page.wait_for_function("document.querySelector('.jp-Notebook-ExecutionIndicator') !== null", timeout=60_000)
        run_all_cells(page)
        page.locator(".kit-cam .start").wait_for(timeout=180_000)
        assert page.locator(".kit-cam .runon").input_value() == "device"
        page.locator(".kit-cam .start").click()
        page.wait_for_function("Number(document.querySelector('.kit-cam').dataset.tracked || 0) >= 5", timeout=180_000)
        assert page.evaluate("document.querySelector('.kit-cam').dataset.worker") == "two stages"
        assert "No Mask: 1" in page.locator(".kit-cam .counts").text_content()
        if os.environ.get("KIT_SCREENSHOTS"):
            page.locator(".kit-cam").scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(os.environ["KIT_SCREENSHOTS"], "jupyterlab_webcam_device.png"))
        text = page.locator(".jp-Notebook").inner_text()
    assert "Error displaying widget" not in text and "Traceback" not in text
    assert not errors, errors
