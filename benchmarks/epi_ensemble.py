"""Ensemble integration: kit.epi against the seed-style approach, in one run.

The seed notebooks call ``scipy.integrate.odeint`` once per parameter set with Python
callbacks for beta(t) and Beds(t). We integrate the same 10,000-member SEIRD-ICU
ensemble over 180 days both ways, check they agree, and print both times and the
ratio (target: >= 100x). Also prints the time of one fit.

    python benchmarks/epi_ensemble.py [--members 10000] [--days 180] [--baseline-members N]

``--baseline-members`` times the seed approach on the first N members only and
extrapolates linearly to all of them (clearly labelled); by default every member runs.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.integrate import odeint
from tqdm import tqdm


def seed_style_member(days, N, beds_per_100k, R_0_start, k, x0, R_0_end, prob_I_to_C, prob_C_to_D, s):
    """The course's original per-member model (Froese 2020), kept verbatim in spirit."""
    gamma = 1.0 / 9.0
    sigma = 1.0 / 3.0

    def logistic_R_0(t):
        return (R_0_start - R_0_end) / (1 + np.exp(-k * (-t + x0))) + R_0_end

    def beta(t):
        return logistic_R_0(t) * gamma

    def Beds(t):
        beds_0 = beds_per_100k / 100_000 * N
        return beds_0 + s * beds_0 * t

    def deriv(y, t, beta, gamma, sigma, N, p_I_to_C, p_C_to_D, Beds):
        S, E, I, C, R, D = y
        dSdt = -beta(t) * I * S / N
        dEdt = beta(t) * I * S / N - sigma * E
        dIdt = sigma * E - 1 / 12.0 * p_I_to_C * I - gamma * (1 - p_I_to_C) * I
        dCdt = (1 / 12.0 * p_I_to_C * I - 1 / 7.5 * p_C_to_D * min(Beds(t), C)
                - max(0, C - Beds(t)) - (1 - p_C_to_D) * 1 / 6.5 * min(Beds(t), C))
        dRdt = gamma * (1 - p_I_to_C) * I + (1 - p_C_to_D) * 1 / 6.5 * min(Beds(t), C)
        dDdt = 1 / 7.5 * p_C_to_D * min(Beds(t), C) + max(0, C - Beds(t))
        return dSdt, dEdt, dIdt, dCdt, dRdt, dDdt

    y0 = N - 1.0, 1.0, 0.0, 0.0, 0.0, 0.0
    t = np.linspace(0, days - 1, days)
    return odeint(deriv, y0, t, args=(beta, gamma, sigma, N, prob_I_to_C, prob_C_to_D, Beds))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--baseline-members", type=int, default=None)
    args = parser.parse_args()

    from kit import epi

    rng = np.random.default_rng(0)
    n = args.members
    ens = {
        "population": 1e7, "r0_start": rng.uniform(2.0, 4.0, n), "r0_end": rng.uniform(0.5, 1.2, n),
        "k": rng.uniform(0.1, 1.0, n), "x0": rng.uniform(30, 90, n), "p_ic": 0.05, "p_cd": 0.5,
        "beds_per_100k": rng.uniform(2.0, 15.0, n), "beds_growth": 0.003,
    }
    epi.integrate("seird-icu", 2, {k: (v[:2] if np.ndim(v) else v) for k, v in ens.items()})  # compile

    t0 = time.perf_counter()
    ours = epi.integrate("seird-icu", args.days, ens)
    t_ours = time.perf_counter() - t0

    m = n if args.baseline_members is None else min(n, args.baseline_members)
    seed = np.empty((args.days, 6, m))
    t0 = time.perf_counter()
    for j in tqdm(range(m), desc="seed-style odeint", unit="member"):
        seed[:, :, j] = seed_style_member(args.days, 1e7, ens["beds_per_100k"][j], ens["r0_start"][j],
                                          ens["k"][j], ens["x0"][j], ens["r0_end"][j], 0.05, 0.5, 0.003)
    t_seed = (time.perf_counter() - t0) * n / m

    scale = np.abs(seed).max(axis=0)
    diff = (np.abs(ours[:, :, :m] - seed) / np.maximum(scale, 1.0)).max()
    print(f"\nSEIRD-ICU ensemble: {n:,} members x {args.days} days")
    print(f"  kit.epi.integrate (RK4, 8 steps/day, compiled): {t_ours:8.3f} s")
    label = "" if m == n else f"  (timed on {m:,} members, extrapolated)"
    print(f"  seed-style odeint per member, Python callbacks: {t_seed:8.3f} s{label}")
    print(f"  ratio: {t_seed / t_ours:,.0f}x   (target >= 100x)")
    print(f"  largest difference between the two, relative to each compartment's peak: {diff:.2e} "
          f"(odeint's default tolerances are ~1.5e-8)")

    truth = {"population": 1e7, "r0_start": 3.2, "r0_end": 0.8, "k": 0.4, "x0": 75, "p_ic": 0.05, "p_cd": 0.6}
    y = epi.integrate("seird-icu", 160, truth)[:, 5, 0]
    counts = rng.negative_binomial(50, 50 / (50 + np.diff(y)))
    import pandas as pd

    series = pd.Series(np.concatenate([[0], np.cumsum(counts)]), index=pd.date_range("2020-02-01", periods=160))
    t0 = time.perf_counter()
    result = epi.fit(series, lead_days=365, population=1e7, p_ic=0.05, p_cd=0.6)
    t_fit = time.perf_counter() - t0
    print(f"\nOne fit (R0_start, R0_end, k, x0; 3 starting points; {result.lmfit_result.nfev} evaluations "
          f"in the best start): {t_fit:.2f} s")


if __name__ == "__main__":
    main()
