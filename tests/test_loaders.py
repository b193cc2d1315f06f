"""Loaders for each layout on small fixture files, and validation errors that name
the file, the column and the line."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kit.data import (DataValidationError, find_decreases, load_jhu, load_owid, load_timeseries,
                      read_tidy_csv, repair_decreases, select_series)

GLOBAL = """Province/State,Country/Region,Lat,Long,1/22/20,1/23/20,1/24/20,1/25/20
,Italy,41.9,12.6,0,2,5,9
Hubei,China,30.9,112.3,444,444,549,761
Beijing,China,40.2,116.4,14,22,36,41
,Japan,36.2,138.3,2,1,2,2
"""
DEATHS = """Province/State,Country/Region,Lat,Long,1/22/20,1/23/20,1/24/20,1/25/20
,Italy,41.9,12.6,0,0,1,1
Hubei,China,30.9,112.3,17,17,24,40
Beijing,China,40.2,116.4,0,0,0,0
,Japan,36.2,138.3,0,0,0,0
"""
US = """UID,iso2,iso3,code3,FIPS,Admin2,Province_State,Country_Region,Lat,Long_,Combined_Key,1/22/20,1/23/20,1/24/20
84001001,US,USA,840,1001,Autauga,Alabama,US,32.5,-86.6,"Autauga, Alabama, US",0,1,3
84001003,US,USA,840,1003,Baldwin,Alabama,US,30.7,-87.7,"Baldwin, Alabama, US",1,1,2
84006037,US,USA,840,6037,Los Angeles,California,US,34.3,-118.2,"Los Angeles, California, US",5,7,10
"""
OWID = """iso_code,continent,location,date,total_cases,new_cases,total_deaths
ITA,Europe,Italy,2020-02-24,229,229,7
ITA,Europe,Italy,2020-02-25,322,93,10
OWID_EUR,,Europe,2020-02-24,300,300,8
FRA,Europe,France,2020-02-24,12,0,
"""
TIDY = """date,region,province,confirmed,deaths,recovered
2020-03-01,Testland,,10,0,
2020-03-02,Testland,,15,1,
2020-03-03,Testland,,14,1,2
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_jhu_global_to_tidy_with_provinces_and_aggregation(tmp_path):
    frame = load_jhu(confirmed=write(tmp_path, "time_series_covid19_confirmed_global.csv", GLOBAL),
                     deaths=write(tmp_path, "time_series_covid19_deaths_global.csv", DEATHS))
    assert list(frame.columns) == ["date", "region", "province", "confirmed", "deaths", "recovered"]
    assert frame["recovered"].isna().all() and frame.attrs["measures"] == ["confirmed", "deaths"]
    assert set(frame.attrs["sha256"]) == {"confirmed", "deaths"}
    china = select_series(frame, "China", "confirmed")
    assert china.tolist() == [458, 466, 585, 802]  # provinces summed
    hubei = select_series(frame, "China", "deaths", province="Hubei")
    assert hubei.index[0] == pd.Timestamp("2020-01-22") and hubei.iloc[-1] == 40


def test_jhu_us_counties_to_states(tmp_path):
    path = write(tmp_path, "time_series_covid19_confirmed_US.csv", US)
    states = load_jhu(confirmed=path, layout="us")
    assert sorted(states["province"].unique()) == ["Alabama", "California"]
    assert select_series(states, "US", "confirmed", "Alabama").tolist() == [1, 2, 5]
    counties = load_jhu(confirmed=path, layout="us", level="county")
    assert "Baldwin, Alabama" in set(counties["province"])
    assert load_timeseries(path)["province"].nunique() == 2  # layout detected from the header


def test_owid_and_tidy(tmp_path):
    owid = load_owid(write(tmp_path, "owid.csv", OWID))
    assert "Europe" not in set(owid["region"])  # OWID aggregates dropped
    assert select_series(owid, "Italy", "confirmed").tolist() == [229, 322]
    assert np.isnan(owid.loc[owid["region"] == "France", "deaths"]).all()
    tidy = read_tidy_csv(write(tmp_path, "tidy.csv", TIDY))
    assert select_series(tidy, "Testland", "confirmed").tolist() == [10, 15, 14]
    aliases = read_tidy_csv(write(tmp_path, "agg.csv", "Date,Country,Confirmed,Recovered,Deaths\n2020-01-22,X,1,0,0\n"))
    assert aliases["region"].tolist() == ["X"]


@pytest.mark.parametrize("name,text,message", [
    ("a.csv", GLOBAL.replace("Country/Region", "Country"), "time_series_covid19_confirmed_global.csv: missing column"),
    ("b.csv", GLOBAL.replace("1/24/20", "24 Jan"), "column '24 Jan' is neither"),
    ("c.csv", GLOBAL.replace(",444,549", ",-444,549"), "line 3, column '1/23/20': negative count -444"),
    ("d.csv", GLOBAL.replace(",14,22", ",14,x22"), "line 4, column '1/23/20': 'x22' is not a number"),
])
def test_jhu_validation_names_file_column_and_line(tmp_path, name, text, message):
    path = write(tmp_path, "time_series_covid19_confirmed_global.csv", text)
    with pytest.raises(DataValidationError, match=message.replace("(", r"\(")):
        load_jhu(confirmed=path)


@pytest.mark.parametrize("text,message", [
    ("day,region,confirmed\n2020-01-01,X,1\n", "missing column.*date"),
    (TIDY.replace("2020-03-02", "yesterday"), "column 'date', line 3: cannot parse 'yesterday'"),
    (TIDY.replace(",15,1,", ",-15,1,"), "column 'confirmed', line 3: negative count"),
    (TIDY + "2020-03-03,Testland,,16,1,2\n", "line 5: Testland  2020-03-03 appears twice"),
])
def test_tidy_validation(tmp_path, text, message):
    with pytest.raises(DataValidationError, match=message):
        read_tidy_csv(write(tmp_path, "tidy.csv", text))


def test_decreases_are_found_and_repaired_two_ways(tmp_path):
    tidy = read_tidy_csv(write(tmp_path, "tidy.csv", TIDY))
    found = find_decreases(tidy)
    assert len(found) == 1 and found.iloc[0]["measure"] == "confirmed" and found.iloc[0]["drop"] == 1
    cummax = repair_decreases(tidy, "cummax")
    assert select_series(cummax, "Testland", "confirmed").tolist() == [10, 15, 15]
    iso = repair_decreases(tidy, "isotonic")
    assert select_series(iso, "Testland", "confirmed").tolist() == [10, 14.5, 14.5]
    assert len(find_decreases(iso)) == 0 and len(iso.attrs["repaired"]) == 1
    with pytest.raises(ValueError, match="cummax"):
        repair_decreases(tidy, "smooth")


def test_unknown_region_suggests_close_names(tmp_path):
    frame = load_jhu(confirmed=write(tmp_path, "time_series_covid19_confirmed_global.csv", GLOBAL))
    with pytest.raises(ValueError, match="Did you mean 'Italy'"):
        select_series(frame, "Itlay", "confirmed")
    assert select_series(frame, "italy", "confirmed").attrs["region"] == "Italy"
    with pytest.raises(ValueError, match="no 'deaths' counts"):
        select_series(frame, "Italy", "deaths")


def test_registry_source_through_the_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write(mirror, "time_series_covid19_confirmed_global.csv", GLOBAL)
    write(mirror, "time_series_covid19_deaths_global.csv", DEATHS)
    monkeypatch.setenv("KIT_MIRROR", str(mirror))
    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "cache"))
    with pytest.warns(UserWarning, match="UNVERIFIED"):
        frame = load_timeseries("jhu_global", measures=("confirmed", "deaths"))
    assert frame.attrs["measures"] == ["confirmed", "deaths"]


# --- hostile and broken files: every fault names the file, the column and the line ---------------

@pytest.mark.parametrize("text,message", [
    ("", "x.csv: the file is empty"),
    ("date,region,confirmed\n", "x.csv: has a header (date, region, confirmed) but no rows"),
    ("date,region,confirmed\n2020-01-01,X,inf\n", "x.csv: column 'confirmed', line 2: 'inf' is not a finite count"),
    ("date,region,confirmed\n2020-01-01,X,1\n01/02/2020,X,2\n", "x.csv: column 'date' mixes date forms: line 2"),
    ("date,region,confirmed\n01/13/2020,X,1\n13/01/2020,X,2\n", "line 3 ('13/01/2020') can only be day first"),
])
def test_tidy_faults_name_file_column_and_line(tmp_path, text, message):
    with pytest.raises(DataValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_tidy_csv(write(tmp_path, "x.csv", text))


def test_non_utf8_csv_names_the_file(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("date,region,confirmed\n2020-01-01,Curaçao,1\n".encode("latin-1"))
    with pytest.raises(DataValidationError, match="latin.csv: not UTF-8 text .byte 0xe7"):
        read_tidy_csv(path)


def test_day_first_dates_are_read_day_first_for_the_whole_file(tmp_path):
    frame = read_tidy_csv(write(tmp_path, "x.csv", "date,region,confirmed\n02/01/2020,X,1\n13/01/2020,X,2\n"))
    assert [d.date().isoformat() for d in frame["date"]] == ["2020-01-02", "2020-01-13"]


def test_duplicated_dates_are_refused_not_summed(tmp_path):
    owid = OWID + "ITA,Europe,Italy,2020-02-25,330,8,10\n"
    with pytest.raises(DataValidationError, match="owid.csv: columns .location. and .date.: Italy on 2020-02-25 "
                                                  "appears twice .lines"):
        load_owid(write(tmp_path, "owid.csv", owid))
    twice = GLOBAL.replace("1/24/20", "01/23/20")
    with pytest.raises(DataValidationError, match="columns '1/23/20' and '01/23/20' are the same date"):
        load_jhu(confirmed=write(tmp_path, "time_series_covid19_confirmed_global.csv", twice))
