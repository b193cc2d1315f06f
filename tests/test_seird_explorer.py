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


def test_bad_slider_value_shows_message_and_keeps_last_curve():
    w = SEIRDExplorer(country="Italy")
    curve = list(w.series["C"])
    w.params = {**w.params, "infectious_days": 0.0}
    assert "infectious_days" in w.error and "positive" in w.error
    assert w.series["C"] == curve
    w.params = {**w.params, "infectious_days": 9.0}
    assert w.error == ""


def test_every_slider_is_a_model_parameter_with_a_valid_range():
    from kit.epi import get_model

    names = {p.name for p in get_model("seird-icu").parameters}
    for s in SLIDERS:
        assert s["name"] in names and s["min"] < s["max"]
    assert {s["name"] for s in SLIDERS} >= {"r0_start", "r0_end", "x0", "incubation_days",
                                            "infectious_days", "beds_per_100k"}
