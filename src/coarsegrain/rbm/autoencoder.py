"""Shallow autoencoders (P3), trained by gradient descent on the mean squared error.

``encode(x) = act(x W + b_h)`` and ``decode(z) = out_act(z W_dec + b_v)``, with ``W_dec = Wᵀ``
when tied. ``W`` has the RBM's orientation (n_visible, n_hidden), so the spectral analyses and
covariance initialisation treat RBMs and autoencoders alike.
"""

from __future__ import annotations

import math
import os
import time

import pandas as pd
import torch
from tqdm.auto import tqdm

from coarsegrain.rbm.model import WeightMatrixMixin, as_matrix
from coarsegrain.rbm.monitors import CURVE_COLUMNS
from coarsegrain.rbm.train import TrainingDivergedError, log_spaced

ACTIVATIONS = ("tanh", "sigmoid", "linear")


def _act(name: str):
    return {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda x: x}[name]


class Autoencoder(WeightMatrixMixin, torch.nn.Module):
    """One hidden layer autoencoder.

    Parameters
    ----------
    n_visible, n_hidden : layer sizes
    tied : decoder weights are ``W.T`` (True) or a separate ``W_dec`` (n_hidden, n_visible)
    activation : hidden activation, "tanh" (default, for ±1 spins), "sigmoid" or "linear"
    output_activation : decoder activation (default: same as ``activation``)
    bias : learn biases ``b_h`` (n_hidden,) and ``b_v`` (n_visible,) (else they stay zero)
    init_std : weights start N(0, init_std²) (see also :func:`coarsegrain.rbm.init.init_weights`)
    device, dtype, seed : as for :class:`~coarsegrain.rbm.RBM`
    """

    def __init__(self, n_visible: int, n_hidden: int, tied: bool = True,
                 activation: str = "tanh", output_activation: str | None = None,
                 bias: bool = True, init_std: float = 0.05, device=None, dtype=torch.float32,
                 seed: int | None = None):
        super().__init__()
        self._check_sizes(n_visible, n_hidden)
        output_activation = output_activation or activation
        for name, val in (("activation", activation), ("output_activation", output_activation)):
            if val not in ACTIVATIONS:
                raise ValueError(f"{name}={val!r} is not allowed; choose one of {ACTIVATIONS}")
        self.n_visible, self.n_hidden = int(n_visible), int(n_hidden)
        self.tied, self.bias = bool(tied), bool(bias)
        self.activation, self.output_activation = activation, output_activation
        self.init_std = float(init_std)
        from coarsegrain.runtime import torch_generator

        g = torch_generator(seed, "ae-init") if seed is not None else None
        w = torch.randn(self.n_visible, self.n_hidden, generator=g, dtype=torch.float64)
        w = (w * self.init_std).to(device=device, dtype=dtype)
        self.W = torch.nn.Parameter(w)
        self.W_dec = None if self.tied else torch.nn.Parameter(w.t().clone())
        kw = {"device": device, "dtype": dtype}
        self.b_h = torch.nn.Parameter(torch.zeros(self.n_hidden, **kw), requires_grad=self.bias)
        self.b_v = torch.nn.Parameter(torch.zeros(self.n_visible, **kw), requires_grad=self.bias)
        self._act, self._out = _act(activation), _act(output_activation)
        self.meta: dict = {}

    def config(self) -> dict:
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden, "tied": self.tied,
                "activation": self.activation, "output_activation": self.output_activation,
                "bias": self.bias, "init_std": self.init_std}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items())

    def encode(self, x) -> torch.Tensor:
        """Hidden code, shape (batch, n_hidden)."""
        return self._act(torch.addmm(self.b_h, self._batch(x, self.n_visible, "x"), self.W))

    def decode(self, z) -> torch.Tensor:
        """Reconstruction, shape (batch, n_visible)."""
        Wd = self.W.t() if self.tied else self.W_dec
        return self._out(torch.addmm(self.b_v, self._batch(z, self.n_hidden, "z"), Wd))

    def forward(self, x) -> torch.Tensor:
        return self.decode(self.encode(x))

    def loss(self, x) -> torch.Tensor:
        """Mean squared reconstruction error per unit (0-d tensor)."""
        x = self._batch(x, self.n_visible, "x")
        return torch.mean((self.forward(x) - x) ** 2)

    def save(self, path: str | os.PathLike, meta: dict | None = None) -> None:
        from coarsegrain.io import save_checkpoint

        state = {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}
        save_checkpoint(state, path, meta={**(meta or {}), "autoencoder": self.config()})

    @classmethod
    def load(cls, path: str | os.PathLike, device=None) -> Autoencoder:
        from coarsegrain.io import CoarsegrainIOError, load_checkpoint

        state, meta = load_checkpoint(path, map_location="cpu")
        cfg = meta.get("autoencoder")
        if not isinstance(cfg, dict) or "W" not in state:
            raise CoarsegrainIOError(f"{path}: not an autoencoder checkpoint")
        ae = cls(**{**cfg, "init_std": 0.0}, device=device, dtype=state["W"].dtype)
        ae.init_std = cfg.get("init_std", 0.05)
        try:
            ae.load_state_dict(state)
        except RuntimeError as exc:
            raise CoarsegrainIOError(f"{path}: inconsistent autoencoder tensors ({exc})") from exc
        ae.meta = meta
        return ae


class AutoencoderTrainer:
    """Mini-batch gradient descent on the reconstruction MSE (autograd).

    Parameters
    ----------
    ae : the model (trained in place)
    optimizer : "adam" or "sgd" (with ``momentum``)
    lr, momentum, weight_decay : optimiser settings (weight decay as in torch.optim)
    batch_size, n_updates, n_epochs : mini-batches and training length (exactly one of the two)
    monitor_every, monitor_per_octave : evaluation schedule (default log-spaced)
    n_monitor : size of the fixed training and held-out subsets used for the curve
    seed : data order stream
    progress, record_time : as for :class:`~coarsegrain.rbm.RBMTrainer`
    """

    def __init__(self, ae: Autoencoder, *, optimizer: str = "adam", lr: float = 1e-3,
                 momentum: float = 0.0, weight_decay: float = 0.0, batch_size: int = 100,
                 n_updates: int | None = None, n_epochs: int | None = None,
                 monitor_every: int | None = None, monitor_per_octave: int = 4,
                 n_monitor: int = 1000, seed: int = 0, progress: bool = True,
                 record_time: bool = False):
        if optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer={optimizer!r} is not allowed; choose 'adam' or 'sgd'")
        if n_updates is None and n_epochs is None:
            n_updates = 10_000
        if (n_updates is None) == (n_epochs is None):
            raise ValueError("give exactly one of n_updates and n_epochs")
        if not lr > 0 or int(batch_size) < 1:
            raise ValueError(f"need lr > 0 and batch_size >= 1; got lr={lr}, batch_size={batch_size}")
        self.ae = ae
        self.optimizer, self.lr, self.momentum = optimizer, float(lr), float(momentum)
        self.weight_decay, self.batch_size = float(weight_decay), int(batch_size)
        self.n_updates, self.n_epochs = n_updates, n_epochs
        self.monitor_every, self.monitor_per_octave = monitor_every, int(monitor_per_octave)
        self.n_monitor, self.seed = int(n_monitor), int(seed)
        self.progress, self.record_time = progress, record_time
        params = [p for p in ae.parameters() if p.requires_grad]
        if optimizer == "adam":
            self.opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        else:
            self.opt = torch.optim.SGD(params, lr=self.lr, momentum=self.momentum,
                                       weight_decay=self.weight_decay)
        self.update, self.rows, self.train_seconds = 0, [], 0.0

    def curve(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=CURVE_COLUMNS)
        return df.astype({"update": "int64", "epoch": "float64", "value": "float64",
                          "error": "float64"})

    @torch.no_grad()
    def _record(self, epoch, tr, ho):
        u = self.update
        self.rows.append((u, epoch, "reconstruction_error", float(self.ae.loss(tr)), math.nan))
        if ho is not None:
            self.rows.append((u, epoch, "reconstruction_error_heldout", float(self.ae.loss(ho)),
                              math.nan))
        if self.record_time:
            self.rows.append((u, epoch, "wall_time", self.train_seconds, math.nan))

    def fit(self, data, heldout=None) -> pd.DataFrame:
        """Train on ``data`` (n, n_visible) or (n, *lattice); returns the curve (columns update,
        epoch, metric, value, error) with ``reconstruction_error`` (MSE per unit on a fixed
        training subset) and ``reconstruction_error_heldout``."""
        from coarsegrain.runtime import torch_generator

        ae = self.ae
        x = as_matrix(data, ae.n_visible, device=ae.device, dtype=ae.dtype, name="data")
        xh = None if heldout is None else as_matrix(heldout, ae.n_visible, device=ae.device,
                                                     dtype=ae.dtype, name="heldout")
        n, B = x.shape[0], self.batch_size
        per_epoch = math.ceil(n / B)
        total = self.n_updates if self.n_updates is not None else self.n_epochs * per_epoch
        g_sub = torch_generator(self.seed, "ae-monitor-subset")

        def subset(t):
            if t is None or t.shape[0] <= self.n_monitor:
                return t
            return t[torch.randperm(t.shape[0], generator=g_sub)[: self.n_monitor].to(t.device)]

        tr, ho = subset(x), subset(xh)
        if self.monitor_every:
            mon_at = set(range(0, total + 1, int(self.monitor_every))) | {total}
        else:
            mon_at = {0, *log_spaced(total, self.monitor_per_octave)}
        if self.update == 0 and not self.rows:
            self._record(0.0, tr, ho)
        perm, perm_epoch = None, -1
        t0 = time.perf_counter()
        with tqdm(total=total, initial=self.update, disable=not self.progress, mininterval=5,
                  desc=f"AE {ae.n_visible}x{ae.n_hidden}", unit="upd", smoothing=0.1) as bar:
            while self.update < total:
                u = self.update + 1
                epoch, pos = divmod(u - 1, per_epoch)
                if epoch != perm_epoch:
                    g = torch_generator(self.seed, "ae-shuffle", epoch)
                    perm, perm_epoch = torch.randperm(n, generator=g).to(ae.device), epoch
                batch = x[perm[pos * B:(pos + 1) * B]]
                self.opt.zero_grad(set_to_none=True)
                loss = ae.loss(batch)
                loss.backward()
                self.opt.step()
                self.update = u
                bar.update(1)
                if u in mon_at or u % 100 == 0:
                    lv = float(loss.detach())
                    if not math.isfinite(lv):
                        raise TrainingDivergedError(u, "training loss", lv,
                                                    "checked every 100 updates")
                if u in mon_at:
                    self.train_seconds += time.perf_counter() - t0
                    self._record(u / per_epoch, tr, ho)
                    t0 = time.perf_counter()
                    # monitors are dense early (log scale): keep them out of the bar's rate so
                    # that the first ETAs are not inflated; elapsed counts updates only
                    bar.unpause()
        if not all(bool(torch.isfinite(p).all()) for p in ae.parameters()):
            raise TrainingDivergedError(self.update, "autoencoder parameters", math.nan)
        return self.curve()


def train_autoencoder(ae: Autoencoder, data, heldout=None, **kwargs) -> pd.DataFrame:
    """Train ``ae`` in place (keyword arguments: :class:`AutoencoderTrainer`); return the curve."""
    return AutoencoderTrainer(ae, **kwargs).fit(data, heldout)
