"""The SEIRD explorer's Python side: slider changes recompute, bad values show a message."""
from __future__ import annotations

from widgets.seird_explorer import SLIDERS, SEIRDExplorer


def test_explorer_updates_series_and_summary_when_sliders_move():
    w = SEIRDExplorer(country="Italy", r0_start=3.2, r0_end=0.9, x0=100, days=250)
    assert set(w.series) == {"S", "E", "I", "C", "R", "D", "beds", "R0"}
    assert len(w.series["C"]) == 250 and w.error == ""
    before = dict(w.summary)
    assert before["over_capacity"] is True
    w.params = {**w.params, "x0": 80.0}  # act 20 days earlier
    assert w.summary["deaths"] < before["deaths"] and w.summary["over_capacity"] is False
    w.params = {**w.params, "beds_per_100k": 0.0}
    assert w.summary["over_capacity"] is True


def test_explorer_age_profile_changes_probabilities():
    w = SEIRDExplorer(country="Italy")
    italy = w.summary["p_ic"]
    w.country = "India"
    assert w.summary["p_ic"] < italy and w.summary["population"] > 1e9


def test_values_from_the_browser_are_checked_before_any_simulation():
    """A comm message can carry anything: days = 3,000,000 would keep the kernel busy for
    seconds and send back 100 MB. Out-of-range values are refused and nothing is recomputed."""
    import pytest
    import traitlets

    w = SEIRDExplorer(country="Italy")
    curve = list(w.series["C"])
    hostile = [("days", 3_000_000), ("days", 0), ("country", "../../etc"),
               ("params", {**w.params, "infectious_days": 0.0}), ("params", {**w.params, "x0": float("nan")}),
               ("params", {**w.params, "population": 1e12}), ("params", {**w.params, "r0_start": "3"}),
               ("sliders", [{"name": "x0", "min": 0, "max": 10**9, "step": 1}])]
    for name, value in hostile:
        with pytest.raises(traitlets.TraitError):
            setattr(w, name, value)
    assert w.series["C"] == curve and w.error == ""
    w.params = {**w.params, "infectious_days": 9.0}
    assert w.error == "" and len(w.series["C"]) == 300


def test_every_slider_is_a_model_parameter_with_a_valid_range():
    from kit.epi import get_model

    names = {p.name for p in get_model("seird-icu").parameters}
    for s in SLIDERS:
        assert s["name"] in names and s["min"] < s["max"]
    assert {s["name"] for s in SLIDERS} >= {"r0_start", "r0_end", "x0", "incubation_days",
                                            "infectious_days", "beds_per_100k"}
