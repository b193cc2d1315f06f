"""Helpers for browser tests: a Voila server on loopback and headless Debian Chromium
driven by Playwright (no browser download: ``executable_path=/usr/bin/chromium``)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("KIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[1]


def require_browser():
    """Skip without Chromium, unless KIT_REQUIRE_BROWSER=1 (CI sets it), then fail."""
    have = Path(CHROMIUM).exists() or shutil.which(CHROMIUM)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        have = False
    if not have:
        message = f"browser tests need {CHROMIUM} (apt-get install chromium) and playwright"
        if os.environ.get("KIT_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def voila(notebook: Path, timeout: float = 90.0, env: dict | None = None):
    """Serve one notebook with Voila on 127.0.0.1 and yield its URL."""
    from kit.course.offline import voila_command

    port = free_port()
    cmd, served_env = voila_command(notebook, port)  # as `kit serve` runs it
    cmd.append("--VoilaConfiguration.show_tracebacks=True")
    url = f"http://127.0.0.1:{port}/"
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"voila-{port}.log"
    with server(cmd, url, log, cwd=notebook.parent, env={**os.environ, **served_env, **(env or {})},
                timeout=timeout):
        yield url


@contextmanager
def server(cmd: list, ready_url: str, log_path: Path, *, cwd, env: dict, timeout: float = 90.0):
    """Run a local server (Voila, JupyterLab) until ``ready_url`` answers; stop it afterwards.
    Its output goes to ``log_path``; the end of it is in the error when it does not start."""
    log = open(log_path, "w+")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None or time.time() > deadline:
                log.seek(0)
                raise RuntimeError(f"{Path(cmd[2] if len(cmd) > 2 else cmd[0]).name} did not start:\n"
                                   f"{log.read()[-3000:]}")
            try:
                urllib.request.urlopen(ready_url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def chromium(extra_args=(), permissions=()):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + list(extra_args))
        context = browser.new_context(permissions=list(permissions))
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def run_all_cells(page, attempts: int = 3) -> None:
    """Run > Run All Cells in JupyterLab, as a student would, and make sure it started.

    Right after a notebook opens, the menu item can still be disabled (the notebook is not
    yet the current widget) and a click on it does nothing; the click is repeated until a
    cell shows it is queued or has run.
    """
    started = ("[...document.querySelectorAll('.jp-InputPrompt')]"
               ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))")
    for attempt in range(attempts):
        page.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(started, timeout=30_000)
            return
        except Exception:  # noqa: BLE001 - playwright's timeout: try the menu again
            page.keyboard.press("Escape")
            if attempt == attempts - 1:
                raise
