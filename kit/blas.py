"""One BLAS thread for many small fits.

NumPy and SciPy ship OpenBLAS with a thread pool as large as the machine. For the kit's
forecasting work — thousands of fits of a few dozen numbers each — those threads only
cost: each tiny matrix operation wakes them, and when another process holds the other
core they spin and wait. Measured on two cores with a second process busy: the SVR's
L-BFGS steps of a hub backtest took 142 s instead of about 8 s inside a Jupyter kernel.
Loops of small fits run inside :func:`one_thread`.
"""
from __future__ import annotations

import contextlib


@contextlib.contextmanager
def one_thread():
    """Limit BLAS and OpenMP pools to one thread for the duration (restored afterwards)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
