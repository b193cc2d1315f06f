"""Image sets: folder and VOC loading, awkward files, groups and leak-free splits."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kit.data import synthetic
from kit.data.images import ImageReadError, read_rgb
from kit.vision.imagesets import expand_box, load_image_folder, load_voc, parse_voc, split, subject_of


def test_awkward_files_are_converted_or_skipped(tmp_path):
    folder = tmp_path / "set"
    for cls in ("with_mask", "without_mask"):
        (folder / cls).mkdir(parents=True)
    Image.new("L", (20, 10), 128).save(folder / "with_mask" / "gray.png")
    Image.new("RGBA", (20, 10), (255, 0, 0, 0)).save(folder / "with_mask" / "transparent.png")
    Image.new("CMYK", (20, 10), (0, 255, 0, 0)).save(folder / "without_mask" / "cmyk.jpg")
    rotated = Image.new("RGB", (30, 10), (0, 0, 255))
    exif = rotated.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    rotated.save(folder / "without_mask" / "rotated.jpg", exif=exif)
    Image.new("RGB", (64, 64), (1, 2, 3)).save(folder / "without_mask" / "whole.jpg")
    data = (folder / "without_mask" / "whole.jpg").read_bytes()
    (folder / "without_mask" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "with_mask" / "text.jpg").write_text("not an image")

    assert read_rgb(folder / "with_mask" / "gray.png").shape == (10, 20, 3)
    assert tuple(read_rgb(folder / "with_mask" / "transparent.png")[0, 0]) == (255, 255, 255)
    assert read_rgb(folder / "without_mask" / "cmyk.jpg").shape == (10, 20, 3)
    assert read_rgb(folder / "without_mask" / "rotated.jpg").shape == (30, 10, 3)  # upright
    with pytest.raises(ImageReadError, match="truncated.jpg"):
        read_rgb(folder / "without_mask" / "truncated.jpg")
    with pytest.warns(UserWarning, match="skipped 2 unreadable"):
        images = load_image_folder(folder)
    assert len(images) == 5 and images.classes == ("with_mask", "without_mask")
    assert sorted(p.split("/")[-1] for p in images.skipped["path"]) == ["text.jpg", "truncated.jpg"]


def test_subject_groups_follow_the_observations_naming():
    assert subject_of("with_mask/12-with-mask.jpg") == "12" == subject_of("without_mask/12.jpg")
    assert subject_of("x/7-incorrect.jpg") == "7"


def test_grouped_split_keeps_subjects_on_one_side_and_stratifies(tmp_path):
    folder = synthetic.face_images(tmp_path / "faces", n_subjects=60, size=48, seed=0)
    images = load_image_folder(folder)
    train, val, test = split(images, seed=3)
    groups = images.frame["group"].to_numpy()
    parts = [set(groups[i]) for i in (train, val, test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert len(train) + len(val) + len(test) == len(images)
    assert abs(len(test) / len(images) - 0.15) < 0.07 and abs(len(val) / len(images) - 0.15) < 0.07
    for part in (train, val, test):  # both classes everywhere, in about equal shares
        share = images.y[part].mean()
        assert 0.3 < share < 0.7
    again = split(images, seed=3)
    assert all((a == b).all() for a, b in zip((train, val, test), again))  # fixed seed, same split


def test_random_split_leaks_subjects_which_is_why_grouping_is_the_default(tmp_path):
    images = load_image_folder(synthetic.face_images(tmp_path / "f", n_subjects=40, size=48, seed=1))
    train, _, test = split(images, grouped=False, seed=0)
    groups = images.frame["group"].to_numpy()
    assert set(groups[train]) & set(groups[test])


VOC = """<annotation><filename>{name}</filename><size><width>100</width><height>80</height><depth>3</depth></size>
{objects}</annotation>"""
OBJ = "<object><name>{label}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"


def test_voc_single_and_multiple_objects_with_clipping(tmp_path):
    root = tmp_path / "voc"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for name in ("a", "b"):
        Image.new("RGB", (100, 80)).save(root / "images" / f"{name}.png")
    (root / "annotations" / "a.xml").write_text(VOC.format(name="a.png", objects=OBJ.format(
        label="with_mask", x1=10, y1=10, x2=40, y2=50)))
    (root / "annotations" / "b.xml").write_text(VOC.format(name="b.png", objects="".join([
        OBJ.format(label="without_mask", x1=-5, y1=-5, x2=30, y2=30),
        OBJ.format(label="mask_weared_incorrect", x1=60, y1=40, x2=130, y2=95),
        OBJ.format(label="with_mask", x1=120, y1=90, x2=150, y2=99),  # entirely outside: dropped
    ])))
    parsed = parse_voc(root / "annotations" / "b.xml")
    assert [o["box"] for o in parsed["objects"]] == [(0, 0, 30, 30), (60, 40, 100, 80)]
    crops = load_voc(root, margin=0.1)
    assert len(crops) == 3 and crops.classes == ("mask_weared_incorrect", "with_mask", "without_mask")
    assert crops.frame.loc[crops.frame["group"] == "a", "box"].iloc[0] == (10, 10, 40, 50)  # the annotation
    assert expand_box((10, 10, 40, 50), 0.1, 100, 80) == (7, 6, 43, 54)  # the crop: box + margin
    assert crops.pixels(8, progress=False).shape == (3, 8, 8, 3)
    assert set(crops.frame["group"]) == {"a", "b"}
    assert crops.notes["boxes clipped to the image"] == 2  # repairs are counted, not silent
    assert any("lies outside the 100x80 image" in r for r in crops.skipped["reason"])
    (root / "annotations" / "c.xml").write_text("<annotation><size>")
    assert any("c.xml: no image c.*" in r for r in load_voc(root).skipped["reason"])  # paired by stem
    Image.new("RGB", (100, 80)).save(root / "images" / "c.png")
    assert any("c.xml: not valid XML" in r for r in load_voc(root).skipped["reason"])


def test_pixels_cut_voc_crops_and_decode_each_scene_once(tmp_path, monkeypatch):
    from kit.vision import imagesets as images_module  # where the image sets decode their files

    root = tmp_path / "voc"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    scene = np.zeros((80, 100, 3), np.uint8)
    scene[10:50, 10:40] = (255, 0, 0)     # a red face
    scene[40:80, 60:100] = (0, 0, 255)    # a blue one
    Image.fromarray(scene).save(root / "images" / "s.png")
    (root / "annotations" / "s.xml").write_text(VOC.format(name="s.png", objects="".join([
        OBJ.format(label="with_mask", x1=10, y1=10, x2=40, y2=50),
        OBJ.format(label="without_mask", x1=60, y1=40, x2=130, y2=95)])))
    crops = load_voc(root)
    decoded = []
    real = images_module.read_rgb
    monkeypatch.setattr(images_module, "read_rgb", lambda p: decoded.append(p) or real(p))
    pixels = crops.pixels(16, progress=False)
    assert pixels.shape == (2, 16, 16, 3) and len(decoded) == 1
    assert tuple(pixels[0, 8, 8]) == (255, 0, 0) and tuple(pixels[1, 8, 8]) == (0, 0, 255)
    assert crops.pixels(16, progress=False) is pixels  # kept per size


def test_open_image_set_finds_the_images_inside_an_archive_layout(tmp_path):
    from kit.vision.imagesets import find_image_root, open_image_set

    top = tmp_path / "observations-76bc" / "experiements"
    synthetic.face_images(top / "data", n_subjects=3, size=40, seed=0)
    synthetic.face_images(top / "dest_folder" / "train", n_subjects=2, size=40, seed=0)  # a deeper copy
    assert find_image_root(tmp_path) == (top / "data", "folders")
    assert find_image_root(tmp_path, "*/experiements/dest_folder/train")[0] == top / "dest_folder" / "train"
    voc = tmp_path / "voc" / "archive"
    (voc / "images").mkdir(parents=True)
    (voc / "annotations").mkdir()
    assert find_image_root(tmp_path / "voc") == (voc, "voc")
    with pytest.raises(FileNotFoundError, match="no class folders"):
        find_image_root(tmp_path / "voc" / "archive" / "images")
    images = open_image_set(top / "data")
    assert len(images) == 6 and images.name == "data"
    with pytest.raises(FileNotFoundError, match="neither a folder nor a registry entry"):
        open_image_set("no_such_set")
    with pytest.raises(ValueError, match="not an image set"):
        open_image_set("sample_astronaut")


def _voc_folder(tmp_path, scenes):
    """A VOC folder from ``{stem: (image size or None, annotation text or None)}``."""
    root = tmp_path / "voc"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for stem, (size, xml) in scenes.items():
        if size:
            Image.new("RGB", size, (80, 80, 80)).save(root / "images" / f"{stem}.jpg")
        if xml is not None:
            (root / "annotations" / f"{stem}.xml").write_text(xml)
    return root


def test_voc_bad_input_is_skipped_with_the_file_named_or_repaired_and_counted(tmp_path):
    box = OBJ.format(label="with_mask", x1=10, y1=10, x2=40, y2=50)
    root = _voc_folder(tmp_path, {
        "good": ((100, 80), VOC.format(name="good.png", objects=box)),
        "nosize": ((100, 80), f"<annotation><filename>x</filename>{box}</annotation>"),
        "double": ((50, 40), VOC.format(name="double.png", objects=box)),  # <size> 100x80, image 50x40
        "text": ((100, 80), VOC.format(name="text.png", objects=OBJ.format(label="with_mask", x1="a", y1=1, x2=2, y2=3))),
        "flat": ((100, 80), VOC.format(name="flat.png", objects=OBJ.format(label="with_mask", x1=10, y1=10, x2=10, y2=50))),
        "escape": ((100, 80), VOC.format(name="../../../etc/passwd", objects=box)),
        "lonely_image": ((100, 80), None),
        "lonely_xml": (None, VOC.format(name="lonely_xml.png", objects=box)),
        "bomb": ((100, 80), '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">]>'
                            '<annotation>&y;</annotation>'),
    })
    images = load_voc(root)
    reasons = " | ".join(images.skipped["reason"])
    assert "text.xml: object 0 has no numeric <bndbox>" in reasons
    assert "flat.xml: object 0 box" in reasons and "has no area" in reasons
    assert "lonely_image.jpg: no annotation lonely_image.xml" in reasons
    assert "lonely_xml.xml: no image lonely_xml.*" in reasons
    assert "bomb.xml: refused" in reasons
    assert sorted(images.frame["group"]) == ["double", "escape", "good", "nosize"]
    paths = set(images.frame["path"])
    assert all(Path(p).parent == root / "images" for p in paths)  # <filename> is never followed
    assert images.frame.loc[images.frame["group"] == "double", "box"].iloc[0] == (5, 5, 20, 25)
    assert images.notes["annotations rescaled to their image's size"] == 1
    assert images.notes["annotations without a usable <size> (image size used)"] == 1


def test_subject_folders_of_one_class(tmp_path):
    from kit.vision.imagesets import open_image_set
    from kit.errors import KitError

    root = tmp_path / "rwmfd"
    for subject, n in (("0001", 3), ("0002", 2)):
        (root / subject).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (40, 40), (i * 40, 90, 90)).save(root / subject / f"{i:04d}.jpg")
    Image.new("RGB", (40, 40)).save(root / "loose.jpg")
    images = open_image_set(f"with_mask={root}")
    assert images.classes == ("with_mask",) and len(images) == 6
    assert sorted(images.frame["group"].unique()) == ["0001", "0002", "loose"]
    with pytest.raises(KitError, match="--data with_mask=FOLDER"):  # sub-folders named like no class
        open_image_set(root)


def test_combined_sources_are_split_source_by_source(tmp_path):
    from kit.vision.imagesets import combine

    a = load_image_folder(synthetic.face_images(tmp_path / "a", n_subjects=30, size=40, seed=1))
    b = load_image_folder(synthetic.face_images(tmp_path / "b", n_subjects=20, size=40, seed=2))
    alone_test = set(a.frame["group"].to_numpy()[split(a, seed=0)[2]])
    both = combine([a, b])
    assert set(both.frame["source"]) == {"a", "b"} and both.frame["group"].str.startswith(("a:", "b:")).all()
    train, val, test = split(both, seed=0)
    groups = both.frame["group"].to_numpy()
    assert {g.split(":", 1)[1] for g in groups[test] if g.startswith("a:")} == alone_test  # adding b moved nothing
    for left, right in ((train, val), (train, test), (val, test)):
        assert not set(groups[left]) & set(groups[right])
    assert set(both.frame["source"].to_numpy()[test]) == {"a", "b"}


def test_decoding_refuses_images_above_the_pixel_limit_before_decoding(tmp_path, monkeypatch):
    from kit.data.images import decode_bgr

    path = tmp_path / "big.png"
    Image.new("RGB", (400, 300)).save(path)
    monkeypatch.setenv("KIT_MAX_PIXELS", "100000")
    with pytest.raises(ImageReadError, match="big.png: 400x300 = 120,000 pixels is more than the limit of 100,000"):
        read_rgb(path)
    with pytest.raises(ImageReadError, match="frame 7: 400x300"):
        decode_bgr(path.read_bytes(), "frame 7")
    monkeypatch.setenv("KIT_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="KIT_MAX_PIXELS='lots' must be a positive number"):
        read_rgb(path)
