"""Profiles (quick, full) and parameter grids for the lesson runner.

``lessons/profiles.yaml`` maps a profile to per-lesson parameters and environment
variables. The notebook's own ``parameters`` cell holds the quick values, so the
quick profile usually adds nothing. Command-line ``-p KEY=VALUE`` overrides come last;
``-p region=US,Italy`` expands to one run per value.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kit.errors import ProfileError


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    env: dict = field(default_factory=dict)
    lessons: dict = field(default_factory=dict)

    def parameters_for(self, lesson: str) -> dict:
        return dict(self.lessons.get(lesson) or {})


def load_profiles(path: Path) -> dict[str, Profile]:
    """Read ``profiles.yaml`` (safe YAML)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ProfileError(f"{path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path} is not valid YAML: {exc}") from None
    profiles = raw.get("profiles")
    if not isinstance(profiles, dict):
        raise ProfileError(f"{path}: expected a mapping under 'profiles'")
    out = {}
    for name, body in profiles.items():
        body = body or {}
        if not isinstance(body, dict):
            raise ProfileError(f"{path}: profile {name!r} must be a mapping")
        env = {str(k): str(v) for k, v in (body.get("env") or {}).items()}
        out[name] = Profile(name, str(body.get("description", "")), env, dict(body.get("lessons") or {}))
    return out


def parse_value(text: str):
    """A command-line value with YAML typing: ``30`` → int, ``0.2`` → float, ``[a,b]`` → list."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_overrides(items: list[str]) -> dict[str, list]:
    """``["region=US,Italy", "days=90", "models=[naive,drift]"]`` → ``{"region": ["US", "Italy"], ...}``.

    A comma makes a grid (one run per value); a YAML list in brackets is one value.
    """
    grid: dict[str, list] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ProfileError(f"-p expects KEY=VALUE with KEY a Python name, got {item!r}")
        value = value.strip()
        if value.startswith("["):
            values = [parse_value(value)]
        else:
            values = [parse_value(v.strip()) for v in value.split(",")]
        grid[key] = values
    return grid


def expand_grid(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values (``[{}]`` for an empty grid)."""
    if not grid:
        return [{}]
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
