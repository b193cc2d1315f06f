"""The HTML reports of `kit course run` open offline: no CDN script, a static picture for
each kit widget, a note for any other widget, links to sibling reports. The browser
test opens a report with the network blocked and fails on any request that leaves the
file."""
from __future__ import annotations

import os

import nbformat
import pytest
import yaml

from kit.course import plan, run_course
from kit.course.offline import RERUN_NOTE, WIDGET_NOTE, WIDGET_VIEW, prepare_for_report

from .browser import chromium, require_browser


def _report_lesson(folder):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A report\nNext: [the forecasting lesson](03_forecasting.ipynb)")]
    param = nbformat.v4.new_code_cell("days = 120")
    param.metadata["tags"] = ["parameters"]
    nb.cells += [param,
                 nbformat.v4.new_code_cell("from widgets.seird_explorer import SEIRDExplorer\n"
                                           "SEIRDExplorer(country='Italy', days=days)"),
                 nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.IntSlider(3)"),
                 nbformat.v4.new_code_cell("from kit.progress import show_progress\nprint(show_progress())")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "00_report.ipynb")
    (folder / "profiles.yaml").write_text(yaml.safe_dump({"profiles": {"quick": {"lessons": {}}}}))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lessons")
    _report_lesson(folder)
    out = tmp_path_factory.mktemp("out")
    [record] = run_course(plan("quick", None, out, {}, folder))
    assert record["status"] == "ok", record["error"]
    return out


def test_widget_views_become_pictures_or_a_note():
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"state": {}}})
    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    nb.cells = [nbformat.v4.new_markdown_cell("see [lesson 2](02_seird_simulation.ipynb#fit) and "
                                              "[a notebook elsewhere](https://x.org/a.ipynb)"),
                nbformat.v4.new_code_cell(outputs=[
                    nbformat.v4.new_output("display_data", {WIDGET_VIEW: view, "text/plain": "SEIRDExplorer(country='I…",
                                                            "text/html": "<img src='data:image/png;base64,AA'/>"}),
                    nbformat.v4.new_output("display_data", {WIDGET_VIEW: view, "text/plain": "IntSlider(value=3)"}),
                    nbformat.v4.new_output("display_data", {WIDGET_VIEW: view, "text/plain": "fits: 100%|##| 3/3"}),
                    nbformat.v4.new_output("display_data", {"text/markdown": "- [EDA](01_covid_eda.ipynb) — `01`",
                                                            "text/html": '<a href="01_covid_eda.ipynb">EDA</a>'})])]
    prepare_for_report(nb)
    assert "widgets" not in nb.metadata
    assert "(02_seird_simulation.html#fit)" in nb.cells[0].source and "https://x.org/a.ipynb" in nb.cells[0].source
    picture, slider, bar, index = (o["data"] for o in nb.cells[1].outputs)
    assert "(01_covid_eda.html)" in index["text/markdown"] and 'href="01_covid_eda.html"' in index["text/html"]
    assert WIDGET_VIEW not in picture and picture["text/html"].startswith("<img")
    assert slider == {"text/plain": WIDGET_NOTE}
    assert bar == {"text/plain": "fits: 100%|##| 3/3"}


def test_a_headless_run_draws_no_progress_bars_and_references_no_cdn(report):
    html = (report / "00_report.html").read_text()
    for cdn in ("cdnjs.cloudflare.com", "cdn.jsdelivr.net", "unpkg.com", "require.min.js", "MathJax"):
        assert cdn not in html
    assert "data:image/png;base64," in html  # the explorer's picture
    assert WIDGET_NOTE.split(":")[0] in html
    assert "03_forecasting.html" in html
    nb = nbformat.read(report / "00_report.ipynb", as_version=4)
    assert nb.cells[-2].outputs[0]["text"].strip() == "False"  # KIT_PROGRESS=0 in headless runs
    assert RERUN_NOTE not in html  # a report has no cell to run


def test_a_saved_run_reopened_without_its_kernel_shows_pictures_not_widget_errors(report):
    nb = nbformat.read(report / "00_report.ipynb", as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", []) if o.get("data")]
    assert "widgets" not in nb.metadata
    assert not any(WIDGET_VIEW in o["data"] for o in outputs)  # nothing JupyterLab would look up a model for
    explorer = next(o["data"] for o in outputs if "data:image/png" in str(o["data"].get("text/html", "")))
    assert RERUN_NOTE in explorer["text/html"] and explorer["text/plain"] == RERUN_NOTE


@pytest.mark.browser
def test_the_report_opens_with_the_network_blocked(report):
    require_browser()
    path = report / "00_report.html"
    leaving = []
    with chromium(["--no-proxy-server"]) as page:
        def guard(route):
            if route.request.url.startswith(("file://", "data:")):
                route.continue_()
            else:
                leaving.append(route.request.url)
                route.abort()
        page.route("**/*", guard)
        failed = []
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        text = page.locator("body").inner_text()
        widths = page.locator("img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
        if os.environ.get("KIT_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["KIT_SCREENSHOTS"], "report.png"), full_page=True)
    assert not leaving, f"the report asked the network for: {leaving}"
    assert not failed, failed
    assert "Error displaying widget" not in text
    assert widths and min(widths) > 300  # the explorer's static picture is drawn
