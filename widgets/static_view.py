"""What a widget shows where no kernel runs: the course's exported HTML reports.

A live widget needs a kernel; an HTML report has none, so a widget alone would leave a
blank space there. Each kit widget therefore adds a static picture of its current state
(``text/html``: a plot as an embedded PNG, a table, a short note) to its display data.
JupyterLab and Voila still draw the live widget (their widget renderer is preferred);
the report export (:mod:`kit.course.report`) drops the widget view and keeps the picture.
"""
from __future__ import annotations

import base64
import html
import io


def png_bytes(fig, dpi: int = 96) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed (it never reaches a notebook
    backend, so it is drawn the same in JupyterLab, Voila and a headless run)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def image_html(png: bytes, alt: str) -> str:
    """An ``<img>`` with the PNG embedded (a report must not fetch anything)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" style="max-width:100%" src="data:image/png;base64,{data}"/>'


def note_html(text: str) -> str:
    return f'<p style="color:#555;font-style:italic">{html.escape(text)}</p>'


class StaticView:
    """Mixin for a widget: ``static_html()`` returns the picture of its state."""

    def static_html(self) -> str:  # pragma: no cover - every widget overrides it
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # ipywidgets returns the data; anywidget returns (data, metadata)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = self.static_html()
        return bundle
