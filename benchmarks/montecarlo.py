"""Monte Carlo engine benchmark: every ratio is measured within this one run.

(a) spin updates per second of the project's checkerboard Metropolis against a plain numpy int8
    lookup-table checkerboard written here as the baseline (target: ≥ 1.5×);
(b) independent samples per second at T_c, L = 64 and 128, for Wolff against Metropolis, one
    core each (as the workflow runs them: ``threads: 1``): sweep rate divided by 2 τ_int (τ_int
    measured here once per sampler, in sweeps, max over E and |m|; sweep rates timed in
    ``--rounds`` interleaved rounds; the ratio printed is the median over rounds, with its range;
    target: Wolff ≥ 10× Metropolis at L = 64);
(c) long-range chain (σ = 0.75, T = 2.65 ≈ T_c) cluster sweep time for N = 256 … 4096 with the
    fitted growth exponent (target ≤ 1.2), and the O(N²) Metropolis reference for contrast;
(d) with a CUDA GPU: spin flips per ns of the Metropolis sampler on the GPU.

Usage: ``python benchmarks/montecarlo.py [--quick] [--rounds R] [--only a,b,c,d]``. Single
timings on a shared machine vary; compare the ratios printed, which come from interleaved repeats
(medians).
"""

from __future__ import annotations

import os

# After each call of the numba-parallel Metropolis kernel its idle OpenMP workers spin, and the
# torch/numpy calls that follow (the per-sweep observables of the tau series, the Wolff timings)
# run 10-100x slower on a loaded 2-core machine. It must be set before torch loads its OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from coarsegrain.lattice.autocorr import integrated_time  # noqa: E402
from coarsegrain.lattice.cluster import WolffIsing2D  # noqa: E402
from coarsegrain.lattice.ising2d import T_CRITICAL, CheckerboardMetropolis  # noqa: E402
from coarsegrain.lattice.longrange import LongRangeCluster, LongRangeMetropolis  # noqa: E402


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


def _metropolis_obs(c):
    s = c.spins[0]
    return (c.energy()[0].double().numpy(), s.double().mean(dim=(-2, -1)).abs().numpy())


def _wolff_obs(c):
    o = c.observables()
    return o["energy"], o["abs_magnetization"]


#: Per L: Wolff τ series (sweeps), Metropolis chains, thermalisation and τ series (sweeps);
#: Metropolis' τ_int at T_c grows as L^2.17 (~150 sweeps at L = 64), and a reliable estimate
#: needs a series of ≥ 50 τ.
_INDEPENDENT = {64: (2000, 16, 5_000, 20_000), 128: (2000, 8, 20_000, 40_000)}


def bench_independent(quick: bool, rounds: int = 5) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the Metropolis kernel runs on torch's thread count
    print("(b) independent samples/s at T_c, one core each = sweep rate / (2 tau_int); tau in "
          f"sweeps, max over E, |m|; median over {rounds} interleaved timing rounds [range]")
    try:
        for L, (n_tau_w, chains, n_therm, n_tau_m) in _INDEPENDENT.items():
            scale = 4 if quick else 1
            w = WolffIsing2D(L, T_CRITICAL, n_chains=4, seed=1)
            w.sweep(100)
            tau_w, ok_w = _series_tau(w, n_tau_w // scale, _wolff_obs)
            mc = CheckerboardMetropolis(L, [T_CRITICAL], n_chains=chains, seed=2, device="cpu")
            mc.sweep(n_therm // scale)
            tau_m, ok_m = _series_tau(mc, n_tau_m // scale, _metropolis_obs)
            # Each round times about the same work for both (~N·chains·n spin updates).
            n_w, n_m = 200 // scale, 50 // scale
            rate_w, rate_m = [], []
            for _ in range(rounds):
                rate_w.append(n_w * w.n_chains / timed(lambda: w.sweep(n_w)))  # noqa: B023
                rate_m.append(n_m * chains / timed(lambda: mc.sweep(n_m)))  # noqa: B023
            ratios = [(a / (2 * tau_w)) / (b / (2 * tau_m)) for a, b in
                      zip(rate_w, rate_m, strict=True)]
            rw, rm, r = (statistics.median(v) for v in (rate_w, rate_m, ratios))
            print(f"    L={L:3d}: Wolff ({w.clusters_per_sweep} clusters/sweep) tau={tau_w:5.2f}"
                  f"{'' if ok_w else ' (unreliable)'} {rw:8.1f} sweeps/s -> "
                  f"{rw / (2 * tau_w):8.1f} indep/s | Metropolis ({chains} chains) "
                  f"tau={tau_m:6.1f}"
                  f"{'' if ok_m else ' (unreliable: series too short, tau is a lower bound)'} "
                  f"{rm:8.1f} sweeps/s -> {rm / (2 * tau_m):7.2f} indep/s | ratio {r:6.1f} "
                  f"[{min(ratios):.1f}, {max(ratios):.1f}]"
                  + ("  (target >= 10)" if L == 64 else ""))
    finally:
        torch.set_num_threads(threads)


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
    ap.add_argument("--rounds", type=int, default=5, help="timing rounds of (b) (median)")
    ap.add_argument("--only", default="a,b,c,d", help="comma-separated parts to run")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error(f"--rounds must be >= 1; got {args.rounds}")
    parts = set(args.only.split(","))
    if not parts <= {"a", "b", "c", "d"}:
        ap.error(f"--only takes parts among a, b, c, d; got {args.only!r}")
    t0 = time.perf_counter()
    if "a" in parts:
        bench_metropolis(args.quick)
    if "b" in parts:
        bench_independent(args.quick, args.rounds)
    if "c" in parts:
        bench_longrange(args.quick)
    if "d" in parts:
        bench_cuda()
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
