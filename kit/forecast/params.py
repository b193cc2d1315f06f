"""Parameters of a forecaster, the way scikit-learn's estimators keep them.

The constructor stores its arguments under their own names and does nothing else;
:meth:`Estimator.get_params` reads them back through the constructor's signature, so a
``repr`` shows the options that differ from the defaults (``Holt(damped=True)``) and
:meth:`Estimator.clone` makes a fresh, unfitted copy with the same options (nested
estimators cloned too), which is what an evaluator fits on each split.
"""
from __future__ import annotations

import inspect

from kit.errors import NotFittedError


class Estimator:
    """Base of every forecaster: parameters from the constructor, ``clone``, ``repr``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self) -> dict:
        """The constructor's arguments as this instance holds them."""
        return {name: getattr(self, name) for name in self._param_names()}

    def clone(self):
        """A new, unfitted instance with the same parameters (estimators among them cloned)."""
        return type(self)(**{k: _clone(v) for k, v in self.get_params().items()})

    def _check_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise NotFittedError(f"{self!r} is not fitted yet: call fit() before predicting")

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        shown = [f"{k}={v!r}" for k, v in self.get_params().items()
                 if not (k in defaults and _same(defaults[k], v))]
        return f"{type(self).__name__}({', '.join(shown)})"


def _clone(value):
    if isinstance(value, Estimator):
        return value.clone()
    if isinstance(value, (list, tuple)) and any(isinstance(v, Estimator) for v in value):
        return type(value)(_clone(v) for v in value)
    return value


def _same(a, b) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b
