"""The shape ARCHITECTURE.md describes: layers, import direction, no cycles, no side effects.

Every ``import`` in ``kit/`` and ``widgets/`` is read from the source (top-level and
inside functions alike), so a lazy import cannot hide an upward dependency.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Lower numbers are lower layers; a module may import its own layer's modules (without
# cycles) and lower layers, never higher ones.
LAYERS = {
    "kit.errors": 0, "kit.files": 0, "kit.limits": 0, "kit.progress": 0, "kit.blas": 0, "kit.arguments": 0, "kit.mpl": 0,
    "kit.data": 1,
    "kit.epi": 2, "kit.forecast": 2, "kit.vision": 2, "kit.eda": 2,
    "kit.course": 3, "kit.cli": 3, "kit.__main__": 3, "widgets": 3,
}
CLI_LAYER = 3  # kit/<package>/cli.py files belong to the command line, the top layer
# Model packages do not depend on one another.
INDEPENDENT = ("kit.epi", "kit.forecast", "kit.vision", "kit.eda")


def _modules() -> dict[str, Path]:
    out = {}
    for root in ("kit", "widgets"):
        for path in (REPO / root).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _layer(module: str) -> int:
    if module.startswith("kit.") and module.endswith(".cli"):
        return CLI_LAYER
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    raise AssertionError(f"{module} belongs to no layer: add it to ARCHITECTURE.md and LAYERS")


def _graph():
    modules = _modules()
    known = set(modules)
    return {m: _imports(m, p, known) for m, p in modules.items()}


def _package(module: str) -> str:
    return next((p for p in INDEPENDENT if module == p or module.startswith(p + ".")), module)


def test_imports_never_go_up_a_layer_or_across_model_packages():
    wrong = []
    for module, targets in _graph().items():
        if module.endswith("__init__") or module in ("kit", "widgets"):
            continue
        for target in targets:
            if target in ("kit", "widgets"):
                continue
            if _layer(target) > _layer(module):
                wrong.append(f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})")
            elif (_layer(module) == _layer(target) == 2 and _package(module) != _package(target)):
                wrong.append(f"{module} imports {target}: model packages are independent")
    assert not wrong, "upward or sideways imports:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = _graph()
    # package __init__ files re-export their modules; a cycle through them is not a real one
    edges = {m: {t for t in ts if t in graph and not (m.startswith(t + ".") and Path(_modules()[t]).name ==
                                                      "__init__.py")}
             for m, ts in graph.items()}
    seen, stack, cycles = {}, [], []

    def visit(node):
        seen[node] = "active"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if seen.get(nxt) == "active":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = "done"

    for node in sorted(edges):
        if node not in seen:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_every_module_is_described_in_architecture_md():
    """By its dotted path: a file name alone (``cli.py``) would be true of any package's."""
    text = (REPO / "ARCHITECTURE.md").read_text()
    missing = [m for m, path in _modules().items() if path.name != "__init__.py"
               and m.rsplit(".", 1)[-1] not in ("__main__",) and f"`{m}`" not in text]
    assert not missing, f"modules ARCHITECTURE.md does not name by their dotted path: {missing}"


# The rooms of kit.vision, lowest first: a room imports the core and the rooms below it.
VISION_ROOMS = ("kit.vision.faces", "kit.vision.masks", "kit.vision.live")


def _room(module: str) -> int | None:
    """0 for the vision core, 1..3 for the rooms, None outside kit.vision (and for its CLI)."""
    if not module.startswith("kit.vision") or module == "kit.vision.cli":
        return None
    for level, room in enumerate(VISION_ROOMS, start=1):
        if module == room or module.startswith(room + "."):
            return level
    return 0


def test_imports_between_the_vision_rooms_run_one_way():
    wrong = []
    for module, targets in _graph().items():
        mine = _room(module)
        if mine is None or module in VISION_ROOMS or module == "kit.vision":
            continue
        for target in targets:
            theirs = _room(target)
            if theirs is not None and target not in VISION_ROOMS and target != "kit.vision" and theirs > mine:
                wrong.append(f"{module} imports {target}: {VISION_ROOMS[theirs - 1]} is above "
                             f"{'the core' if mine == 0 else VISION_ROOMS[mine - 1]}")
    assert not wrong, "vision imports in the wrong direction:\n" + "\n".join(sorted(wrong))


def test_importing_the_kit_changes_nothing_in_the_process():
    code = ("import os, sys, warnings\n"
            "import numpy, pandas, scipy, yaml  # their own filters are theirs\n"
            "env = dict(os.environ); filters = list(warnings.filters)\n"
            "import kit, kit.data, kit.epi, kit.forecast, kit.vision, kit.vision.faces.detectors, kit.course\n"
            "changed = {k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k)}\n"
            "assert not changed, changed\n"
            "assert warnings.filters == filters, 'warning filters changed'\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported at import time'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_user_errors_are_one_family():
    """Every exception class the kit defines for users derives from KitError, and lives in kit.errors."""
    import kit.errors

    defined = []
    for module, path in _modules().items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith("Error") or b.id in ("Exception", "ValueError"))
                    for b in node.bases):
                defined.append(f"{module}.{node.name}")
    allowed_private = {"kit.data.sources.SourceFailed", "kit.data.derivations.DerivationFailed",
                       "kit.forecast.models.SkipModel"}  # internal signals, never reach a user
    outside = [d for d in defined if not d.startswith("kit.errors.") and d not in allowed_private]
    assert not outside, f"error classes outside kit.errors: {outside}"
    for name in kit.errors.__all__:
        cls = getattr(kit.errors, name)
        assert issubclass(cls, (kit.errors.KitError, Warning)), name
