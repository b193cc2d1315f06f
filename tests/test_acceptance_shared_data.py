"""Acceptance on the real JHU data in ../shared/data/covid (skipped when it is absent)."""
from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "covid"
pytestmark = pytest.mark.skipif(not (SHARED / "time_series_covid19_confirmed_global.csv").exists(),
                                reason="../shared/data/covid is not here")


@pytest.fixture(scope="module")
def jhu(tmp_path_factory):
    from kit.data import load_timeseries

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KIT_MIRROR", str(SHARED))
        mp.setenv("KIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        with pytest.warns(UserWarning, match="UNVERIFIED"):  # JHU hashes are not pinned (see datasets.yaml)
            yield load_timeseries("jhu_global")


def test_real_jhu_loads_with_its_quirks(jhu):
    from kit.data import find_decreases

    assert jhu["region"].nunique() > 180 and jhu["date"].min().isoformat().startswith("2020-01-22")
    assert len(find_decreases(jhu)) > 50  # real corrections exist and are reported
    china = jhu[jhu["region"] == "China"]
    assert china["province"].nunique() > 20


def test_comparator_beats_or_reports_baselines_on_italy(jhu):
    from kit.data import repair_decreases, select_series
    from kit.forecast import compare

    y = select_series(repair_decreases(jhu), "Italy", "confirmed").loc[:"2020-07-31"]
    result = compare(y, "holt,arima,linear", train_end="2020-07-10", horizon=21)
    table = result.table.set_index("model")
    assert {"naive", "drift"} <= set(table.index) and (table["status"] == "ok").all()
    assert table.loc["holt", "rmse"] < table.loc["naive", "rmse"]


def test_seird_fit_to_italy_deaths(jhu):
    from kit import epi
    from kit.data import select_series

    deaths = select_series(jhu, "Italy", "deaths").loc[:"2020-06-30"]
    with pytest.warns(UserWarning, match="decreases"):
        result = epi.fit(deaths, **epi.country_parameters("Italy"))
    r0_end = result.value("r0_end")
    assert 0.3 < r0_end < 1.0  # the lockdown brought R below 1
    assert result.n_points > 150
