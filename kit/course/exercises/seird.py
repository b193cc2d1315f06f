"""Exercises of lesson 02: intensive care in the simulated scenario, acting in time, herd immunity."""
from __future__ import annotations

from .core import ChoiceExercise, FunctionExercise, NumberExercise, exercise_key

LESSON = "02_seird_simulation"
EXERCISES = {
    "first_day_over": "The day intensive care runs out of beds",
    "latest_intervention": "The latest intervention that keeps everyone in a bed",
    "herd_immunity": "herd_immunity_threshold(r0)",
}
EARLIER_BY = (30, 20, 10, 0)  # the interventions offered: this many days before the lesson's day


def first_day_over(sim) -> NumberExercise:
    """The first day (row of the simulation) with more critical patients than ICU beds."""
    from kit import epi

    peak = epi.peak(sim)
    over = (sim.frame["C"] > sim.frame["beds"]).to_numpy()
    expected = peak["first_day_over_capacity"]
    return NumberExercise(
        exercise_key(LESSON, "first_day_over"), "The first day with more critical patients than ICU beds",
        "first_day_over",
        solution='''
over = sim.frame["C"] > sim.frame["beds"]
first_day_over = int(over.to_numpy().argmax()) if over.any() else None''',
        expected=expected, unit="", rel_tol=0, abs_tol=0,
        mistakes=[(lambda v, e: v == peak["day"], "that is the day of the peak; the beds run out before it"),
                  (lambda v, e: abs(v - e) == 1, "off by one: day 0 is the first row of the simulation"),
                  (lambda v, e: v == int(over.sum()), "that is how many days the beds are short, not the first one")],
        hints=["`sim.frame` has one row per day: `C` is the number of critical patients, `beds` the ICU beds.",
               "Compare them row by row (`sim.frame[\"C\"] > sim.frame[\"beds\"]`) and find the first True; "
               "the row number is the day. If there is none, the answer is None."],
        explanation="Days over capacity are the days on which critical patients go without a bed: that, more "
                    "than the peak's height, is what the model warns about.")


def latest_intervention(scenario: dict, r0_start: float, r0_end: float, intervention_day: int,
                        days: int) -> ChoiceExercise:
    """Of four intervention days, the latest that keeps critical patients under the beds."""
    from kit import epi

    offered = sorted({max(1, int(intervention_day) - d) for d in EARLIER_BY})
    options, safe = {}, []
    for day in offered:
        peak = epi.peak(epi.simulate("seird-icu", days=days, **scenario, r0_start=r0_start, r0_end=r0_end, x0=day))
        if peak["over_capacity"]:
            options[str(day)] = (f"acting on day {day}, critical patients peak at {peak['height']:,.0f} for "
                                 f"{peak['beds_at_peak']:,.0f} beds: {peak['days_over_capacity']} days over capacity")
        else:
            safe.append(day)
            options[str(day)] = (f"acting on day {day}, critical patients peak at {peak['height']:,.0f} for "
                                 f"{peak['beds_at_peak']:,.0f} beds: always under capacity")
    options["none"] = "every one of these days leaves critical patients without beds"
    right = str(max(safe)) if safe else "none"
    for day in safe:
        if str(day) != right:
            options[str(day)] += f" — safe, but {right} is later and safe too"
    return ChoiceExercise(
        exercise_key(LESSON, "latest_intervention"),
        f"With R0 {r0_start:g} falling to {r0_end:g}: the latest intervention day that keeps critical patients "
        f"under the beds", "latest_day",
        solution=f'''
latest_day = "none"
for day in {offered!r}:
    trial = epi.simulate("seird-icu", days=days, **scenario, r0_start=r0_start, r0_end=r0_end, x0=day)
    if not epi.peak(trial)["over_capacity"]:
        latest_day = day''',
        options=options, right=right,
        hints=["Simulate the scenario once per day offered: `epi.simulate(\"seird-icu\", days=days, **scenario, "
               "r0_start=r0_start, r0_end=r0_end, x0=day)`.",
               "`epi.peak(trial)[\"over_capacity\"]` says whether it ever runs out of beds; the latest day "
               "for which it does not is the answer."],
        explanation="Critical patients lag infections by one to two weeks, so the beds run out days after "
                    "an intervention that came too late has already started to work.")


def _threshold(r0: float) -> float:
    return max(0.0, 1.0 - 1.0 / r0)


def herd_immunity(r0_start: float) -> FunctionExercise:
    """Write herd_immunity_threshold(r0): 1 - 1/R0, and 0 when R0 <= 1."""
    cases = [(f"R0 = {r}", (r,)) for r in (3.2, 2.0, float(r0_start))] + \
            [("R0 = 1 (the epidemic threshold)", (1.0,)), ("R0 = 0.5 (an outbreak that dies out)", (0.5,))]
    return FunctionExercise(
        exercise_key(LESSON, "herd_immunity"), "herd_immunity_threshold(r0): the share that must be immune",
        "herd_immunity_threshold",
        solution='''
def herd_immunity_threshold(r0):
    return max(0.0, 1 - 1 / r0)''',
        reference=_threshold, cases=cases,
        hints=["Each infectious person infects R0 · (share still susceptible) others. The outbreak shrinks when "
               "that is below 1.",
               "So the immune share must exceed 1 − 1/R0; for R0 ≤ 1 nobody needs to be immune: 0, not a negative "
               "share."],
        explanation=f"With the lesson's R0 of {r0_start:g}, {_threshold(r0_start):.0%} of people must be immune "
                    f"before an outbreak shrinks on its own.")
