"""RBM benchmarks: CD-1/PCD-1 throughput against scikit-learn, and random vs covariance init.

1. Training throughput (samples/s) at 784×500 and 1024×256, batch 100, float32, {0,1} units,
   plain SGD: this project's CD-1 and PCD-1 against ``sklearn.neural_network.BernoulliRBM``
   (which does PCD-1) on the same data in the same process, with the same number of threads.
   Runs alternate in rounds and the median per-round ratio is reported, because other load on
   the machine moves absolute rates a lot. With a GPU: the CUDA rate at batch 1000 too.
2. Wall time and updates to reach a fixed exact log-likelihood on a small ±1 RBM trained on
   2D Ising configurations, from random N(0, 0.05²) weights vs covariance initialisation.

Usage: ``python benchmarks/rbm.py [--threads N] [--rounds R] [--quick]`` (default < 2 min).
scikit-learn is a benchmark-only dependency (``pip install scikit-learn``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from coarsegrain.rbm import RBM, RBMMonitor, RBMTrainer, init_weights


def project_rate(X: np.ndarray, n_hidden: int, method: str, device="cpu",
                 batch_size: int = 100) -> float:
    rbm = RBM(X.shape[1], n_hidden, units="01", seed=0, device=device)
    tr = RBMTrainer(rbm, method=method, k=1, optimizer="sgd", lr=0.01, batch_size=batch_size,
                    n_epochs=1, monitor=False, progress=False)
    if device != "cpu":
        torch.cuda.synchronize()
    t = time.perf_counter()
    tr.fit(X)
    if device != "cpu":
        torch.cuda.synchronize()
    return len(X) / (time.perf_counter() - t)


def sklearn_rate(X: np.ndarray, n_hidden: int) -> float:
    from sklearn.neural_network import BernoulliRBM

    rbm = BernoulliRBM(n_components=n_hidden, batch_size=100, learning_rate=0.01, n_iter=1,
                       random_state=0)
    t = time.perf_counter()
    rbm.fit(X)
    return len(X) / (time.perf_counter() - t)


def throughput(rounds: int, n_samples: int) -> None:
    try:
        import sklearn  # noqa: F401
        have_sklearn = True
    except ImportError:
        have_sklearn = False
        print("scikit-learn not installed: project rates only")
    rng = np.random.default_rng(0)
    print(f"\n== CD-1 / PCD-1 throughput, batch 100, float32, {torch.get_num_threads()} thread(s), "
          f"{n_samples} samples per run, {rounds} rounds ==")
    for nv, nh in ((784, 500), (1024, 256)):
        X = (rng.random((n_samples, nv)) < 0.3).astype(np.float32)
        project_rate(X[:500], nh, "cd")  # warm-up (allocator, kernels)
        rates: dict[str, list[float]] = {"cd": [], "pcd": [], "sklearn": []}
        for _ in range(rounds):
            rates["cd"].append(project_rate(X, nh, "cd"))
            rates["pcd"].append(project_rate(X, nh, "pcd"))
            if have_sklearn:
                rates["sklearn"].append(sklearn_rate(X, nh))
        med = {k: statistics.median(v) for k, v in rates.items() if v}
        line = (f"{nv}x{nh}: project CD-1 {med['cd']:,.0f}/s, PCD-1 {med['pcd']:,.0f}/s")
        if have_sklearn:
            r_cd = statistics.median(a / b for a, b in zip(rates["cd"], rates["sklearn"],
                                                           strict=True))
            r_pcd = statistics.median(a / b for a, b in zip(rates["pcd"], rates["sklearn"],
                                                            strict=True))
            line += (f"; sklearn BernoulliRBM (PCD-1) {med['sklearn']:,.0f}/s; ratio CD-1 "
                     f"{r_cd:.2f}x, PCD-1 {r_pcd:.2f}x (median of per-round ratios)")
        print(line, flush=True)
    if torch.cuda.is_available():
        X = (rng.random((100_000, 784)) < 0.3).astype(np.float32)
        project_rate(X[:20_000], 500, "pcd", device="cuda", batch_size=1000)
        r = [project_rate(X, 500, m, device="cuda", batch_size=1000) for m in ("cd", "pcd")]
        print(f"CUDA ({torch.cuda.get_device_name()}), 784x500, batch 1000: CD-1 {r[0]:,.0f}/s, "
              f"PCD-1 {r[1]:,.0f}/s")


def init_speedup(quick: bool) -> None:
    from coarsegrain.lattice.ising2d import metropolis_sample

    L, T, nh = 8, 2.5, 16
    n_updates = 1500 if quick else 4000
    spins, _, _ = metropolis_sample(L, [T], 4000, n_chains=200, n_therm=300, thin=5, seed=1,
                                    device="cpu", progress=False)
    x = spins[0]
    curves = {}
    for scheme in ("random", "covariance"):
        rbm = RBM(L * L, nh, seed=0)
        init_weights(rbm, scheme, data=x, seed=0)
        tr = RBMTrainer(rbm, n_updates=n_updates, lr=3e-3, batch_size=100, n_chains=200,
                        monitor=RBMMonitor(metrics=("loglik",), n_samples=1000),
                        monitor_every=n_updates // 40, progress=False, record_time=True, seed=0)
        c = tr.fit(x).pivot(index="update", columns="metric", values="value")
        curves[scheme] = c
    ll0 = curves["random"]["loglik_train"].iloc[0]
    ll_end = curves["random"]["loglik_train"].iloc[-1]
    target = ll0 + 0.95 * (ll_end - ll0)
    print(f"\n== random vs covariance init: ±1 RBM {L * L}x{nh}, Ising L={L} T={T}, PCD-1 Adam, "
          f"target exact log-likelihood {target:.3f} nats (95% of the random run's gain) ==")
    reached = {}
    for scheme, c in curves.items():
        hit = c[c["loglik_train"] >= target]
        if len(hit):
            u, s = int(hit.index[0]), float(hit["wall_time"].iloc[0])
            reached[scheme] = (u, s)
            print(f"{scheme:>10}: start {c['loglik_train'].iloc[0]:.3f}, reaches target at update "
                  f"{u} ({s:.2f} s training time); final {c['loglik_train'].iloc[-1]:.3f}")
        else:
            print(f"{scheme:>10}: never reaches the target in {n_updates} updates; final "
                  f"{c['loglik_train'].iloc[-1]:.3f}")
    if len(reached) == 2:
        ur, sr = reached["random"]
        uc, sc = reached["covariance"]
        print(f"speedup of covariance init: {ur / max(uc, 1):.1f}x in updates, "
              f"{sr / max(sc, 1e-9):.1f}x in wall time")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1,
                    help="torch and BLAS threads for both libraries (default 1)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n-samples", type=int, default=3000)
    ap.add_argument("--quick", action="store_true", help="fewer rounds and updates")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        pass
    rounds = 2 if args.quick else args.rounds
    t0 = time.perf_counter()
    throughput(rounds, args.n_samples)
    init_speedup(args.quick)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
