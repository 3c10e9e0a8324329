"""Training RBMs by contrastive divergence (CD-k) and persistent CD (PCD-k).

The log-likelihood gradient is computed analytically as positive minus negative phase
statistics,

    ∂⟨log p(v)⟩/∂W = ⟨v E[h|v]ᵀ⟩_data − ⟨v E[h|v]ᵀ⟩_chains,

(likewise ``a`` with ⟨v⟩ and ``b`` with ⟨E[h|v]⟩), where the negative-phase chains start at the
mini-batch (CD-k) or persist across updates (PCD-k, Tieleman 2008). Both phases are stacked
into one (B+C)-row buffer so the weight gradient is a single matrix product, and all work
happens in preallocated buffers: no autograd, no per-update allocations.

PCD chains persist their hidden states, sampled from p(h|v) at the end of each update (as in
scikit-learn's ``BernoulliRBM``), so that PCD-k costs the same 2k+1 matrix products as CD-k.

Defaults are the P1 authors' settings: PCD-1, Adam with lr 1e-3 and eps 1e-2, batch 100.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from coarsegrain.rbm.model import RBM, sample_from_prob, unit_prob
from coarsegrain.rbm.monitors import CURVE_COLUMNS, RBMMonitor

RESUME_FILE = "resume.pt"


class TrainingDivergedError(FloatingPointError):
    """Training produced NaN/inf or runaway weights; the message names the update and the
    offending statistic."""

    def __init__(self, update: int, statistic: str, value: float, detail: str = ""):
        self.update, self.statistic, self.value = update, statistic, value
        super().__init__(f"RBM training diverged at update {update}: {statistic} = {value!r}"
                         + (f" ({detail})" if detail else ""))


def log_spaced(n: int, per_octave: float = 1, start: int = 1) -> list[int]:
    """Sorted unique integers ≈ 2^(i/per_octave) from ``start`` up to ``n``, plus ``n``."""
    if n < 1:
        return []
    out, i = set(), 0
    while True:
        x = round(2 ** (i / per_octave))
        if x > n:
            break
        if x >= start:
            out.add(x)
        i += 1
    out.add(n)
    return sorted(out)


def lr_factor(update: int, n_updates: int, schedule: str, final_ratio: float) -> float:
    """Learning-rate multiplier at ``update`` (1-based) of ``n_updates``.

    ``constant``: 1; ``linear``: from 1 to ``final_ratio``; ``exponential``: geometric from 1 to
    ``final_ratio``.
    """
    x = (update - 1) / max(1, n_updates - 1)
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - (1.0 - final_ratio) * x
    if schedule == "exponential":
        return final_ratio ** x
    raise ValueError(f"schedule={schedule!r} is not allowed; choose constant, linear, exponential")


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in checkpoints; see :class:`RBMTrainer`)."""

    method: str = "pcd"
    k: int = 1
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-2
    weight_decay: float = 0.0
    batch_size: int = 100
    n_updates: int | None = None
    n_epochs: int | None = None
    schedule: str = "constant"
    lr_final: float | None = None
    n_chains: int | None = None
    chain_init: str = "data"
    seed: int = 0
    max_weight: float = 1e4

    def check(self) -> None:
        def bad(name, allowed):
            raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; {allowed}")

        if self.method not in ("cd", "pcd"):
            bad("method", "choose 'cd' or 'pcd'")
        if self.optimizer not in ("sgd", "adam"):
            bad("optimizer", "choose 'sgd' or 'adam'")
        if self.schedule not in ("constant", "linear", "exponential"):
            bad("schedule", "choose constant, linear or exponential")
        if self.chain_init not in ("data", "random"):
            bad("chain_init", "choose 'data' or 'random'")
        for name in ("k", "batch_size"):
            if int(getattr(self, name)) < 1:
                bad(name, "must be an integer >= 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            bad("lr", "must be a finite number > 0")
        if not 0 <= self.momentum < 1:
            bad("momentum", "must be in [0, 1)")
        if self.weight_decay < 0:
            bad("weight_decay", "must be >= 0")
        if self.eps <= 0 or not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            bad("eps", "need eps > 0 and beta1, beta2 in [0, 1)")
        if (self.n_updates is None) == (self.n_epochs is None):
            raise ValueError("give exactly one of n_updates and n_epochs "
                             f"(got n_updates={self.n_updates}, n_epochs={self.n_epochs})")
        for name in ("n_updates", "n_epochs", "n_chains"):
            v = getattr(self, name)
            if v is not None and int(v) < 1:
                bad(name, "must be an integer >= 1")
        if self.lr_final is not None and not self.lr_final > 0:
            bad("lr_final", "must be > 0")


# Settings that may differ when a run is resumed.
_RESUMABLE = {"n_updates", "n_epochs"}


class _Workspace:
    """Preallocated buffers for one batch size B and chain count C."""

    def __init__(self, B: int, C: int, nv: int, nh: int, device, dtype, cd: bool):
        kw = {"device": device, "dtype": dtype}
        self.V2 = torch.empty(B + C, nv, **kw)  # [v_data; v_chains]
        self.H2 = torch.empty(B + C, nh, **kw)  # [E[h|v_data]/B; −E[h|v_chains]/C]
        self.Uv = torch.empty(C, nv, **kw)
        self.Hs = torch.empty(B, nh, **kw) if cd else None
        self.B, self.C = B, C


class RBMTrainer:
    """Trains an :class:`~coarsegrain.rbm.RBM` in place with CD-k or PCD-k.

    Parameters
    ----------
    rbm : the model (its device and dtype are used throughout)
    method : "pcd" (persistent chains) or "cd"
    k : Gibbs steps per update
    optimizer : "adam" or "sgd" (with optional ``momentum``)
    lr : learning rate; ``schedule`` ("constant", "linear", "exponential") takes it to
        ``lr_final`` (default lr/10 for non-constant schedules) at the last update
    beta1, beta2, eps : Adam parameters (P1: eps = 1e-2), PyTorch's convention
        (eps added to the bias-corrected √v)
    weight_decay : L2 penalty on W (not the biases), added to the gradient
    batch_size : mini-batch size B
    n_updates, n_epochs : training length (exactly one); an epoch is ceil(n / B) updates
    n_chains : PCD chains (default B); CD always uses one chain per batch row
    chain_init : PCD chains start from p(h | random data rows) ("data") or random states
    monitor : :class:`RBMMonitor` (default: ``RBMMonitor()``, the cheap metrics only —
        reconstruction error, free energies, pseudo-likelihood, and the exact log-likelihood
        where enumeration is possible; AIS and model-sample physics are opt-in, see
        :class:`RBMMonitor`); ``False`` for none
    monitor_every : evaluate every this many updates; default log-spaced,
        ``monitor_per_octave`` points per doubling (default 2: 18 evaluations in 300 updates,
        28 in 10⁴), counting update 0 and the last update
    monitor_heavy_per_octave : evaluate the costly metrics (AIS likelihoods, model-sample
        observables; see :class:`RBMMonitor`) only at the monitor points that are also
        log-spaced with this many per doubling (may be fractional: 0.25 is every 16×), plus the
        first and last; default: at every monitor point
    checkpoint_dir : where to write model checkpoints ``rbm_update{u:07d}.pt`` at log-spaced
        updates (``checkpoint_per_octave``) and ``resume.pt`` (full training state)
    resume_every : also refresh ``resume.pt`` every this many updates
    seed : the run's seed; data order, Gibbs sampling and monitors use independent streams
        derived from it, so the same seed gives the same run (on the same device)
    check_every : divergence check interval in updates (default 1 on CPU, 50 on GPU)
    max_weight : the divergence guard stops when max|W| exceeds this
    binary_data : demand exact unit values in the data (default: True for "pm1", False for
        "01", whose data may be probabilities)
    progress : show a tqdm progress bar on stderr
    record_time : add ``wall_time`` rows (training seconds, monitors excluded); makes the curve
        non-reproducible, so off by default
    snapshot_at : keep the parameters (CPU copies of W, a, b) in ``self.snapshots`` (dict
        update → tensors) at every monitor point (``"monitor"``) or only where the costly
        metrics, such as the held-out likelihood, are evaluated (``"heavy"``); ``None`` keeps
        none. They travel with ``resume.pt``. :func:`coarsegrain.rbm.selection.rbm_at` restores
        one, so the checkpoint chosen on held-out data can be used
    """

    def __init__(self, rbm: RBM, *, method: str = "pcd", k: int = 1, optimizer: str = "adam",
                 lr: float = 1e-3, momentum: float = 0.0, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-2, weight_decay: float = 0.0,
                 batch_size: int = 100, n_updates: int | None = None,
                 n_epochs: int | None = None, schedule: str = "constant",
                 lr_final: float | None = None, n_chains: int | None = None,
                 chain_init: str = "data", monitor: RBMMonitor | bool | None = None,
                 monitor_every: int | None = None, monitor_per_octave: int = 2,
                 monitor_heavy_per_octave: float | None = None,
                 checkpoint_dir: str | os.PathLike | None = None,
                 checkpoint_per_octave: int = 1, resume_every: int | None = None,
                 seed: int = 0, check_every: int | None = None, max_weight: float = 1e4,
                 binary_data: bool | None = None, progress: bool = True,
                 record_time: bool = False, snapshot_at: str | None = None):
        if not isinstance(rbm, RBM):
            raise TypeError(f"rbm must be a coarsegrain.rbm.RBM; got {type(rbm).__name__}")
        if n_updates is None and n_epochs is None:
            n_updates = 10_000
        self.cfg = TrainConfig(method=method, k=int(k), optimizer=optimizer, lr=float(lr),
                               momentum=float(momentum), beta1=float(beta1), beta2=float(beta2),
                               eps=float(eps), weight_decay=float(weight_decay),
                               batch_size=int(batch_size), n_updates=n_updates,
                               n_epochs=n_epochs, schedule=schedule, lr_final=lr_final,
                               n_chains=n_chains, chain_init=chain_init, seed=int(seed),
                               max_weight=float(max_weight))
        self.cfg.check()
        self.rbm = rbm
        if monitor is None or monitor is True:
            monitor = RBMMonitor()
        self.monitor = monitor or None
        self.monitor_every = monitor_every
        self.monitor_per_octave = int(monitor_per_octave)
        if monitor_heavy_per_octave is not None and not monitor_heavy_per_octave > 0:
            raise ValueError("monitor_heavy_per_octave must be > 0 (or None for every monitor "
                             f"point); got {monitor_heavy_per_octave}")
        self.monitor_heavy_per_octave = monitor_heavy_per_octave
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_per_octave = int(checkpoint_per_octave)
        self.resume_every = resume_every
        self.check_every = check_every or (1 if rbm.device.type == "cpu" else 50)
        self.binary_data = (rbm.units == "pm1") if binary_data is None else bool(binary_data)
        self.progress = progress
        self.record_time = record_time
        if snapshot_at not in (None, "monitor", "heavy"):
            raise ValueError(f"snapshot_at={snapshot_at!r} is not allowed; choose None, "
                             "'monitor' or 'heavy'")
        self.snapshot_at = snapshot_at
        self.snapshots: dict[int, dict[str, torch.Tensor]] = {}
        self.update = 0
        self.rows: list[tuple] = []
        self.train_seconds = 0.0
        self.gen: torch.Generator | None = None
        self.stream = None  # BernoulliStream of the Gibbs steps on a CPU
        self.chain_h: torch.Tensor | None = None
        self.opt: dict[str, torch.Tensor] = {}
        self._ws: dict[int, _Workspace] = {}
        self._perm_cache: tuple[int, torch.Tensor] | None = None

    # ------------------------------------------------------------------ set-up
    @property
    def n_chains(self) -> int:
        return self.cfg.n_chains or self.cfg.batch_size

    def _params(self) -> list[tuple[str, torch.Tensor]]:
        names = ("W", "a", "b") if self.rbm.bias else ("W",)
        return [(n, getattr(self.rbm, n).data) for n in names]

    def _init_state(self, data: torch.Tensor) -> None:
        from coarsegrain.runtime import torch_generator

        rbm, cfg = self.rbm, self.cfg
        self.gen = torch_generator(cfg.seed, "rbm-gibbs", device=rbm.device)
        self.stream = self._new_stream()
        self.opt = {}
        for name, p in self._params():
            if cfg.optimizer == "adam":
                self.opt[f"m_{name}"] = torch.zeros_like(p)
                self.opt[f"v_{name}"] = torch.zeros_like(p)
            elif cfg.momentum > 0:
                self.opt[f"vel_{name}"] = torch.zeros_like(p)
        if cfg.method == "pcd":
            C = self.n_chains
            with torch.no_grad():
                if cfg.chain_init == "data":
                    idx = torch.randint(0, data.shape[0], (C,), generator=self.gen,
                                        device=rbm.device)
                    p = unit_prob(rbm.hidden_field(data[idx]), rbm.units)
                else:
                    p = torch.full((C, rbm.n_hidden), 0.5, device=rbm.device, dtype=rbm.dtype)
                self.chain_h = sample_from_prob(p, rbm.units, self.gen)
        self.update, self.rows, self.train_seconds = 0, [], 0.0
        self.snapshots = {}

    def _new_stream(self, counter: int = 0):
        """CPU: the fused counter-based Bernoulli sampler (see :mod:`coarsegrain.rbm.kernels`);
        CUDA: None (torch's generator, whose Philox stream is already parallel)."""
        if self.rbm.device.type != "cpu":
            return None
        from coarsegrain.rbm.kernels import BernoulliStream
        from coarsegrain.runtime import seed_sequence

        key = seed_sequence(self.cfg.seed, "rbm-gibbs-stream").generate_state(1, np.uint64)[0]
        return BernoulliStream(int(key), counter)

    def _sample_(self, p: torch.Tensor, out: torch.Tensor, scratch: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """Unit states drawn from the probabilities ``p`` into ``out``; ``out`` may be ``p`` if
        a ``scratch`` tensor of the same shape is given (used off the CPU)."""
        if self.stream is not None:
            return self.stream.sample(p, out, -1.0 if self.rbm.units == "pm1" else 0.0)
        if out is p:
            return self._states_(p.gt_(scratch.uniform_(generator=self.gen)))
        return self._states_(out.uniform_(generator=self.gen).lt_(p))

    def _workspace(self, B: int) -> _Workspace:
        ws = self._ws.get(B)
        if ws is None:
            cd = self.cfg.method == "cd"
            ws = _Workspace(B, B if cd else self.n_chains, self.rbm.n_visible, self.rbm.n_hidden,
                            self.rbm.device, self.rbm.dtype, cd)
            self._ws[B] = ws  # at most two sizes: full batches and the epoch's last one
        return ws

    # ------------------------------------------------------------------ one update
    def _prob_(self, x: torch.Tensor) -> torch.Tensor:
        """In place: field -> p(unit up)."""
        return (x.mul_(2.0) if self.rbm.units == "pm1" else x).sigmoid_()

    def _states_(self, x: torch.Tensor) -> torch.Tensor:
        """In place: {0,1} indicator -> unit states."""
        return x.mul_(2.0).sub_(1.0) if self.rbm.units == "pm1" else x

    def _statistics(self, vpos_fill, B: int) -> _Workspace:
        """Fill the workspace with both phases for one batch: V2 = [v_data; v_chains] and
        H2 = [E[h|v_data]/B; −E[h|v_chains]/C], so that the W gradient is V2ᵀ H2."""
        rbm, cfg = self.rbm, self.cfg
        W, a, b = rbm.W.data, rbm.a.data, rbm.b.data
        ws = self._workspace(B)
        vpos, vneg = ws.V2[:B], ws.V2[B:]
        hpos, hneg = ws.H2[:B], ws.H2[B:]
        vpos_fill(vpos)
        self._prob_(torch.addmm(b, vpos, W, out=hpos))
        if cfg.method == "cd":
            hs = self._sample_(hpos, ws.Hs)
        else:
            hs = self.chain_h
        for step in range(cfg.k):
            self._prob_(torch.addmm(a, hs, W.t(), out=vneg))
            self._sample_(vneg, vneg, ws.Uv)
            self._prob_(torch.addmm(b, vneg, W, out=hneg))
            if step < cfg.k - 1 or cfg.method == "pcd":
                if cfg.method == "pcd":
                    hs = self.chain_h
                self._sample_(hneg, hs)
        if rbm.units == "pm1":  # p -> E[h|v] = 2p − 1, with the phase weights folded in
            hpos.mul_(2.0 / B).sub_(1.0 / B)
            hneg.mul_(-2.0 / ws.C).add_(1.0 / ws.C)
        else:
            hpos.mul_(1.0 / B)
            hneg.mul_(-1.0 / ws.C)
        return ws

    def _bias_grads(self, ws: _Workspace) -> tuple[torch.Tensor, torch.Tensor]:
        ga = ws.V2[:ws.B].sum(0).mul_(1.0 / ws.B).sub_(ws.V2[ws.B:].sum(0), alpha=1.0 / ws.C)
        return ga, ws.H2.sum(0)

    @torch.no_grad()
    def gradient_estimate(self, batch) -> dict[str, torch.Tensor]:
        """The stochastic log-likelihood gradient this trainer would use for ``batch``
        (positive minus negative phase statistics), without changing the parameters.

        Advances the Gibbs generator and, for PCD, the persistent chains, exactly as an update
        would. Returns new tensors ``W`` (n_visible, n_hidden), ``a``, ``b``.
        """
        v = self.rbm.check_data(batch, exact=self.binary_data, name="batch")
        if self.gen is None:
            self._init_state(v)
        ws = self._statistics(lambda out: out.copy_(v), v.shape[0])
        ga, gb = self._bias_grads(ws)
        return {"W": ws.V2.t() @ ws.H2, "a": ga.clone(), "b": gb.clone()}

    def _apply(self, ws: _Workspace, lr: float, t: int) -> None:
        cfg = self.cfg
        W = self.rbm.W.data
        grads = {"W": None}
        if self.rbm.bias:
            grads["a"], grads["b"] = self._bias_grads(ws)
        if cfg.optimizer == "sgd" and cfg.momentum == 0:
            if cfg.weight_decay:
                W.mul_(1.0 - lr * cfg.weight_decay)
            W.addmm_(ws.V2.t(), ws.H2, alpha=lr)
            for name in ("a", "b") if self.rbm.bias else ():
                getattr(self.rbm, name).data.add_(grads[name], alpha=lr)
            return
        if "G" not in self.opt:
            self.opt["G"] = torch.empty_like(W)  # scratch, not saved
            if cfg.optimizer == "adam":
                self.opt["D"] = torch.empty_like(W)
        G = torch.mm(ws.V2.t(), ws.H2, out=self.opt["G"])
        if cfg.weight_decay:
            G.add_(W, alpha=-cfg.weight_decay)
        grads["W"] = G
        for name, p in self._params():
            g = grads[name]
            if cfg.optimizer == "sgd":
                vel = self.opt[f"vel_{name}"]
                vel.mul_(cfg.momentum).add_(g, alpha=lr)
                p.add_(vel)
                continue
            m, v = self.opt[f"m_{name}"], self.opt[f"v_{name}"]
            m.lerp_(g, 1.0 - cfg.beta1)
            v.mul_(cfg.beta2).addcmul_(g, g, value=1.0 - cfg.beta2)
            bc1 = 1.0 - cfg.beta1 ** t
            bc2 = 1.0 - cfg.beta2 ** t
            d = torch.sqrt(v, out=self.opt["D"]) if name == "W" else v.sqrt()
            d.mul_(1.0 / math.sqrt(bc2)).add_(cfg.eps)
            p.addcdiv_(m, d, value=lr / bc1)

    def _guard(self, ws: _Workspace) -> None:
        rbm = self.rbm
        params = (rbm.W.data, rbm.a.data, rbm.b.data) if rbm.bias else (rbm.W.data,)
        # Fast path: Euclidean norms are NaN/inf if any entry is, and max|W| <= ||W||.
        norms = torch.stack([torch.linalg.vector_norm(t) for t in params]).tolist()
        if all(math.isfinite(x) for x in norms) and norms[0] <= self.cfg.max_weight:
            return
        ext = torch.stack([x for t in params for x in t.aminmax()]).tolist()
        vals = [max(abs(ext[i]), abs(ext[i + 1])) if not math.isnan(ext[i] + ext[i + 1])
                else math.nan for i in range(0, len(ext), 2)]
        if all(math.isfinite(x) for x in vals) and vals[0] <= self.cfg.max_weight:
            return
        u = self.update
        where = (f"checked every {self.check_every} updates" if self.check_every > 1 else "")
        # Name the first non-finite quantity in the order it is computed.
        B = ws.B
        for name, t in (("positive-phase statistics E[h|v_data]", ws.H2[:B]),
                        ("negative-phase chain states v", ws.V2[B:]),
                        ("negative-phase statistics E[h|v_chains]", ws.H2[B:])):
            bad = ~torch.isfinite(t)
            if bool(bad.any()):
                raise TrainingDivergedError(u, name, float(t[bad][0]), where)
        names = ["max|W|", "max|a|", "max|b|"]
        for name, x in zip(names, vals, strict=False):
            if not math.isfinite(x):
                raise TrainingDivergedError(u, name, x, where)
        raise TrainingDivergedError(u, "max|W|", vals[0],
                                    f"limit max_weight={self.cfg.max_weight:g}; lower lr"
                                    + (f"; {where}" if where else ""))

    # ------------------------------------------------------------------ checkpoints
    def _meta(self, n_train: int) -> dict:
        return {"trainer": asdict(self.cfg), "update": self.update, "n_train": n_train}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Full training state (model, optimiser, chains, generator) as CPU tensors."""
        state = self.rbm.state_tensors()
        state.update({f"opt.{k}": v.detach().cpu().clone() for k, v in self.opt.items()
                      if k not in ("G", "D")})
        if self.chain_h is not None:
            state["chain_h"] = self.chain_h.cpu().clone()
        state["gen_state"] = self.gen.get_state()
        for u, snap in self.snapshots.items():
            state.update({f"snapshot.{u}.{k}": v for k, v in snap.items()})
        if self.stream is not None:
            state["stream_counter"] = torch.tensor(self.stream.counter, dtype=torch.int64)
        return state

    def save_resume(self, path, n_train: int) -> None:
        from coarsegrain.io import save_checkpoint

        meta = {**self._meta(n_train), "rbm": self.rbm.config(), "rows": self.rows,
                "train_seconds": self.train_seconds}
        save_checkpoint(self.state_dict(), path, meta=meta)

    def load_resume(self, path, n_train: int) -> None:
        from coarsegrain.io import CoarsegrainIOError, load_checkpoint

        state, meta = load_checkpoint(path, map_location="cpu")
        if "trainer" not in meta or "gen_state" not in state:
            raise CoarsegrainIOError(f"{path}: not an RBM training checkpoint")
        saved, now = meta["trainer"], asdict(self.cfg)
        diff = sorted(k for k in now if k not in _RESUMABLE and saved.get(k) != now[k])
        if meta.get("rbm") != self.rbm.config():
            diff.append("rbm architecture")
        if meta.get("n_train") != n_train:
            diff.append(f"training data size ({meta.get('n_train')} vs {n_train})")
        if diff:
            raise ValueError(f"cannot resume from {path}: settings differ in {', '.join(diff)}")
        dev = self.rbm.device
        with torch.no_grad():
            for k in ("W", "a", "b"):
                getattr(self.rbm, k).copy_(state[k])
        self.opt = {k[4:]: v.to(dev) for k, v in state.items() if k.startswith("opt.")}
        self.chain_h = state["chain_h"].to(dev) if "chain_h" in state else None
        from coarsegrain.runtime import torch_generator

        self.gen = torch_generator(self.cfg.seed, "rbm-gibbs", device=dev)
        self.gen.set_state(state["gen_state"])
        self.stream = self._new_stream(int(state.get("stream_counter", torch.tensor(0))))
        self.update = int(meta["update"])
        self.snapshots = {}
        for key, v in state.items():
            if key.startswith("snapshot."):
                _, u, name = key.split(".")
                self.snapshots.setdefault(int(u), {})[name] = v
        self.rows = [tuple(r) for r in meta["rows"]]
        self.train_seconds = float(meta.get("train_seconds", 0.0))

    # ------------------------------------------------------------------ the loop
    def _perm(self, epoch: int, n: int) -> torch.Tensor:
        if self._perm_cache is None or self._perm_cache[0] != epoch:
            from coarsegrain.runtime import torch_generator

            g = torch_generator(self.cfg.seed, "rbm-shuffle", epoch)
            self._perm_cache = (epoch, torch.randperm(n, generator=g).to(self.rbm.device))
        return self._perm_cache[1]

    def _record(self, epoch: float, n_train: int, heavy: bool = True) -> None:
        from coarsegrain.runtime import torch_generator

        u = self.update
        if self.monitor is not None:
            g = torch_generator(self.cfg.seed, "rbm-monitor", u, device=self.rbm.device)
            self.rows += [(u, epoch, m, float(v), float(e))
                          for m, v, e in self.monitor(self.rbm, g, heavy=heavy)]
        if self.record_time:
            self.rows.append((u, epoch, "wall_time", self.train_seconds, math.nan))
        if self.snapshot_at == "monitor" or (self.snapshot_at == "heavy" and heavy):
            self.snapshots[u] = self.rbm.state_tensors()

    def curve(self) -> pd.DataFrame:
        """The training curve so far: columns update, epoch, metric, value, error."""
        df = pd.DataFrame(self.rows, columns=CURVE_COLUMNS)
        return df.astype({"update": "int64", "epoch": "float64", "value": "float64",
                          "error": "float64"})

    def fit(self, data, heldout=None, resume: bool = False) -> pd.DataFrame:
        """Train on ``data`` (n, n_visible) or (n, *lattice); return the training curve.

        Parameters
        ----------
        data : training samples (validated: shape, NaN, unit values)
        heldout : optional held-out samples for the free-energy gap and held-out likelihood
        resume : continue from ``checkpoint_dir/resume.pt`` if it exists (the settings must
            match, except the training length); the result is identical to an uninterrupted run

        Returns
        -------
        pandas.DataFrame with columns update (int), epoch (float), metric (str), value, error
        """
        from coarsegrain.runtime import torch_generator

        rbm, cfg = self.rbm, self.cfg
        x = rbm.check_data(data, exact=self.binary_data, name="data")
        xh = None if heldout is None else rbm.check_data(heldout, exact=self.binary_data,
                                                         name="heldout")
        n, B = x.shape[0], cfg.batch_size
        per_epoch = math.ceil(n / B)
        total = cfg.n_updates if cfg.n_updates is not None else cfg.n_epochs * per_epoch
        resume_path = self.checkpoint_dir / RESUME_FILE if self.checkpoint_dir else None
        if resume and resume_path is not None and resume_path.exists():
            self.load_resume(resume_path, n)
        elif self.gen is None or self.update == 0:
            self._init_state(x)
        if self.monitor is not None:
            self.monitor.prepare(rbm, x, xh, torch_generator(cfg.seed, "rbm-monitor-subset"),
                                 binary=self.binary_data)
        if self.monitor_every:
            mon_at = set(range(0, total + 1, int(self.monitor_every))) | {total}
        else:
            mon_at = {0, *log_spaced(total, self.monitor_per_octave)}
        heavy_at = mon_at if self.monitor_heavy_per_octave is None else (
            mon_at & {0, total, *log_spaced(total, self.monitor_heavy_per_octave)})
        ckpt_at = set(log_spaced(total, self.checkpoint_per_octave)) if resume_path else set()
        final_ratio = (cfg.lr_final / cfg.lr) if cfg.lr_final else (
            1.0 if cfg.schedule == "constant" else 0.1)
        if self.update == 0 and 0 in mon_at and not self.rows:
            self._record(0.0, n)

        # smoothing < default: the per-update cost is steady once monitors are excluded (below),
        # so a longer average gives a steadier ETA in the logs
        bar = tqdm(total=total, initial=self.update, disable=not self.progress, mininterval=5,
                   desc=f"RBM {cfg.method.upper()}-{cfg.k} {rbm.n_visible}x{rbm.n_hidden}",
                   unit="upd", smoothing=0.1)
        t_start = time.perf_counter()
        try:
            with torch.no_grad():
                while self.update < total:
                    u = self.update + 1
                    epoch, pos = divmod(u - 1, per_epoch)
                    idx = self._perm(epoch, n)[pos * B:(pos + 1) * B]
                    ws = self._statistics(
                        lambda out, idx=idx: torch.index_select(x, 0, idx, out=out), len(idx))
                    lr = cfg.lr * lr_factor(u, total, cfg.schedule, final_ratio)
                    self._apply(ws, lr, u)
                    self.update = u
                    if u % self.check_every == 0 or u == total:
                        self._guard(ws)
                    bar.update(1)
                    if u in mon_at or u in ckpt_at or (self.resume_every
                                                       and u % self.resume_every == 0):
                        self.train_seconds += time.perf_counter() - t_start
                        if u % self.check_every:
                            self._guard(ws)
                        if u in mon_at:
                            self._record(u / per_epoch, n, heavy=u in heavy_at)
                        if u in ckpt_at:
                            self._save_model_checkpoint(u, per_epoch, n)
                        if u in ckpt_at or (self.resume_every and u % self.resume_every == 0):
                            self.save_resume(resume_path, n)
                        t_start = time.perf_counter()
                        # Monitors (dense early, on a log scale) and the first update's JIT
                        # compile would otherwise count as update time: the first ETAs were
                        # 100x too long. The bar's rate and elapsed count updates only.
                        bar.unpause()
        finally:
            bar.close()
        return self.curve()

    def _save_model_checkpoint(self, u: int, per_epoch: int, n_train: int) -> None:
        path = self.checkpoint_dir / f"rbm_update{u:07d}.pt"
        self.rbm.save(path, meta={**self._meta(n_train), "epoch": u / per_epoch})


def train_rbm(rbm: RBM, data, heldout=None, **kwargs) -> pd.DataFrame:
    """Train ``rbm`` in place (see :class:`RBMTrainer` for the keyword arguments) and return
    the training curve."""
    resume = kwargs.pop("resume", False)
    return RBMTrainer(rbm, **kwargs).fit(data, heldout, resume=resume)


def rbm_gradient(rbm: RBM, v_pos, v_neg) -> dict[str, torch.Tensor]:
    """Positive minus negative phase statistics for data ``v_pos`` and model samples ``v_neg``:
    ``W``: ⟨v E[h|v]ᵀ⟩_pos − ⟨v E[h|v]ᵀ⟩_neg, ``a``: ⟨v⟩_pos − ⟨v⟩_neg, ``b``: likewise with E[h|v].
    With exact model samples this is an unbiased estimate of the log-likelihood gradient."""
    vp = rbm._batch(v_pos, rbm.n_visible, "v_pos")
    vn = rbm._batch(v_neg, rbm.n_visible, "v_neg")
    hp, hn = rbm.mean_h(vp), rbm.mean_h(vn)
    return {"W": vp.t() @ hp / len(vp) - vn.t() @ hn / len(vn),
            "a": vp.mean(0) - vn.mean(0), "b": hp.mean(0) - hn.mean(0)}
