"""What a lesson runs on: package versions, network mode, the list of lessons."""
from __future__ import annotations

import json
import os
import platform
import re
import socket
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

KEY_PACKAGES = (
    "covid-course-kit", "numpy", "pandas", "scipy", "statsmodels", "pmdarima", "prophet",
    "lmfit", "scikit-learn", "matplotlib", "tensorflow-cpu", "tensorflow", "keras",
    "opencv-python-headless", "mtcnn", "pooch", "dask", "distributed", "papermill",
    "nbconvert", "jupyterlab", "ipywidgets", "anywidget", "voila", "onnxruntime", "onnx", "norfair-enough",
    "threadpoolctl", "psutil", "platformdirs",
)


def package_versions(packages=KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages the course depends on (missing ones left out)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def versions_table() -> pd.DataFrame:
    """:func:`package_versions` as a two-column table."""
    return pd.DataFrame(sorted(package_versions().items()), columns=["package", "version"])


def network_status(check: bool = False, host: str = "pypi.org", timeout: float = 3.0) -> str:
    """Say whether the kit will use the network.

    Parameters
    ----------
    check : bool
        Actually try to open a connection to ``host`` (off by default: the quick
        profile and the tests never touch the network).
    """
    settings = []
    for var in ("KIT_OFFLINE", "KIT_MIRROR", "KIT_CACHE"):
        if os.environ.get(var):
            settings.append(f"{var}={os.environ[var]}")
    prefix = f" ({', '.join(settings)})" if settings else ""
    from kit.data import is_offline

    if is_offline():
        return f"offline mode: only the cache and mirror folders are used{prefix}"
    if not check:
        return f"network not checked; sources with URLs will be tried when needed{prefix}"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return f"online: reached {host}{prefix}"
    except OSError as exc:
        return f"offline: cannot reach {host} ({exc.__class__.__name__}); pre-stage files with KIT_MIRROR{prefix}"


def lessons_dir() -> Path:
    """The lessons folder: ``KIT_LESSONS``, ``./lessons``, or the one beside the kit's source."""
    env = os.environ.get("KIT_LESSONS")
    if env:
        return Path(env)
    here = Path.cwd() / "lessons"
    if (here / "profiles.yaml").is_file():
        return here
    return Path(__file__).resolve().parents[2] / "lessons"


LESSON_NAME = re.compile(r"^\d\d[a-z]?_")  # 03_forecasting, 03b_forecast_hubs (a lesson added after 03)


def lesson_paths(folder: Path | None = None) -> list[Path]:
    """Lesson notebooks in teaching order (``NN_name.ipynb`` or ``NNx_name.ipynb``; apps excluded)."""
    folder = Path(folder) if folder is not None else lessons_dir()
    return sorted(p for p in folder.glob("[0-9][0-9]*_*.ipynb") if LESSON_NAME.match(p.name))


def lesson_title(path: Path) -> str:
    """The first Markdown heading of a notebook."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def lesson_index(folder: Path | None = None):
    """A Markdown list linking every lesson, for the welcome notebook."""
    from IPython.display import Markdown

    lines = [f"- [{lesson_title(p)}]({p.name}) — `{p.stem}`" for p in lesson_paths(folder)]
    return Markdown("\n".join(lines) or "_No lessons found._")


def machine_summary() -> dict:
    """Python, OS and CPU count: what the timings in a report were measured on."""
    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpus": os.cpu_count()}
