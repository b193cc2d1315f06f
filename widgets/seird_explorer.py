"""The SEIRD explorer: sliders on the left, live curves on the right.

The browser side (``seird_explorer.js``) draws sliders and an SVG chart; a slider
move is debounced in the browser and sent as one ``params`` update; Python runs the
simulation (well under a millisecond) and sends back the series, which the browser
draws by updating the existing SVG paths, so nothing flickers.
"""
from __future__ import annotations

import math
import pathlib

import anywidget
import numpy as np
import traitlets

from kit.epi import ParameterError, get_model, peak, simulate
from kit.epi.demography import country_parameters, demography

from .browser_state import KernelOutputs
from .static_view import StaticView, image_html, note_html, png_bytes

_HERE = pathlib.Path(__file__).parent

EXPLORER_SCENARIO = {"r0_start": 3.2, "r0_end": 0.9, "x0": 90.0}
MAX_DAYS = (10, 1000)
SLIDERS = [
    {"name": "r0_start", "label": "R0 before the intervention", "min": 0.5, "max": 6.0, "step": 0.1},
    {"name": "r0_end", "label": "R0 after the intervention", "min": 0.3, "max": 4.0, "step": 0.05},
    {"name": "x0", "label": "intervention day", "min": 0, "max": 300, "step": 1},
    {"name": "incubation_days", "label": "incubation period (days)", "min": 1, "max": 14, "step": 0.5},
    {"name": "infectious_days", "label": "infectious period (days)", "min": 2, "max": 21, "step": 0.5},
    {"name": "beds_per_100k", "label": "ICU beds per 100k", "min": 0, "max": 40, "step": 0.5},
]


class SEIRDExplorer(KernelOutputs, StaticView, anywidget.AnyWidget):
    """Interactive SEIRD-ICU simulation.

    Parameters
    ----------
    country : str
        Age profile (and default ICU beds) from the demography table.
    days : int
        Simulated horizon.
    **params
        Initial slider values (r0_start, r0_end, x0, incubation_days, infectious_days,
        beds_per_100k) and any other model parameter held fixed (k, initial_exposed...).

    Examples
    --------
    >>> SEIRDExplorer(country="Italy", r0_start=3.2, x0=70)   # doctest: +SKIP
    """

    _esm = _HERE / "seird_explorer.js"
    _css = _HERE / "seird_explorer.css"

    KERNEL_OUTPUTS = frozenset({"sliders", "countries", "series", "summary", "error"})  # never from the browser
    sliders = traitlets.List(SLIDERS).tag(sync=True)
    countries = traitlets.List([]).tag(sync=True)
    country = traitlets.Unicode("Italy").tag(sync=True)
    params = traitlets.Dict({}).tag(sync=True)
    series = traitlets.Dict({}).tag(sync=True)
    summary = traitlets.Dict({}).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    days = traitlets.Int(300).tag(sync=True)

    # Everything a browser sends is checked before any simulation runs: a comm message can
    # carry any value (days = 3,000,000 would keep the kernel busy and send back 100 MB).
    @traitlets.validate("days")
    def _check_days(self, proposal):
        value = proposal["value"]
        if not MAX_DAYS[0] <= value <= MAX_DAYS[1]:
            raise traitlets.TraitError(f"days must be in {MAX_DAYS[0]}..{MAX_DAYS[1]}, got {value!r}")
        return value

    @traitlets.validate("country")
    def _check_country(self, proposal):
        if proposal["value"] not in set(demography().index):
            raise traitlets.TraitError(f"unknown country {proposal['value']!r:.60}")
        return proposal["value"]

    @traitlets.validate("params")
    def _check_params(self, proposal):
        ranges = {s["name"]: (s["min"], s["max"]) for s in SLIDERS}
        checked = {}
        for name, value in proposal["value"].items():
            if name not in ranges:
                raise traitlets.TraitError(f"unknown parameter {name!r:.60}; sliders: {', '.join(ranges)}")
            lo, hi = ranges[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not lo <= value <= hi:
                raise traitlets.TraitError(f"{name} must be a number in {lo}..{hi}, got {value!r:.40}")
            checked[name] = float(value)
        return checked

    @traitlets.validate("sliders", "countries")
    def _check_fixed(self, proposal):
        # what the kernel tells the browser; the browser may not redefine it
        expected = SLIDERS if proposal["trait"].name == "sliders" else list(demography().index)
        if proposal["value"] not in (expected, []):
            raise traitlets.TraitError(f"{proposal['trait'].name} is set by the kernel")
        return proposal["value"]

    def __init__(self, country: str = "Italy", days: int = 300, **params):
        # The model's own defaults for what is not country-specific, with the explorer's story on
        # top: an intervention on day 90. p_IC, p_CD and ICU beds come from the country.
        model_defaults = get_model("seird-icu").defaults()
        names = {s["name"] for s in SLIDERS}
        self._fixed = {**{k: model_defaults[k] for k in ("k", "initial_exposed")},
                       **{k: v for k, v in params.items() if k not in names}}
        chosen = {**{k: model_defaults[k] for k in ("incubation_days", "infectious_days")}, **EXPLORER_SCENARIO,
                  **{k: v for k, v in params.items() if k in names}}
        if "beds_per_100k" not in chosen:
            chosen["beds_per_100k"] = country_parameters(country)["beds_per_100k"]
        super().__init__(countries=list(demography().index), country=country, days=days,
                         params={k: float(v) for k, v in chosen.items() if k not in self._fixed})
        self._recompute()

    @traitlets.observe("params", "country", "days")
    def _on_change(self, change):
        self._recompute()

    def _recompute(self) -> None:
        try:
            base = country_parameters(self.country)
            base.pop("beds_per_100k")
            sim = simulate("seird-icu", days=int(self.days), **{**base, **self._fixed, **self.params})
        except (ParameterError, ValueError) as exc:
            self.error = str(exc)
            return
        frame = sim.frame
        info = peak(sim)
        self.error = ""
        self.summary = {
            "peak_day": info["day"], "peak_critical": round(info["height"]),
            "beds_at_peak": round(info["beds_at_peak"]), "over_capacity": info["over_capacity"],
            "days_over_capacity": info["days_over_capacity"], "deaths": round(float(frame["D"].iloc[-1])),
            "population": round(sim.parameters["population"]), "p_ic": round(sim.parameters["p_ic"], 4),
            "p_cd": round(sim.parameters["p_cd"], 4),
        }
        self.series = {name: np.round(frame[name].to_numpy(), 3).tolist()
                       for name in ("S", "E", "I", "C", "R", "D", "beds", "R0")}

    def simulation(self):
        """The current simulation (for plotting it with kit.epi.plots in a notebook)."""
        base = country_parameters(self.country)
        base.pop("beds_per_100k")
        return simulate("seird-icu", days=int(self.days), **{**base, **self._fixed, **self.params})

    def static_html(self) -> str:
        from kit.epi.plots import plot_overview

        if self.error:
            return note_html(f"SEIRD explorer: {self.error}")
        m = self.summary
        settings = ", ".join(f"{s['label']} {self.params[s['name']]:g}" for s in SLIDERS if s["name"] in self.params)
        fig = plot_overview(self.simulation(), title=f"SEIRD-ICU, {self.country} age profile")
        return (image_html(png_bytes(fig), "the SEIRD explorer's curves")
                + f"<p>ICU peak on day {m['peak_day']}: {m['peak_critical']:,} critical patients for "
                  f"{m['beds_at_peak']:,} beds; deaths after {self.days} days: {m['deaths']:,} of "
                  f"{m['population']:,} people.</p>"
                + note_html(f"A static copy of the explorer ({settings}); open the lesson in JupyterLab to move "
                            f"the sliders."))
