"""Every error a user of the kit can cause, in one family (as scikit-learn's ``exceptions``).

Catch :class:`KitError` to handle anything the user can fix (a bad file, a missing
dataset, unavailable weights, a refused archive); everything else is a bug and keeps
its traceback. The command line prints a one-line ``kit: error: ...`` for a
:class:`KitError` and the full traceback for any other exception.

Subclasses exist where a caller needs to tell errors apart. Several also derive from
the built-in exception a Python user would expect (``ValueError`` for bad values,
``FileNotFoundError`` for missing paths, ``ImportError`` for a missing package), so
``except ValueError`` keeps working.

Messages are written for a student: what was wrong, where (file, column, row, frame,
setting) and what to do next.
"""
from __future__ import annotations


class KitError(Exception):
    """Base class of every error a user can cause and fix."""


class DataError(KitError, ValueError):
    """Input data that cannot be used: a file, column, row, image or frame; the message names it."""


class DataValidationError(DataError):
    """A table that breaks its schema (duplicated dates, negative counts, unknown columns)."""


class ImageReadError(DataError):
    """An image file that cannot be decoded (unknown format, truncated, too large)."""


class FrameError(DataError):
    """A frame (from a camera, a video, a browser) that is not a usable image."""


class InputError(DataError):
    """A source of frames (image, folder, video, camera) that cannot be read."""


class UnsafeArchiveError(DataError):
    """An archive that would write outside its folder, or unpack into too much data."""


class MissingInputError(KitError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class ParameterError(KitError, ValueError):
    """A parameter or option outside what the function accepts (the message says the range)."""


class FitError(KitError, ValueError):
    """A model could not be fitted to the data given (too few points, no signal)."""


class RegistryError(KitError, ValueError):
    """The registry (``datasets.yaml``) is malformed or names an unknown entry."""


class ProfileError(KitError, ValueError):
    """A course profile, lesson or parameter that does not exist or does not parse."""


class FetchError(KitError, RuntimeError):
    """No source could deliver a registry entry; the message says what was tried."""


class WeightsUnavailable(FetchError):
    """Pretrained weights could not be had; the message says how to pre-stage them."""


class ModelError(KitError, ValueError):
    """A saved model or its model card cannot be used (missing, damaged, inconsistent)."""


class MissingDependency(KitError, ImportError):
    """An optional package the asked-for feature needs is not installed; says how to install it."""


class NotFittedError(KitError, RuntimeError):
    """A model asked to predict before it was fitted (as scikit-learn's ``NotFittedError``)."""


class UsageError(KitError):
    """A command-line call that does not make sense (conflicting or missing options)."""


class ConvergenceWarning(UserWarning):
    """An optimiser stopped before converging; the result may be poor."""


class UnverifiedFileWarning(UserWarning):
    """A registry entry has no pinned hash, so its file could not be verified."""


__all__ = [
    "ConvergenceWarning", "DataError", "DataValidationError", "FetchError", "FitError", "FrameError",
    "ImageReadError", "InputError", "KitError", "MissingDependency", "MissingInputError", "ModelError",
    "NotFittedError", "ParameterError", "ProfileError", "RegistryError", "UnsafeArchiveError", "UnverifiedFileWarning",
    "UsageError", "WeightsUnavailable",
]
