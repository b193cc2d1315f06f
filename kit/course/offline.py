"""The course without the internet: HTML reports and Voila apps that fetch nothing.

nbconvert's lab template loads require.js, MathJax, Mermaid and the widget embedder from
public CDNs, and a widget output without its kernel renders as a blank space. Our
template (``jupyter_data/nbconvert/templates/offline-report``) loads nothing from the
network, and :func:`prepare_for_report` replaces each widget view by the static picture the
kit's widgets put beside it (``widgets.static_view``) or, for any other widget, by a
one-line note. Links between lessons point to the sibling report, not the notebook.
Voila's lab template links Font Awesome from a CDN (its own bundle already carries it);
the apps are served with ``jupyter_data/voila/templates/offline``, which drops the link.
"""
from __future__ import annotations

import re
from pathlib import Path

from kit.files import atomic_write

JUPYTER_DATA = Path(__file__).parent / "jupyter_data"
REPORT_TEMPLATE = "offline-report"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC_TYPES = ("text/html", "image/png", "image/svg+xml", "image/jpeg", "text/markdown")
WIDGET_NOTE = "[interactive widget: open this lesson in JupyterLab, or its app with `kit serve`, to use it]"
RERUN_NOTE = "[a live widget: run this cell to start it]"
# a widget's default text/plain is its repr: "VBox(children=(...", "SEIRDExplorer(country=..."
_WIDGET_REPR = re.compile(r"^[A-Za-z_]\w*\((children|layout|value|description|country|detector|[a-z_]+)=")
_LESSON_LINK = re.compile(r"\]\((\d\d[a-z]?_[\w-]+)\.ipynb(#[^)]*)?\)")
_LESSON_HREF = re.compile(r'href="(\d\d[a-z]?_[\w-]+)\.ipynb(#[^"]*)?"')


def prepare_for_report(nb) -> None:
    """In place: widget views → static pictures or a note; lesson links (in Markdown
    cells and in Markdown/HTML outputs such as the welcome lesson's index) → reports."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _to_report_links(cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data:
                continue
            for kind in ("text/markdown", "text/html"):
                if isinstance(data.get(kind), str):
                    data[kind] = _to_report_links(data[kind])
            if isinstance(data.get("text/html"), str):  # a report has no cell to run
                data["text/html"] = data["text/html"].replace(
                    f'<p style="color:#555;font-style:italic">{RERUN_NOTE}</p>', "")
            if data.get("text/plain") == RERUN_NOTE:
                data["text/plain"] = WIDGET_NOTE
            if WIDGET_VIEW not in data:
                continue
            del data[WIDGET_VIEW]
            if not any(t in data for t in STATIC_TYPES) and _WIDGET_REPR.match(str(data.get("text/plain", ""))):
                data["text/plain"] = WIDGET_NOTE


def strip_widget_views(nb) -> None:
    """In place, for an executed notebook that will be reopened later: a widget view whose
    kernel is gone shows "Error displaying widget: model not found" in JupyterLab, so each
    is replaced by its static picture (the kit's widgets add one) with a line saying to run
    the cell, and the saved widget state is dropped."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data or WIDGET_VIEW not in data:
                continue
            del data[WIDGET_VIEW]
            if isinstance(data.get("text/html"), str):
                data["text/html"] = f'<p style="color:#555;font-style:italic">{RERUN_NOTE}</p>' + data["text/html"]
            data["text/plain"] = RERUN_NOTE


def _to_report_links(text: str) -> str:
    text = _LESSON_LINK.sub(lambda m: f"]({m.group(1)}.html{m.group(2) or ''})", text)
    return _LESSON_HREF.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', text)


def export_html(nb_path: Path, html_path: Path) -> None:
    """Write the offline report of an executed notebook (atomically)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(nb_path, as_version=4)
    prepare_for_report(nb)
    exporter = HTMLExporter(template_name=REPORT_TEMPLATE,
                            extra_template_basedirs=[str(JUPYTER_DATA / "nbconvert" / "templates")])
    body, _ = exporter.from_notebook_node(nb)
    atomic_write(html_path, body)


# A visitor's kernel is freed this long after its last activity once its page is gone
# (closing a Voila tab sends a shutdown request Voila 0.5 refuses for want of an _xsrf
# token, so without culling every visit left a 780 MB kernel behind).
CULL_IDLE_SECONDS = 120
CULL_EVERY_SECONDS = 30


def voila_command(target: Path, port: int, ip: str = "127.0.0.1", token: str | None = None,
                  allow_remote: bool | None = None, cull_idle: int = CULL_IDLE_SECONDS,
                  preheat: int = 0) -> tuple[list, dict]:
    """The Voila command line and the environment additions that serve ``target`` (an app
    notebook or the apps folder) with the offline template (no CDN requests), exactly on
    ``port`` (no silent move to another), with the Host header checked
    (:mod:`kit.course.voila_app`; remote hosts allowed when ``allow_remote``, by default
    when ``ip`` is not a loopback address) and idle kernels of closed pages culled.
    ``preheat`` kernels per app wait with the app already run (Voila's kernel pool), so the
    next visitors' pages appear at once (``benchmarks/live_demo_load.py`` measures it)."""
    import ipaddress
    import os
    import sys

    if allow_remote is None:
        try:
            allow_remote = not ipaddress.ip_address(ip).is_loopback
        except ValueError:
            allow_remote = ip not in ("localhost",)
    cmd = [sys.executable, "-m", "kit.course.voila_app", str(target), f"--port={port}", "--no-browser",
           f"--Voila.ip={ip}", "--Voila.port_retries=0", "--template=offline",
           f"--KitVoila.allow_remote_access={allow_remote}",
           f"--MappingKernelManager.cull_idle_timeout={int(cull_idle)}",
           f"--MappingKernelManager.cull_interval={min(CULL_EVERY_SECONDS, max(1, int(cull_idle) // 2))}",
           "--MappingKernelManager.cull_connected=False"]
    if token:
        cmd.append(f"--ServerApp.token={token}")
    if preheat:
        cmd += ["--VoilaConfiguration.preheat_kernel=True", f"--VoilaConfiguration.default_pool_size={int(preheat)}",
                "--VoilaConfiguration.multi_kernel_manager_class=kit.course.voila_app.PoolAwareKernelManager"]
    paths = [str(JUPYTER_DATA), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    return cmd, {"JUPYTER_PATH": os.pathsep.join(paths)}
