"""RBM benchmarks: CD-1/PCD-1 throughput against scikit-learn, and random vs covariance init.

1. Training throughput (samples/s) at 784×500 and 1024×256, batch 100, float32, {0,1} units,
   plain SGD: this project's CD-1 and PCD-1 against ``sklearn.neural_network.BernoulliRBM``
   (which does PCD-1) on the same data in the same process, with the same number of threads.
   Runs alternate in rounds and the median per-round ratio is reported, because other load on
   the machine moves absolute rates a lot; with one thread the clock is the process's CPU time
   (steadier than wall time on a shared machine, equal to it on an idle one). With a GPU: the
   CUDA rate (wall time) at batch 1000 too.
2. Wall time and updates to reach a fixed exact log-likelihood on a small ±1 RBM trained on
   2D Ising configurations, from random N(0, 0.05²) weights vs covariance initialisation
   (mean-field scaled), and the same for the reconstruction loss of a tied tanh autoencoder.

Usage: ``python benchmarks/rbm.py [--threads N] [--rounds R] [--quick]`` (default < 2 min).
scikit-learn is a benchmark-only dependency (``pip install scikit-learn``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from coarsegrain.rbm import (
    RBM,
    Autoencoder,
    AutoencoderTrainer,
    RBMMonitor,
    RBMTrainer,
    init_weights,
)

CLOCK = time.perf_counter


def project_rate(X: np.ndarray, n_hidden: int, method: str, device="cpu",
                 batch_size: int = 100) -> float:
    rbm = RBM(X.shape[1], n_hidden, units="01", seed=0, device=device)
    tr = RBMTrainer(rbm, method=method, k=1, optimizer="sgd", lr=0.01, batch_size=batch_size,
                    n_epochs=1, monitor=False, progress=False)
    if device != "cpu":
        torch.cuda.synchronize()
        t = time.perf_counter()
        tr.fit(X)
        torch.cuda.synchronize()
        return len(X) / (time.perf_counter() - t)
    t = CLOCK()
    tr.fit(X)
    return len(X) / (CLOCK() - t)


def gemm_floor_rate(X: np.ndarray, n_hidden: int, batch_size: int = 100) -> float:
    """Samples/s of the four float32 matrix products one CD-1 update cannot avoid (three
    conditionals and the fused W gradient), with nothing else: an upper bound on any CD-1
    implementation with this BLAS, and so on the achievable ratio to scikit-learn."""
    nv, B = X.shape[1], batch_size
    x = torch.from_numpy(X)
    W = torch.randn(nv, n_hidden) * 0.01
    a, b = torch.zeros(nv), torch.zeros(n_hidden)
    V2, H2 = torch.empty(2 * B, nv), torch.rand(2 * B, n_hidden)
    hs = (torch.rand(B, n_hidden) < 0.5).float()
    n_batches = len(X) // B
    t = CLOCK()
    for i in range(n_batches):
        V2[:B].copy_(x[i * B:(i + 1) * B])
        torch.addmm(b, V2[:B], W, out=H2[:B])
        torch.addmm(a, hs, W.t(), out=V2[B:])
        torch.addmm(b, V2[B:], W, out=H2[B:])
        W.addmm_(V2.t(), H2, alpha=1e-6)
    return n_batches * B / (CLOCK() - t)


def sklearn_rate(X: np.ndarray, n_hidden: int) -> float:
    from sklearn.neural_network import BernoulliRBM

    rbm = BernoulliRBM(n_components=n_hidden, batch_size=100, learning_rate=0.01, n_iter=1,
                       random_state=0)
    t = CLOCK()
    rbm.fit(X)
    return len(X) / (CLOCK() - t)


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
        rates: dict[str, list[float]] = {"cd": [], "pcd": [], "gemm": [], "sklearn": []}
        for _ in range(rounds):
            rates["cd"].append(project_rate(X, nh, "cd"))
            rates["pcd"].append(project_rate(X, nh, "pcd"))
            rates["gemm"].append(gemm_floor_rate(X, nh))
            if have_sklearn:
                rates["sklearn"].append(sklearn_rate(X, nh))
        med = {k: statistics.median(v) for k, v in rates.items() if v}
        line = (f"{nv}x{nh}: project CD-1 {med['cd']:,.0f}/s, PCD-1 {med['pcd']:,.0f}/s")
        if have_sklearn:
            r_cd = statistics.median(a / b for a, b in zip(rates["cd"], rates["sklearn"],
                                                           strict=True))
            r_pcd = statistics.median(a / b for a, b in zip(rates["pcd"], rates["sklearn"],
                                                            strict=True))
            r_gemm = statistics.median(a / b for a, b in zip(rates["gemm"], rates["sklearn"],
                                                             strict=True))
            line += (f"; sklearn BernoulliRBM (PCD-1) {med['sklearn']:,.0f}/s; ratio CD-1 "
                     f"{r_cd:.2f}x, PCD-1 {r_pcd:.2f}x (median of per-round ratios); "
                     f"matrix products alone {med['gemm']:,.0f}/s = {r_gemm:.2f}x sklearn, the "
                     f"ceiling for any float32 CD-1 on this BLAS")
        print(line, flush=True)
    if torch.cuda.is_available():
        X = (rng.random((100_000, 784)) < 0.3).astype(np.float32)
        project_rate(X[:20_000], 500, "pcd", device="cuda", batch_size=1000)
        r = [project_rate(X, 500, m, device="cuda", batch_size=1000) for m in ("cd", "pcd")]
        print(f"CUDA ({torch.cuda.get_device_name()}), 784x500, batch 1000: CD-1 {r[0]:,.0f}/s, "
              f"PCD-1 {r[1]:,.0f}/s")


def _time_to_target(curves: dict, metric: str, target: float, higher: bool) -> dict:
    reached = {}
    for scheme, c in curves.items():
        ok = c[metric] >= target if higher else c[metric] <= target
        hit = c[ok]
        if len(hit):
            reached[scheme] = (int(hit.index[0]), float(hit["wall_time"].iloc[0]))
            print(f"{scheme:>10}: start {c[metric].iloc[0]:.4g}, reaches the target at update "
                  f"{reached[scheme][0]} ({reached[scheme][1]:.2f} s of training); final "
                  f"{c[metric].iloc[-1]:.4g}")
        else:
            print(f"{scheme:>10}: start {c[metric].iloc[0]:.4g}, never reaches the target; final "
                  f"{c[metric].iloc[-1]:.4g}")
    if len(reached) == 2:
        (ur, sr), (uc, sc) = reached["random"], reached["covariance"]
        print(f"speedup of covariance init: {ur / max(uc, 1):.1f}x in updates, "
              f"{sr / max(sc, 1e-3):.1f}x in wall time")
    return reached


def init_speedup(quick: bool) -> None:
    from coarsegrain.lattice.ising2d import metropolis_sample

    L, T, nh = 8, 2.5, 16
    n_updates = 1000 if quick else 2000
    spins, _, _ = metropolis_sample(L, [T], 4000, n_chains=200, n_therm=300, thin=5, seed=1,
                                    device="cpu", progress=False)
    x = spins[0]
    curves = {}
    for scheme in ("random", "covariance"):
        rbm = RBM(L * L, nh, seed=0)
        if scheme == "covariance":
            init_weights(rbm, scheme, data=x, weighting="mean_field", seed=0)
        tr = RBMTrainer(rbm, n_updates=n_updates, lr=1e-2, schedule="exponential",
                        lr_final=1e-4, batch_size=100, n_chains=500,
                        monitor=RBMMonitor(metrics=("loglik",), n_samples=1000),
                        monitor_every=n_updates // 40, progress=False, record_time=True, seed=0)
        curves[scheme] = tr.fit(x).pivot(index="update", columns="metric", values="value")
    c = curves["random"]["loglik_train"]
    target = c.iloc[0] + 0.95 * (c.iloc[-1] - c.iloc[0])
    print(f"\n== random vs covariance init (mean-field scaled): ±1 RBM {L * L}x{nh} on Ising "
          f"L={L} T={T}, PCD-1, Adam 1e-2 -> 1e-4; target: exact log-likelihood "
          f"{target:.3f} nats per sample (95% of the random run's gain) ==")
    _time_to_target(curves, "loglik_train", target, higher=True)

    curves = {}
    xf = x.reshape(len(x), -1).astype(np.float32)
    for scheme in ("random", "covariance"):
        ae = Autoencoder(L * L, nh, tied=True, activation="tanh", seed=0)
        if scheme == "covariance":
            init_weights(ae, scheme, data=xf, scale=1.0, seed=0)
        tr = AutoencoderTrainer(ae, lr=1e-3, n_updates=n_updates, batch_size=100,
                                monitor_every=n_updates // 40, progress=False, record_time=True)
        curves[scheme] = tr.fit(xf).pivot(index="update", columns="metric", values="value")
    c = curves["random"]["reconstruction_error"]
    target = c.iloc[0] + 0.95 * (c.iloc[-1] - c.iloc[0])
    print(f"\n== random vs covariance init (unit columns): tied tanh autoencoder {L * L}x{nh}, "
          f"Adam 1e-3; target: reconstruction MSE {target:.4f} (95% of the random run's gain) ==")
    _time_to_target(curves, "reconstruction_error", target, higher=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1,
                    help="torch and BLAS threads for both libraries (default 1)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n-samples", type=int, default=10000,
                    help="training samples per throughput run (one epoch)")
    ap.add_argument("--quick", action="store_true", help="fewer rounds and updates")
    args = ap.parse_args()
    global CLOCK
    torch.set_num_threads(args.threads)
    if args.threads == 1:
        CLOCK = time.process_time
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
