"""Monte Carlo engine benchmark: every ratio is measured within this one run.

(a) spin updates per second of the project's checkerboard Metropolis against a plain numpy int8
    lookup-table checkerboard written here as the baseline (target: ≥ 1.5×);
(b) independent samples per second at T_c, L = 32 and 64, for Wolff against Metropolis: sweep
    rate divided by 2 τ_int (τ_int measured here, in sweeps, max over E and |m|; target: Wolff
    ≥ 10× Metropolis at L = 64);
(c) long-range chain (σ = 0.75, T = 2.65 ≈ T_c) cluster sweep time for N = 256 … 4096 with the
    fitted growth exponent (target ≤ 1.2), and the O(N²) Metropolis reference for contrast;
(d) with a CUDA GPU: spin flips per ns of the Metropolis sampler on the GPU.

Usage: ``python benchmarks/montecarlo.py [--quick]``. Single timings on a shared machine vary;
compare the ratios printed, which come from interleaved repeats (median of 3).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch

from coarsegrain.lattice.autocorr import integrated_time
from coarsegrain.lattice.cluster import WolffIsing2D
from coarsegrain.lattice.ising2d import T_CRITICAL, CheckerboardMetropolis
from coarsegrain.lattice.longrange import LongRangeCluster, LongRangeMetropolis


def numpy_baseline_sweeps(s: np.ndarray, beta: float, n: int, rng: np.random.Generator) -> None:
    """Plain numpy checkerboard Metropolis on int8 spins (n_chains, L, L), lookup-table
    acceptance, in place: the reference implementation the project's sampler must beat."""
    L = s.shape[-1]
    ii, jj = np.indices((L, L))
    masks = [(ii + jj) % 2 == p for p in (0, 1)]
    table = np.minimum(1.0, np.exp(-2.0 * beta * np.arange(-4, 5))).astype(np.float32)
    for _ in range(n):
        for mask in masks:
            nn = np.roll(s, 1, -1) + np.roll(s, -1, -1) + np.roll(s, 1, -2) + np.roll(s, -1, -2)
            p = table[s * nn + 4]
            flip = (rng.random(s.shape, dtype=np.float32) < p) & mask
            s[flip] *= -1


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_metropolis(quick: bool) -> None:
    print("(a) checkerboard Metropolis, spin updates/s at T_c (CPU, "
          f"{torch.get_num_threads()} torch threads)")
    rng = np.random.default_rng(0)
    for L, chains in ((16, 1000), (64, 64)):
        n = 4 if quick else 10
        s = (rng.integers(0, 2, (chains, L, L), dtype=np.int8) * 2 - 1).astype(np.int8)
        mc = CheckerboardMetropolis(L, [T_CRITICAL], n_chains=chains, seed=0, device="cpu")
        mc.sweep(1)
        numpy_baseline_sweeps(s, 1 / T_CRITICAL, 1, rng)
        ours, base = [], []
        for _ in range(3):
            ours.append(n * chains * L * L / timed(lambda: mc.sweep(n)))  # noqa: B023
            base.append(n * chains * L * L / timed(lambda: numpy_baseline_sweeps(s, 1 / T_CRITICAL, n, rng)))  # noqa: B023,E501
        o, b = statistics.median(ours), statistics.median(base)
        print(f"    L={L:3d} x {chains:4d} chains: project {o / 1e6:7.1f} M/s   numpy int8 LUT "
              f"{b / 1e6:7.1f} M/s   ratio {o / b:5.2f}  (target >= 1.5)")


def _series_tau(chain, n_sweeps: int, rec) -> tuple[float, bool]:
    e, m = [], []
    for _ in range(n_sweeps):
        chain.sweep(1)
        ei, mi = rec(chain)
        e.append(ei)
        m.append(mi)
    te = integrated_time(np.stack(e, axis=1))
    tm = integrated_time(np.stack(m, axis=1))
    t = max(te, tm, key=lambda r: r.tau)
    return t.tau, te.reliable and tm.reliable


def bench_independent(quick: bool) -> None:
    print("(b) independent samples/s at T_c = rate / (2 tau_int); tau in sweeps, max over E, |m|")
    results = {}
    for L in (32, 64):
        # Wolff: one chain per lattice (the kernel loops over chains; no batching gain).
        w = WolffIsing2D(L, T_CRITICAL, n_chains=4, seed=1)
        w.sweep(50)
        tau_w, ok_w = _series_tau(w, 500 if quick else 2000,
                                  lambda c: (c.observables()["energy"],
                                             c.observables()["abs_magnetization"]))
        n = 100 if quick else 400
        rate_w = n * w.n_chains / timed(lambda: w.sweep(n))  # noqa: B023
        # Metropolis: batched chains; τ from a long run, capped for time.
        chains = 16
        mc = CheckerboardMetropolis(L, [T_CRITICAL], n_chains=chains, seed=2, device="cpu")
        mc.sweep(2000 if L == 32 else 5000)
        length = {32: 10_000, 64: 20_000}[L] // (4 if quick else 1)

        def rec(c):
            s = c.spins[0]
            return (c.energy()[0].double().numpy(),
                    s.double().mean(dim=(-2, -1)).abs().numpy())

        tau_m, ok_m = _series_tau(mc, length, rec)
        n = 50 if quick else 200
        rate_m = n * chains / timed(lambda: mc.sweep(n))  # noqa: B023
        ind_w, ind_m = rate_w / (2 * tau_w), rate_m / (2 * tau_m)
        results[L] = ind_w / ind_m
        print(f"    L={L}: Wolff tau={tau_w:6.2f}{'' if ok_w else ' (unreliable)'} "
              f"{rate_w:9.1f} sweeps/s -> {ind_w:9.1f} indep/s | Metropolis tau={tau_m:7.1f}"
              f"{'' if ok_m else ' (unreliable: run too short, tau is a lower bound)'} "
              f"{rate_m:8.1f} sweeps/s -> {ind_m:7.2f} indep/s | ratio {ind_w / ind_m:7.1f}")
    print(f"    L=64 ratio {results[64]:.1f} (target >= 10)")


def bench_longrange(quick: bool) -> None:
    sigma, T = 0.75, 2.65
    print(f"(c) long-range chain sigma={sigma}, T={T}: cluster cost per sweep = time per N "
          "spins flipped (measured from the flipped cluster sizes, so the noise of the sweep-"
          "length calibration does not enter)")
    sizes = [256, 512, 1024, 2048, 4096]
    times = []
    for N in sizes:
        ch = LongRangeCluster(N, sigma, T, n_chains=1, seed=N)
        ch.sweep(20)
        n_sweeps = 100 if quick else 400
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            sizes_flipped = ch.flip(n_sweeps * ch.clusters_per_sweep)
            dt = time.perf_counter() - t0
            best = min(best, dt * N / sizes_flipped.sum())
        times.append(best)
        print(f"    N={N:5d}: {best * 1e6:9.1f} us/sweep  ({ch.lam:.2f} bond draws per cluster "
              "site)")
    slope = np.polyfit(np.log(sizes), np.log(times), 1)[0]
    print(f"    cluster sweep cost ~ N^{slope:.3f}  (target <= 1.2)")
    mt = []
    msizes = [256, 512, 1024]
    for N in msizes:
        ch = LongRangeMetropolis(N, sigma, T, n_chains=1, seed=N)
        ch.sweep(2)
        n = 2 if quick else 5
        mt.append(min(timed(lambda: ch.sweep(n)) for _ in range(3)) / n)  # noqa: B023
    mslope = np.polyfit(np.log(msizes), np.log(mt), 1)[0]
    print(f"    Metropolis reference N={msizes}: {[f'{t * 1e6:.0f}' for t in mt]} us/sweep "
          f"~ N^{mslope:.2f}")


def bench_cuda() -> None:
    if not torch.cuda.is_available():
        print("(d) CUDA: no GPU visible, skipped")
        return
    name = torch.cuda.get_device_name(0)
    for L, chains in ((256, 64), (1024, 16)):
        mc = CheckerboardMetropolis(L, [T_CRITICAL], n_chains=chains, seed=0, device="cuda")
        mc.sweep(5)
        torch.cuda.synchronize()
        n = 50
        t0 = time.perf_counter()
        mc.sweep(n)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        print(f"(d) CUDA {name}: L={L} x {chains} chains: "
              f"{n * chains * L * L / dt / 1e9:.1f} flips/ns (target >= 50 on an H100)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs (noisier tau estimates)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    bench_metropolis(args.quick)
    bench_independent(args.quick)
    bench_longrange(args.quick)
    bench_cuda()
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
