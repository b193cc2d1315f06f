"""The pins are written twice (pyproject.toml for pip, environment.yml for conda): they must agree."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"]) + [d for group in project["optional-dependencies"].values() for d in group]
    pins = {}
    for spec in specs:
        match = re.match(r"^([A-Za-z0-9_.\[\]-]+?)(\[[^\]]*\])?==([^;\s]+)", spec)
        if match:
            pins[match.group(1).lower()] = match.group(3)
    return pins


def _environment_pins() -> dict[str, str]:
    deps = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    pins = {}
    for dep in deps:
        if isinstance(dep, dict):
            for spec in dep.get("pip", []):
                name, sep, version = spec.partition("==")
                if sep:
                    pins[name.lower()] = version
        elif isinstance(dep, str) and "=" in dep:
            name, version = dep.split("=", 1)
            pins[name.lower()] = version
    return pins


def test_pyproject_and_environment_yml_pin_the_same_versions():
    pip, conda = _pyproject_pins(), _environment_pins()
    shared = sorted(set(pip) & set(conda))
    assert len(shared) >= 30, f"too few packages in both files: {shared}"
    differ = {name: (pip[name], conda[name]) for name in shared if pip[name] != conda[name]}
    assert not differ, f"pyproject.toml and environment.yml disagree (pip, conda): {differ}"
    # every pinned dependency of the kit itself is in the conda environment too
    missing = sorted(set(pip) - set(conda) - {"yuface"})  # yuface: the optional [detectors] extra
    assert not missing, f"pinned in pyproject.toml but not in environment.yml: {missing}"
