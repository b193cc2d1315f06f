"""A class at the live mask detector: N visitors against one ``kit serve``, both modes.

For each mode (``device``: the page detects and sends the kernel its detections;
``server``: the page sends frames and the kernel detects) and each number of visitors, a
fresh Voila serves ``lessons/apps/mask_detector.ipynb`` as ``kit serve`` does, and N headless
Chromium pages (one browser context each, so each has its own cache: first visits) open it
with the fake camera playing the demo frames, choose the mode and press Start. Measured:

* seconds until each page showed the app, and until its first answered frame;
* answered frames/s per page over a window, and the round trip to the kernel (device mode:
  detections sent -> people counted; server mode: frame sent -> answer drawn); in device mode
  also how old a frame's people count is when it arrives (it waits up to ``report_ms`` to be
  sent with the frames after it);
* the server's cost: kernel CPU seconds per kernel-answered frame, Voila's own CPU per
  frame (it relays the messages), resident memory per kernel;
* the capacity this implies for a 2-core server at 15 frames/s per visitor, by CPU and by
  memory (24 GiB).

The pages run on this machine and share its cores with the server, so what the pages
achieve (frames/s) depends on how many pages this machine can run; the server's cost per
frame does not, and is what the capacity is computed from.

    python benchmarks/live_demo_load.py [--visitors 1,5,10,20] [--modes device,server]
        [--seconds 30] [--preheat N] [--report-ms MS] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "lessons" / "apps" / "mask_detector.ipynb"
CHROMIUM = os.environ.get("KIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
SERVER_CORES, VISITOR_FPS, SERVER_MEMORY_GB = 2, 15, 24


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_notebook(report_ms: int | None) -> Path:
    """The app as served, or a copy whose widget gathers ``report_ms`` of detections per message."""
    if report_ms is None:
        return APP
    import nbformat

    nb = nbformat.read(APP, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "WebcamDetector()" in cell.source:
            cell.source = cell.source.replace("WebcamDetector()", f"WebcamDetector(report_ms={int(report_ms)})")
    path = Path(tempfile.mkdtemp()) / APP.name
    nbformat.write(nb, path)
    return path


def start_voila(preheat: int, log: Path, app: Path = APP):
    import urllib.error

    from kit.course.offline import voila_command


    port = free_port()
    cmd, env = voila_command(app, port, preheat=preheat)
    proc = subprocess.Popen(cmd, cwd=app.parent, env={**os.environ, **env, "PYTHONPATH": str(REPO)},
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:  # a static file: asking for the app itself would start a kernel and run it
            urllib.request.urlopen(url + "voila/static/favicon.ico", timeout=2).close()
            return proc, url
        except urllib.error.HTTPError:  # answered, even if not found: the server is up
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"Voila did not answer within 120 s; see {log}")


def stop_voila(proc) -> None:
    import psutil

    family = psutil.Process(proc.pid).children(recursive=True)
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    for p in family:
        try:
            p.kill()
        except psutil.Error:
            pass


def kernels(proc) -> list:
    import psutil

    return [p for p in psutil.Process(proc.pid).children(recursive=True)
            if "ipykernel" in " ".join(p.cmdline())]


def cpu_seconds(processes) -> float:
    import psutil

    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def read(page, key: str, default="0"):
    return page.evaluate(f"(() => {{ const c = document.querySelector('.kit-cam');"
                         f" return c ? (c.dataset.{key} || '{default}') : '{default}'; }})()")


def one_run(browser, mode: str, visitors: int, seconds: float, preheat: int, report_ms, progress) -> dict:
    import psutil

    log = Path(tempfile.gettempdir()) / f"live_demo_load_{mode}_{visitors}.log"
    proc, url = start_voila(preheat, log, app_notebook(report_ms))
    contexts, pages, appeared, first = [], [], [], []
    try:
        if preheat:
            time.sleep(max(10.0, 4.0 * preheat))  # the pool fills before the class arrives
        began = time.perf_counter()
        for _ in range(visitors):  # everyone opens the page at once
            context = browser.new_context(permissions=["camera"])
            page = context.new_page()
            page.goto(url, wait_until="commit", timeout=600_000)
            contexts.append(context)
            pages.append(page)
        for i, page in enumerate(pages):
            try:
                page.locator(".kit-cam .start").wait_for(timeout=300_000)
            except Exception:  # say what the visitor saw instead, and go on with the next run
                text = page.evaluate("document.body ? document.body.innerText : ''")
                page.screenshot(path=str(Path(tempfile.gettempdir()) / f"live_demo_load_failed_{i}.png"))
                progress(f"{mode}, {visitors} visitors: page {i} showed no app; it said {text[-120:]!r}")
                return {"mode": mode, "visitors": visitors, "preheat": preheat, "report_ms": report_ms,
                        "failed": f"page {i} of {visitors} showed no app after 300 s: {text.strip()[-80:]}"}
            appeared.append(time.perf_counter() - began)
            if mode == "server":
                page.locator(".kit-cam .runon").select_option("server")
            page.locator(".kit-cam .start").click()
        for page in pages:
            page.wait_for_function("Number(document.querySelector('.kit-cam').dataset.results || 0) >= 1",
                                   timeout=600_000)
            first.append(time.perf_counter() - began)
        progress(f"{mode}, {visitors} visitor(s): all answered after {max(first):.1f} s; measuring {seconds:.0f} s")
        time.sleep(3)  # past the first frames
        counted = "tracked" if mode == "device" else "results"
        kernel_procs = kernels(proc)
        server = psutil.Process(proc.pid)
        r0 = [int(read(p, "results")) for p in pages]
        k0 = [int(read(p, counted)) for p in pages]
        m0 = [int(read(p, "messages")) for p in pages]
        c0, s0, t0 = cpu_seconds(kernel_procs), cpu_seconds([server]), time.perf_counter()
        time.sleep(seconds)
        r1 = [int(read(p, "results")) for p in pages]
        k1 = [int(read(p, counted)) for p in pages]
        m1 = [int(read(p, "messages")) for p in pages]
        c1, s1, t1 = cpu_seconds(kernel_procs), cpu_seconds([server]), time.perf_counter()
        rss = []
        for k in kernel_procs:
            try:
                rss.append(k.memory_info().rss / 2**20)
            except psutil.Error:
                pass
        latencies = [v for p in pages for v in json.loads(read(p, "latencies", "[]"))]
        ages = [v for p in pages for v in json.loads(read(p, "ages", "[]"))]
        page_ms = [int(read(p, "pageMs")) for p in pages] if mode == "device" else []
        downloaded = [int(read(p, "downloaded")) for p in pages] if mode == "device" else []
    finally:
        for context in contexts:
            context.close()
        stop_voila(proc)
    elapsed = t1 - t0
    answered = sum(k1) - sum(k0)
    fps = [(b - a) / elapsed for a, b in zip(r0, r1)]
    return {
        "mode": mode, "visitors": visitors, "preheat": preheat, "report_ms": report_ms,
        "appear_s_max": round(max(appeared), 1), "first_answer_s_max": round(max(first), 1),
        "first_answer_s_median": round(float(np.median(first)), 1),
        "fps_per_page_median": round(float(np.median(fps)), 2), "fps_per_page_min": round(min(fps), 2),
        "fps_all_pages": round(sum(fps), 1),
        "round_trip_p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        "round_trip_p95_ms": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
        "count_age_p95_ms": round(float(np.percentile(ages, 95)), 1) if ages else None,
        "kernel_cpu_ms_per_frame": round((c1 - c0) * 1000 / max(answered, 1), 2),
        "voila_cpu_ms_per_frame": round((s1 - s0) * 1000 / max(answered, 1), 2),
        # device mode: the cost of one detections message (what a visitor costs does not depend
        # on the frames a message carries: report_ms sets the messages per second)
        "kernel_cpu_ms_per_message": round((c1 - c0) * 1000 / (sum(m1) - sum(m0)), 2) if sum(m1) > sum(m0) else None,
        "server_cpu_ms_per_visitor_s": round(((c1 - c0) + (s1 - s0)) * 1000 / elapsed / visitors, 1),
        "kernel_rss_mb": round(float(np.mean(rss)), 0) if rss else None, "kernels": len(kernel_procs),
        "page_ms_median": float(np.median(page_ms)) if page_ms else None,
        "first_visit_download_mb": round(float(np.median(downloaded)) / 1e6, 1) if downloaded else None,
    }


def capacity(row: dict) -> dict:
    """Visitors one 2-core, 24 GiB server could take at 15 frames/s each, by CPU and by memory."""
    if "failed" in row:
        return {}
    per_visitor_cpu = (row["kernel_cpu_ms_per_frame"] + row["voila_cpu_ms_per_frame"]) / 1000 * VISITOR_FPS
    by_cpu = SERVER_CORES / per_visitor_cpu if per_visitor_cpu > 0 else float("inf")
    by_memory = SERVER_MEMORY_GB * 1024 / row["kernel_rss_mb"] if row["kernel_rss_mb"] else float("inf")
    return {"capacity_by_cpu": int(by_cpu), "capacity_by_memory": int(by_memory),
            "capacity": int(min(by_cpu, by_memory))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--visitors", default="1,5,10,20", help="numbers of visitors, comma-separated")
    p.add_argument("--modes", default="device,server", help="device, server or both")
    p.add_argument("--seconds", type=float, default=30.0, help="measuring window per run")
    p.add_argument("--preheat", type=int, default=0, help="kernels waiting with the app already run (kit serve --preheat)")
    p.add_argument("--report-ms", type=int, help="device mode: milliseconds of detections per message (default: the "
                                                 "widget's)")
    p.add_argument("--json", metavar="OUT")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright
    from tqdm import tqdm

    from kit.vision.live.demo import demo_frames, write_y4m

    camera = write_y4m(demo_frames(60), Path(tempfile.mkdtemp()) / "faces.y4m")
    runs = [(m, int(n)) for m in args.modes.split(",") for n in args.visitors.split(",")]
    rows = []
    with sync_playwright() as pw, tqdm(runs, desc="load runs", unit="run") as bar:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=CHROMIUM_ARGS + [f"--use-file-for-fake-video-capture={camera}"])
        try:
            for mode, n in bar:
                row = one_run(browser, mode, n, args.seconds, args.preheat, args.report_ms, bar.write)
                row.update(capacity(row))
                rows.append(row)
                if args.json:  # kept as the runs finish
                    Path(args.json).write_text(json.dumps({"rows": rows, "cpus": os.cpu_count()}, indent=1))
        finally:
            browser.close()
    columns = ["mode", "visitors", "report_ms", "appear_s_max", "first_answer_s_max", "fps_per_page_median", "fps_all_pages",
               "round_trip_p50_ms", "round_trip_p95_ms", "count_age_p95_ms", "kernel_cpu_ms_per_message",
               "server_cpu_ms_per_visitor_s", "kernel_cpu_ms_per_frame", "voila_cpu_ms_per_frame",
               "kernel_rss_mb", "capacity_by_cpu", "capacity_by_memory", "capacity"]
    import pandas as pd

    table = pd.DataFrame(rows)
    print(table.reindex(columns=columns + (["failed"] if "failed" in table else [])).to_string(index=False))
    done = table[~table.get("failed", pd.Series(index=table.index, dtype=object)).notna()] if len(table) else table
    for n in sorted(set(done["visitors"])) if len(done) else []:
        both = done[done.visitors == n].set_index("mode")
        if {"device", "server"} <= set(both.index):
            ratio = both.loc["server", "kernel_cpu_ms_per_frame"] / both.loc["device", "kernel_cpu_ms_per_frame"]
            print(f"{n} visitor(s): the server mode costs the kernel {ratio:.0f}x the CPU per frame of the device "
                  f"mode ({both.loc['server', 'kernel_cpu_ms_per_frame']:.1f} against "
                  f"{both.loc['device', 'kernel_cpu_ms_per_frame']:.2f} ms)")
    print(f"capacity: visitors at {VISITOR_FPS} frames/s on a {SERVER_CORES}-core, {SERVER_MEMORY_GB} GiB server "
          f"(kernel + Voila CPU per frame; kernel resident memory). The pages ran on this machine's "
          f"{os.cpu_count()} cores beside the server.")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "cpus": os.cpu_count(), "argv": sys.argv[1:]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
