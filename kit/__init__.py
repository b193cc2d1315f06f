"""The course kit: tested building blocks behind every lesson and app.

Subpackages: :mod:`kit.data` (registry, fetching, loaders, synthetic data),
:mod:`kit.epi` (compartmental models), :mod:`kit.course` (lesson runner, recording).
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("covid-course-kit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0+source"
