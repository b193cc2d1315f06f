"""The mask detector in the visitor's page, in headless Chromium: the static export answers
with every request outside its folder blocked, and the page's pipeline gives the Python
pipeline's answers on the same frames (boxes at IoU >= 0.9 and labels, for >= 98 % of faces).
Figures are printed and kept in build/browser-latency.json, never asserted as timings."""
from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from .browser import REPO, chromium, free_port, require_browser
from .conftest import require_models
from .test_browser_mask_detector import camera_args, report

pytestmark = pytest.mark.browser
SHARED = REPO.parent / "shared" / "data" / "masks" / "voc"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_browser()
    require_models()
    from widgets.page_inference import export_static_app

    return export_static_app(tmp_path_factory.mktemp("static") / "mask_detector")


@contextmanager
def static_server(folder: Path):
    """``python -m http.server`` on loopback, as anyone would serve the folder."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        import urllib.request

        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.kill()
        proc.wait(10)


def only(page, origin: str) -> list:
    """Block every request that does not go to ``origin``; returns the list of blocked URLs."""
    blocked = []

    def route(r):
        if r.request.url.startswith(origin) or r.request.url.startswith(("blob:", "data:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.context.route("**/*", route)
    return blocked


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    require_browser()
    require_models()
    from kit.vision.live.demo import demo_frames, write_y4m

    return write_y4m(demo_frames(60), tmp_path_factory.mktemp("camera") / "faces.y4m")


def test_the_static_page_detects_on_the_camera_with_the_network_blocked(site, camera):
    with static_server(site) as url, chromium(camera_args(camera), permissions=["camera"]) as page:
        blocked = only(page, url)
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url + "index.html")
        page.wait_for_function("!document.querySelector('.start').disabled", timeout=120_000)
        page.locator(".start").click()
        page.wait_for_function("Number(document.querySelector('.kit-page').dataset.results) >= 20", timeout=120_000)
        counts = page.locator(".counts").text_content()
        assert "No Mask: 1" in counts and "Mask: 2" in counts, counts  # the demo frames: two masked, one bare
        assert "error" not in page.locator(".status").get_attribute("class")
        assert "needs the kernel" in page.locator(".note").text_content()
        fps = page.locator(".fps").text_content()
        if os.environ.get("KIT_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["KIT_SCREENSHOTS"], "static_mask_detector.png"),
                            full_page=True)
        report("static page, fake camera", {"shown": fps})
        assert errors == [] and blocked == []  # it asked for nothing outside its folder


def parity_frames() -> list:
    """Frames both pipelines see: the demo frames, a stream of people passing, generated
    crowds (small faces: the zoom pass, area resizing by fractions), and real held-out VOC
    scenes scaled to a webcam's width when ../shared is there."""
    import cv2

    from kit.vision.live.demo import crowd_scene, demo_frames, people_stream

    frames = demo_frames(10) + people_stream(30)[0][::2] + [crowd_scene(seed=s, n=18)[0] for s in range(4)]
    if SHARED.is_dir():
        from kit.vision.splits import held_out_scenes

        held = set(held_out_scenes())
        paths = sorted(p for p in (SHARED / "images").iterdir() if p.stem in held)[:40]
        for path in paths:
            image = cv2.imread(str(path))
            scale = min(1.0, 640 / image.shape[1])
            frames.append(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    return frames


def test_the_page_and_the_kernel_give_the_same_answers(site):
    from kit.vision.faces.boxes import match_boxes
    from kit.vision.faces.detectors import LIVE_MIN_FACE
    from kit.vision.live.pipeline import MaskDetector

    python = MaskDetector("centerface", "default", min_face=LIVE_MIN_FACE)
    frames = parity_frames()
    faces = matched = same_label = extra = 0
    page_ms = []
    with static_server(site) as url, chromium() as page:
        only(page, url)
        page.goto(url + "index.html")
        page.wait_for_function("window.kitMaskDetector !== undefined", timeout=120_000)
        for frame in frames:
            rgb = np.ascontiguousarray(frame[:, :, ::-1])
            h, w = rgb.shape[:2]
            answer = page.evaluate("""async ([b64, w, h]) => {
                const bin = atob(b64), bytes = new Uint8Array(bin.length);
                for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
                return await window.kitMaskDetector.pipeline.process(bytes, w, h); }""",
                                   [base64.b64encode(rgb.tobytes()).decode(), w, h])
            page_ms.append(answer["timings"]["total_ms"])
            kernel = python.process(frame).faces
            found = answer["faces"]
            pairs = match_boxes([f.box for f in kernel], [f["box"] for f in found], min_iou=0.9)
            faces += len(kernel)
            matched += len(pairs)
            extra += len(found) - len(pairs)
            same_label += sum(kernel[i].label == found[j]["label"] for i, j, _ in pairs)
    figures = {"frames": len(frames), "faces": faces, "boxes_matched_iou_0.9": round(matched / faces, 4),
               "labels_equal": round(same_label / max(matched, 1), 4), "page_only_faces": extra,
               "page_ms_p50": round(float(np.median(page_ms)), 1), "with_voc_scenes": SHARED.is_dir()}
    report("parity: page pipeline against the Python pipeline", figures)
    assert faces >= 40
    assert matched / faces >= 0.98 and same_label / matched >= 0.98 and extra <= 0.02 * faces, figures
