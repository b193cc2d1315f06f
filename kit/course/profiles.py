"""Profiles (quick, full) and parameter grids for the lesson runner.

``lessons/profiles.yaml`` maps a profile to per-lesson parameters and environment
variables. The notebook's own ``parameters`` cell holds the quick values, so the
quick profile usually adds nothing. Command-line ``-p KEY=VALUE`` overrides come last;
``-p region=US,Italy`` expands to one run per value.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kit.errors import ProfileError

PROFILE_KEYS = frozenset({"description", "env", "lessons", "parameters"})


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    env: dict = field(default_factory=dict)
    lessons: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)  # for every lesson, before the lesson's own

    def parameters_for(self, lesson: str) -> dict:
        return {**self.parameters, **(self.lessons.get(lesson) or {})}


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
        unknown = sorted(set(map(str, body)) - PROFILE_KEYS)
        if unknown:  # a typo ("lesson:") would otherwise run the defaults and report ok
            import difflib

            hints = [f"{k!r} (did you mean {difflib.get_close_matches(k, PROFILE_KEYS, n=1)[0]!r}?)"
                     if difflib.get_close_matches(k, PROFILE_KEYS, n=1) else repr(k) for k in unknown]
            raise ProfileError(f"{path}: profile {name!r} has unknown key(s) {', '.join(hints)}; "
                               f"a profile has {', '.join(sorted(PROFILE_KEYS))}")
        if not all(isinstance(body.get(key) or {}, dict) for key in ("lessons", "env", "parameters")):
            raise ProfileError(f"{path}: profile {name!r}: 'lessons', 'env' and 'parameters' must be mappings")
        env = {str(k): str(v) for k, v in (body.get("env") or {}).items()}
        out[name] = Profile(name, str(body.get("description", "")), env, dict(body.get("lessons") or {}),
                            {str(k): v for k, v in (body.get("parameters") or {}).items()})
    return out


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def typed_value(text: str, declared: str | None, key: str = "value"):
    """A ``-p`` value as the notebook's parameter declares it (papermill's inferred type).

    A ``str`` parameter gets the text exactly as typed (``NO``, ``off``, ``007`` stay
    strings); ``int``, ``float`` and ``bool`` parameters are converted or refused; other
    parameters (``None``, lists) take ``[a, b]`` lists, ``{...}`` mappings, numbers,
    ``none``/``null`` and ``true``/``false`` — and anything else as text. YAML's other
    booleans (yes, no, on, off) are never guessed.

    Raises
    ------
    ProfileError
        For a value the declared type cannot hold, naming the parameter.
    """
    text = str(text)
    declared = (declared or "None").strip()
    if declared == "str":
        return text
    lowered = text.strip().lower()
    if declared == "bool":
        if lowered in ("true", "false", "1", "0"):
            return lowered in ("true", "1")
        raise ProfileError(f"-p {key}={text}: the notebook's {key} is True or False; write true or false")
    if declared in ("int", "float"):
        if not _NUMBER.match(text.strip()):
            raise ProfileError(f"-p {key}={text}: the notebook's {key} is a number ({declared})")
        number = float(text)
        if declared == "int":
            if not number.is_integer():
                raise ProfileError(f"-p {key}={text}: the notebook's {key} is a whole number")
            return int(number)
        return number
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            return yaml.safe_load(stripped)
        except yaml.YAMLError as exc:
            raise ProfileError(f"-p {key}={text}: not a valid list or mapping ({str(exc).splitlines()[0]})") from None
    if lowered in ("none", "null", "~"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if _NUMBER.match(stripped):
        number = float(stripped)
        return int(number) if number.is_integer() and "." not in stripped and "e" not in lowered else number
    return text


def parse_overrides(items: list[str]) -> dict[str, list]:
    """``["region=US,Italy", "days=90", "models=[naive,drift]"]`` → ``{"region": ["US", "Italy"], ...}``.

    Values stay the text typed (:func:`typed_value` converts them once the notebook's
    parameters are known). A comma makes a grid (one run per value); a list in brackets
    is one value.
    """
    grid: dict[str, list] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ProfileError(f"-p expects KEY=VALUE with KEY a Python name, got {item!r}")
        value = value.strip()
        grid[key] = [value] if value.startswith(("[", "{")) else [v.strip() for v in value.split(",")]
    return grid


def expand_grid(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values (``[{}]`` for an empty grid)."""
    if not grid:
        return [{}]
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
