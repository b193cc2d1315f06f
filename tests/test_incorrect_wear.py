"""Generated incorrect wear: the pasted mask found where a pair differs, moved below the nose
or under the chin over the bare face, for training subjects only, kept in the cache (never
in the data folder), reproducible; and the recorded held-out groups honoured in a set that
combines sources."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kit.vision.imagesets import ImageSet

H, W = 120, 100
MASK = (slice(60, 100), slice(25, 75))  # rows 60..99: the pasted mask's 40 px


def _pair(seed: int):
    """A noisy 'face' and the same picture with a flat light-blue mask pasted on it."""
    rng = np.random.default_rng(seed)
    bare = np.clip(rng.normal(120, 25, (H, W, 3)), 0, 255).astype(np.uint8)
    masked = bare.copy()
    masked[MASK] = (200, 225, 240)
    return masked, bare


def test_the_mask_is_found_where_the_pair_differs_and_moved_down_over_the_bare_face():
    from kit.vision.masks.incorrect_wear import mask_region, move_mask

    masked, bare = _pair(0)
    region = mask_region(masked, bare)
    expected = np.zeros((H, W), bool)
    expected[MASK] = True
    assert (region == expected).mean() > 0.99
    moved = move_mask(masked, bare, region, 0.5)  # 20 px lower: the upper half of the old place is bare again
    assert np.array_equal(moved[60:80, 25:75], bare[60:80, 25:75])
    assert (moved[80:120, 30:70] == (200, 225, 240)).all()
    assert np.array_equal(moved[:60], bare[:60])
    below = move_mask(masked, bare, region, 1.0)  # pushed out at the bottom: clipped, not wrapped round
    assert np.array_equal(below[:100], bare[:100])


def test_pictures_that_are_not_a_pasted_pair_give_no_region():
    from kit.errors import ParameterError
    from kit.vision.masks.incorrect_wear import mask_region, move_mask

    masked, bare = _pair(1)
    assert mask_region(masked, bare[:-1]) is None                    # different sizes
    assert mask_region(bare, bare.copy()) is None                    # nothing pasted
    assert mask_region(255 - bare, bare) is None                     # everything differs: another picture
    with pytest.raises(ParameterError, match="shift must be a fraction"):
        move_mask(masked, bare, mask_region(masked, bare), 1.5)


def _pairs_set(folder, n=8, extra=True):
    rows = []
    for i in range(n):
        masked, bare = _pair(10 + i)
        for label, pixels, name in (("with_mask", masked, f"{i}-with-mask.png"), ("without_mask", bare, f"{i}.png")):
            path = folder / label / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
            rows.append({"path": str(path), "label": label, "group": f"observations:{i}", "source": "observations"})
    if extra:  # a real incorrectly worn face from another source, so the class exists
        rows.append({"path": rows[0]["path"], "label": "mask_weared_incorrect", "group": "voc:s", "source": "voc"})
    frame = pd.DataFrame(rows)
    return ImageSet(frame, tuple(sorted(set(frame["label"]))), name="obs")


def test_generated_wear_joins_the_training_part_only_keeps_groups_and_stays_out_of_the_data(tmp_path, monkeypatch):
    from kit.vision.masks.incorrect_wear import INCORRECT, add_incorrect_wear

    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    images = _pairs_set(data)
    before = sorted(p for p in data.rglob("*"))
    groups = images.frame["group"]
    train = np.flatnonzero(groups.isin([f"observations:{i}" for i in range(5)]).to_numpy()
                           | (groups == "voc:s").to_numpy())
    train = train[train != 9]  # subject 4's bare picture is not in training: no pair for 4
    bigger, train_idx = add_incorrect_wear(images, train, per_pair=2, crops="as given", progress=False)
    new = bigger.frame.iloc[len(images):]
    assert len(new) == 8 and set(new["label"]) == {INCORRECT}
    assert sorted(set(new["group"])) == [f"observations:{i}" for i in range(4)]
    assert set(new["source"]) == {"observations_incorrect_wear"}
    assert set(train_idx) == set(train) | set(range(len(images), len(bigger)))   # the new rows train, nothing else moves
    assert bigger.frame.iloc[:len(images)].equals(images.frame)
    assert all(str(tmp_path / "cache") in p for p in new["path"])
    assert sorted(p for p in data.rglob("*")) == before, "a generated picture was written into the data folder"
    assert bigger.notes["incorrect wear: masks moved down"] == 8
    assert bigger.notes["incorrect wear: masks laid on other faces"] == 0   # no bare face with a box here

    stamps = {p: (tmp_path / p).stat().st_mtime_ns for p in new["path"]}
    again, _ = add_incorrect_wear(images, train, per_pair=2, crops="as given", progress=False)
    assert list(again.frame["path"]) == list(bigger.frame["path"])          # same names: reused, not made again
    assert {p: (tmp_path / p).stat().st_mtime_ns for p in new["path"]} == stamps
    first = np.asarray(Image.open(new["path"].iloc[0]))
    masked, _ = _pair(10)
    assert not np.array_equal(first, np.asarray(Image.open(images.frame["path"].iloc[0])))
    assert first.shape == masked.shape


def test_a_mask_laid_on_another_face_sits_where_it_sat_on_its_own_then_lower():
    from kit.vision.masks.incorrect_wear import cut_mask, mask_region, paste_mask

    masked, bare = _pair(2)
    cutout = cut_mask(masked, mask_region(masked, bare), face_box=(25, 20, 75, 100))   # a 50 x 80 face
    assert cutout["left"] == pytest.approx(0.0) and cutout["top"] == pytest.approx(0.5)
    assert cutout["width"] == pytest.approx(1.0) and cutout["height"] == pytest.approx(0.5)
    other = np.zeros((300, 300, 3), np.uint8)
    on = paste_mask(other, (100, 40, 200, 200), cutout, 0.0)           # a face twice the size: the mask too
    inside = on[125:155, 110:190]                                      # well inside the scaled mask: 100 x 80 at 100, 120
    assert (np.abs(inside.astype(int) - (200, 225, 240)) <= 2).all()
    assert not on[:118].any() and not on[:, :98].any() and not on[:, 202:].any()
    low = paste_mask(other, (100, 40, 200, 200), cutout, 0.5)          # half its height lower: 40 px
    assert not low[:158].any() and low[170:190, 120:180].any()
    edge = paste_mask(other, (250, 200, 350, 300), cutout, 0.5)        # partly outside the picture: clipped
    assert edge.shape == other.shape and edge[280:, 260:].any() and not edge[:270].any()


def test_bare_faces_of_training_scenes_get_masks_laid_on_them(tmp_path, monkeypatch):
    from kit.vision.masks.incorrect_wear import INCORRECT, add_incorrect_wear

    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "cache"))
    images = _pairs_set(tmp_path / "data", n=4)
    frame = images.frame.copy()
    frame.loc[frame["label"] == "without_mask", "box"] = pd.Series([(25, 20, 75, 100)] * 4,
                                                                    index=frame.index[frame["label"] == "without_mask"])
    scene = tmp_path / "data" / "scene.png"
    Image.fromarray(np.full((200, 240, 3), 90, np.uint8)).save(scene)
    faces = [{"path": str(scene), "label": "without_mask", "group": f"voc:scene{i}", "source": "voc",
              "box": (20 + 100 * i, 50, 60 + 100 * i, 110)} for i in range(2)]
    faces.append({"path": str(scene), "label": "without_mask", "group": "voc:tiny", "source": "voc",
                  "box": (200, 10, 210, 20)})                          # under MIN_FACE: no mask laid on it
    frame = pd.concat([frame, pd.DataFrame(faces)], ignore_index=True)
    images = images.with_frame(frame)
    train = np.flatnonzero((frame["group"] != "voc:scene1").to_numpy())  # scene1 is not training
    bigger, _ = add_incorrect_wear(images, train, per_pair=2, crops="as given", progress=False)
    pasted = bigger.frame[bigger.frame["source"] == "voc_incorrect_wear"]
    assert list(pasted["group"]) == ["voc:scene0", "voc:scene0"] and set(pasted["label"]) == {INCORRECT}
    picture = np.asarray(Image.open(pasted["path"].iloc[0]))
    assert picture.shape == (170, 100, 3)                              # the face and its size around it, clipped
    assert tuple(pasted["box"].iloc[0]) == (20.0, 50.0, 60.0, 110.0)
    assert (picture != 90).any(axis=2).sum() > 100                      # a mask was laid on it


def test_generated_wear_needs_the_incorrect_class_and_a_sane_count(tmp_path, monkeypatch):
    from kit.errors import ParameterError
    from kit.vision.masks.incorrect_wear import add_incorrect_wear, generate_incorrect_wear, mask_pairs
    from kit.vision.masks.training import TrainConfig

    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "cache"))
    images = _pairs_set(tmp_path / "data", n=2, extra=False)
    with pytest.raises(ParameterError, match="needs a training set that has the class 'mask_weared_incorrect'"):
        add_incorrect_wear(images, np.arange(len(images)), crops="as given", progress=False)
    with pytest.raises(ParameterError, match="per_pair must be a whole number 1..8"):
        generate_incorrect_wear(mask_pairs(images.frame), per_pair=0, progress=False)
    for bad in (-1, 9, True, 1.5):
        with pytest.raises(ParameterError, match="incorrect_wear must be a whole number 0..8"):
            TrainConfig(incorrect_wear=bad).check()


def test_recorded_held_out_groups_are_the_test_part_in_a_combined_set():
    from kit.vision.imagesets import combine, split
    from kit.vision.splits import held_out_groups

    held = sorted(held_out_groups("voc"))[:4]
    voc = pd.DataFrame([{"path": f"v/{i}.jpg", "label": ("with_mask", "without_mask")[i % 2], "group": f"s{i}"}
                        for i in range(40)] +
                       [{"path": f"v/{h}.jpg", "label": "with_mask", "group": h} for h in held])
    other = pd.DataFrame([{"path": f"o/{i}.jpg", "label": ("with_mask", "without_mask")[i % 2], "group": str(i)}
                          for i in range(20)])
    both = combine([ImageSet(voc, ("with_mask", "without_mask"), name="voc"),
                    ImageSet(other, ("with_mask", "without_mask"), name="other")])
    assert set(both.frame["source"]) == {"voc", "other"}
    _, _, test = split(both, held_out=held_out_groups)
    tested = set(both.frame["group"].iloc[test])
    assert {f"voc:{h}" for h in held} == {g for g in tested if g.startswith("voc:")}
