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
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"voila-{port}.log", "w+")
    proc = subprocess.Popen(cmd, cwd=notebook.parent, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **served_env, **(env or {})})
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"voila exited early:\n{log.read()[-3000:]}")
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("voila did not start in time")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
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
