"""The embedded offline data is deterministic, realistic enough, and labelled synthetic.
The outbreak is simulated by kit.epi.outbreak; the data layer ships it as a file that must be
exactly what the generator makes."""
from __future__ import annotations

import numpy as np
import pytest
import pandas as pd
from PIL import Image

from kit.data import synthetic
from kit.data.classes import MASK_CLASSES
from kit.epi.outbreak import outbreak
from kit.errors import ParameterError

COLUMNS = ["date", "region", "province", "confirmed", "deaths", "recovered"]


def test_the_shipped_outbreak_is_what_the_model_generates():
    from kit.data import load_timeseries

    shipped = load_timeseries("synthetic")
    fresh = outbreak(seed=0)
    pd.testing.assert_frame_equal(shipped, fresh)
    assert shipped.attrs["sha256"] == fresh.attrs["sha256"] and shipped.attrs["truth"] == fresh.attrs["truth"]
    assert "SYNTHETIC" in shipped.attrs["label"]


def test_outbreak_has_loader_schema_and_is_labelled():
    frame = outbreak(seed=1, days=120)
    assert list(frame.columns) == COLUMNS
    assert frame.attrs["synthetic"] is True and "SYNTHETIC" in frame.attrs["label"]
    assert frame.equals(frame.sort_values(["region", "province", "date"], ignore_index=True))
    for _, sub in frame.groupby(["region", "province"]):
        assert len(sub) == 120
        for col in ("confirmed", "deaths", "recovered"):
            assert (np.diff(sub[col].to_numpy()) >= 0).all(), "cumulative counts never decrease"
        assert sub["confirmed"].iloc[-1] > 100 and sub["deaths"].iloc[-1] > 0


def test_outbreak_is_deterministic_per_seed():
    a, b = outbreak(seed=3, days=60), outbreak(seed=3, days=60)
    c = outbreak(seed=4, days=60)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["sha256"] == b.attrs["sha256"] != c.attrs["sha256"]


def test_weekends_are_under_reported():
    frame = outbreak(seed=0, days=180)
    daily = frame.groupby("date")["confirmed"].sum().diff().dropna()
    trend = daily.rolling(7, center=True).mean()
    ratio = (daily / trend).dropna()
    by_day = ratio.groupby(ratio.index.day_of_week).mean()
    assert by_day[6] < 0.8 * by_day[1], by_day  # Sunday well below Tuesday


def test_reports_lag_infections():
    frame = outbreak({"Lagland": ["Only"]}, seed=0, days=160)
    truth = frame.attrs["truth"]["Lagland/Only"]
    assert truth["reporting_delay_days"] >= 3
    # Deaths peak after cases: a delay between infection, report and death exists.
    daily = frame[["confirmed", "deaths"]].diff().rolling(7).mean()
    assert daily["deaths"].idxmax() > daily["confirmed"].idxmax()


def test_face_images_layout_groups_and_determinism(tmp_path):
    a = synthetic.face_images(tmp_path / "a", n_subjects=5, classes=MASK_CLASSES, size=64, seed=2)
    b = synthetic.face_images(tmp_path / "b", n_subjects=5, classes=MASK_CLASSES, size=64, seed=2)
    assert sorted(p.name for p in a.iterdir() if p.is_dir()) == sorted(MASK_CLASSES)
    assert sorted(p.name for p in (a / "without_mask").iterdir()) == [f"{i}.jpg" for i in range(5)]
    assert (a / "with_mask" / "3-with-mask.jpg").is_file()
    assert "SYNTHETIC" in (a / "SYNTHETIC.txt").read_text()
    for path in a.rglob("*.jpg"):
        assert path.read_bytes() == (b / path.relative_to(a)).read_bytes()
        assert Image.open(path).size == (64, 64)


def test_masked_and_unmasked_faces_differ_where_the_mask_is(tmp_path):
    folder = synthetic.face_images(tmp_path, n_subjects=8, size=96, seed=0)
    masked = np.stack([np.asarray(Image.open(p), float) for p in sorted((folder / "with_mask").glob("*.jpg"))])
    bare = np.stack([np.asarray(Image.open(p), float) for p in sorted((folder / "without_mask").glob("*.jpg"))])
    assert np.abs(masked.mean(0) - bare.mean(0)).mean() > 5


def test_harder_face_sets_hold_several_alike_photos_per_subject_grouped_by_subject(tmp_path):
    from kit.vision.imagesets import load_image_folder

    folder = synthetic.face_images(tmp_path / "hard", n_subjects=6, size=64, seed=0, photos=3, difficulty=0.8)
    images = load_image_folder(folder)
    assert len(images) == 6 * (3 + 1)  # three photos in the subject's usual class, one in the other
    assert sorted(images.frame["group"].unique()) == [str(i) for i in range(6)]
    assert (folder / "with_mask" / "0~2-with-mask.jpg").is_file() and (folder / "without_mask" / "1~2.jpg").is_file()
    assert not (folder / "with_mask" / "1~1-with-mask.jpg").exists()  # subject 1 is usually without a mask
    photos = [np.asarray(Image.open(folder / "without_mask" / f"1{k}.jpg"), float) for k in ("", "~1", "~2")]
    assert np.abs(photos[0] - photos[1]).mean() > 1  # not copies: moved, turned, lit differently
    with pytest.raises(ParameterError):
        synthetic.face_images(tmp_path / "bad", photos=0)
