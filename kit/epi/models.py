"""Time-varying inputs of the compartmental models."""
from __future__ import annotations

import numpy as np


def logistic_r0(t, r0_start, r0_end, k, x0):
    """R0(t) = (R0_start - R0_end) / (1 + exp(-k (x0 - t))) + R0_end.

    An intervention centred on day ``x0`` with steepness ``k`` moves the reproduction
    number from ``r0_start`` to ``r0_end``. Works elementwise on arrays (ensembles).
    """
    z = np.clip(-np.asarray(k) * (np.asarray(x0) - t), -700.0, 700.0)
    return (np.asarray(r0_start) - r0_end) / (1.0 + np.exp(z)) + r0_end
