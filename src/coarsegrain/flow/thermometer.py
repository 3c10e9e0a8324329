"""Neural thermometer: a supervised classifier of temperature (Iso et al. 2018; P1).

A network is trained on Monte Carlo configurations labelled by the temperature they were sampled
at (a fixed grid T_1 < ... < T_K). Given any configuration of the same lattice shape it returns a
probability p_k per grid temperature; the temperature estimate is either the expectation
Σ_k p_k T_k or the most probable T_k.

Architectures
-------------
``mlp``
    Iso's thermometer: flatten → hidden layers (default 512, 256, 64, tanh) → K logits (softmax).
``cnn``
    Small convolutional net with periodic (circular) padding, for 1D chains or 2D lattices; the
    channel maps are pooled over the lattice (mean and |mean|, so both local energy-like and
    global magnetisation-like features are available) before a linear layer to K logits.

A thermometer only reads the lattice shape it was trained on; anything else raises
:class:`LatticeShapeError` (coarse-grained L/2 lattices need a thermometer trained at L/2, see
:func:`train_per_size`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from coarsegrain.runtime import make_rng

ARCHS = ("mlp", "cnn")
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


class LatticeShapeError(ValueError):
    """Configurations do not have the lattice shape a thermometer was trained on."""


# ----------------------------------------------------------------------------- networks


class _PoolMeanAbs(nn.Module):
    """Pool channel maps over all lattice axes into [mean, |mean|] per channel."""

    def forward(self, x):
        m = x.flatten(2).mean(dim=2)
        return torch.cat([m, m.abs()], dim=1)


def build_network(arch: str, lattice_shape: Sequence[int], n_classes: int,
                  hidden: Sequence[int] = (512, 256, 64), activation: str = "tanh",
                  channels: Sequence[int] = (16, 32), kernel_size: int = 3) -> nn.Module:
    """The thermometer network (logits output; softmax is applied by the caller).

    Parameters
    ----------
    arch : "mlp" or "cnn"
    lattice_shape : (L, L) or (N,)
    n_classes : number of grid temperatures K
    hidden : MLP hidden widths (also the widths of the CNN head after pooling, if any)
    activation : one of tanh, relu, gelu, sigmoid
    channels : CNN channels per convolution layer
    kernel_size : CNN kernel size (odd; padding is circular so the lattice stays periodic)
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r} not in {sorted(ACTIVATIONS)}")
    act = ACTIVATIONS[activation]
    lattice_shape = tuple(int(s) for s in lattice_shape)
    if arch == "mlp":
        layers: list[nn.Module] = [nn.Flatten()]
        width = int(np.prod(lattice_shape))
        for h in hidden:
            layers += [nn.Linear(width, int(h)), act()]
            width = int(h)
        layers.append(nn.Linear(width, n_classes))
        return nn.Sequential(*layers)
    if arch == "cnn":
        if len(lattice_shape) not in (1, 2):
            raise ValueError(f"cnn thermometer needs a 1D or 2D lattice; got shape {lattice_shape}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for symmetric circular padding; "
                             f"got {kernel_size}")
        conv = nn.Conv1d if len(lattice_shape) == 1 else nn.Conv2d
        layers = []
        c_in = 1
        for c in channels:
            layers += [conv(c_in, int(c), kernel_size, padding=kernel_size // 2,
                            padding_mode="circular"), act()]
            c_in = int(c)
        layers.append(_PoolMeanAbs())
        width = 2 * c_in
        for h in hidden:
            layers += [nn.Linear(width, int(h)), act()]
            width = int(h)
        layers.append(nn.Linear(width, n_classes))
        return nn.Sequential(*layers)
    raise ValueError(f"unknown thermometer arch {arch!r}; allowed: {', '.join(ARCHS)}")


# ----------------------------------------------------------------------------- thermometer


class Thermometer:
    """A trained (or untrained) temperature classifier.

    Parameters
    ----------
    temperatures : the K grid temperatures (sorted ascending internally)
    lattice_shape : lattice shape of the configurations it reads, e.g. (10, 10) or (64,)
    arch, hidden, activation, channels, kernel_size : see :func:`build_network`
    device : torch device for the network
    seed : seeds the weight initialisation
    """

    def __init__(self, temperatures, lattice_shape, arch: str = "mlp",
                 hidden: Sequence[int] = (512, 256, 64), activation: str = "tanh",
                 channels: Sequence[int] = (16, 32), kernel_size: int = 3, device=None,
                 seed: int = 0):
        temps = np.asarray(temperatures, dtype=np.float64).ravel()
        if temps.size < 2 or np.unique(temps).size != temps.size:
            raise ValueError(f"temperatures must hold >= 2 distinct values; got {temps.tolist()}")
        self.temperatures = np.sort(temps)
        self.lattice_shape = tuple(int(s) for s in lattice_shape)
        self.config = dict(arch=arch, hidden=[int(h) for h in hidden], activation=activation,
                           channels=[int(c) for c in channels], kernel_size=int(kernel_size))
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.net = build_network(arch, self.lattice_shape, len(self.temperatures),
                                     hidden, activation, channels, kernel_size)
        self.net.to(self.device)

    # -- input handling
    def check_shape(self, configs) -> None:
        """Raise :class:`LatticeShapeError` unless ``configs`` has shape (n, *lattice_shape)."""
        shape = tuple(configs.shape[1:])
        if shape != self.lattice_shape:
            raise LatticeShapeError(
                f"thermometer trained on lattice shape {self.lattice_shape} cannot read "
                f"configurations of shape {shape}; train one at that size "
                f"(coarsegrain.flow.thermometer.train_per_size)"
            )

    def _tensor(self, configs) -> torch.Tensor:
        self.check_shape(configs)
        x = configs if isinstance(configs, torch.Tensor) else torch.as_tensor(np.asarray(configs))
        x = x.to(device=self.device, dtype=torch.float32)
        if self.config["arch"] == "cnn":
            x = x.unsqueeze(1)
        return x

    def logits(self, configs, batch_size: int = 4096) -> torch.Tensor:
        """Logits, tensor of shape (n, K) on the thermometer's device."""
        x = self._tensor(configs)
        self.net.eval()
        with torch.no_grad():
            return torch.cat([self.net(x[i:i + batch_size])
                              for i in range(0, x.shape[0], batch_size)] or
                             [torch.empty(0, len(self.temperatures), device=self.device)])

    def predict_proba(self, configs, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities, float64 array of shape (n, K); column k is temperatures[k]."""
        return torch.softmax(self.logits(configs, batch_size).double(), dim=1).cpu().numpy()

    def expected_temperature(self, configs) -> np.ndarray:
        """Σ_k p_k T_k per configuration, shape (n,)."""
        return self.predict_proba(configs) @ self.temperatures

    def argmax_temperature(self, configs) -> np.ndarray:
        """The most probable grid temperature per configuration, shape (n,)."""
        return self.temperatures[np.argmax(self.predict_proba(configs), axis=1)]

    def predict(self, configs, **labels) -> pd.DataFrame:
        """Per-configuration predictions as a tidy table.

        Returns
        -------
        DataFrame with columns ``expected_temperature``, ``argmax_temperature``, ``p_max``
        and one column per keyword in ``labels`` (scalars or arrays of length n).
        """
        p = self.predict_proba(configs)
        df = pd.DataFrame({
            "expected_temperature": p @ self.temperatures,
            "argmax_temperature": self.temperatures[np.argmax(p, axis=1)],
            "p_max": p.max(axis=1),
        })
        for k, v in labels.items():
            df[k] = v
        return df

    def class_index(self, temperatures, atol: float = 1e-6) -> np.ndarray:
        """Index of each label temperature on the grid; ValueError for labels off the grid."""
        t = np.asarray(temperatures, dtype=np.float64).ravel()
        idx = np.searchsorted(self.temperatures, t)
        idx = np.clip(idx, 0, len(self.temperatures) - 1)
        lo = np.clip(idx - 1, 0, None)
        grid = self.temperatures
        idx = np.where(np.abs(grid[lo] - t) < np.abs(grid[idx] - t), lo, idx)
        bad = np.abs(self.temperatures[idx] - t) > atol
        if bad.any():
            raise ValueError(f"label temperatures {np.unique(t[bad])[:5].tolist()} are not on the "
                             f"thermometer grid {self.temperatures.tolist()}")
        return idx

    # -- persistence
    def state(self) -> dict:
        return {"net": self.net.state_dict(),
                "temperatures": torch.as_tensor(self.temperatures, dtype=torch.float64)}

    def metadata(self) -> dict:
        return {"kind": "thermometer", "lattice_shape": list(self.lattice_shape),
                "temperatures": self.temperatures.tolist(), **self.config}

    def save(self, path, meta: Mapping | None = None) -> None:
        """Save with :func:`coarsegrain.io.save_checkpoint`; ``meta`` is added to the metadata."""
        from coarsegrain.io import save_checkpoint

        save_checkpoint(self.state(), path, meta={**(meta or {}), "thermometer": self.metadata()})

    @classmethod
    def load(cls, path, device=None) -> Thermometer:
        """Load a thermometer written by :meth:`save`."""
        from coarsegrain.io import CoarsegrainIOError, load_checkpoint

        state, meta = load_checkpoint(path, map_location="cpu")
        if "thermometer" not in meta:
            raise CoarsegrainIOError(f"{path}: not a thermometer checkpoint")
        m = meta["thermometer"]
        th = cls(m["temperatures"], m["lattice_shape"], arch=m["arch"], hidden=m["hidden"],
                 activation=m["activation"], channels=m["channels"], kernel_size=m["kernel_size"],
                 device=device)
        th.net.load_state_dict(state["net"])
        th.meta = meta
        return th


# ----------------------------------------------------------------------------- training


def split_indices(labels: np.ndarray, val_fraction: float, rng: np.random.Generator):
    """Stratified train/validation split; returns (train_idx, val_idx)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction}")
    train, val = [], []
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        n_val = max(1, int(round(val_fraction * idx.size)))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def train_thermometer(configs, temperatures, *, grid=None, arch: str = "mlp",
                      hidden: Sequence[int] = (512, 256, 64), activation: str = "tanh",
                      channels: Sequence[int] = (16, 32), kernel_size: int = 3,
                      val_fraction: float = 0.2, max_epochs: int = 100, patience: int = 10,
                      batch_size: int = 100, lr: float = 1e-3, weight_decay: float = 0.0,
                      augment_flip: bool = True, augment_shift: bool = False, seed: int = 0,
                      device=None, progress: bool = True) -> tuple[Thermometer, pd.DataFrame]:
    """Train a thermometer on labelled Monte Carlo configurations.

    Parameters
    ----------
    configs : array, shape (n, *lattice_shape), ±1 spins
    temperatures : array, shape (n,), the temperature each configuration was sampled at
    grid : the class temperatures (default: the distinct values of ``temperatures``)
    arch, hidden, activation, channels, kernel_size : network (see :func:`build_network`)
    val_fraction : stratified validation share used for early stopping
    max_epochs, patience : stop when the validation loss has not improved for ``patience``
        epochs; the best weights are restored
    batch_size, lr, weight_decay : Adam settings
    augment_flip : multiply each training configuration by a random global sign (the Ising
        symmetry; the data convention already flips stored configurations at random)
    augment_shift : also roll each training configuration by a random periodic translation
    seed : seeds initialisation, split, batching and augmentation
    device : torch device (default CPU)

    Returns
    -------
    thermometer : :class:`Thermometer` with the best validation weights
    history : DataFrame with columns epoch, train_loss, val_loss, val_accuracy
    """
    configs = np.asarray(configs)
    labels_t = np.asarray(temperatures, dtype=np.float64).ravel()
    if configs.ndim < 2 or configs.shape[0] != labels_t.size:
        raise ValueError(f"configs (shape {configs.shape}) and temperatures (size {labels_t.size}) "
                         "must have one temperature per configuration")
    grid = np.unique(labels_t) if grid is None else np.asarray(grid, dtype=np.float64)
    device = torch.device(device) if device is not None else torch.device("cpu")
    th = Thermometer(grid, configs.shape[1:], arch=arch, hidden=hidden, activation=activation,
                     channels=channels, kernel_size=kernel_size, device=device, seed=seed)
    y_all = th.class_index(labels_t)
    rng = make_rng(seed, "thermometer", *th.lattice_shape)
    tr, va = split_indices(y_all, val_fraction, rng)
    gen = torch.Generator(device=device)
    gen.manual_seed(int(rng.integers(2**62)))
    x_tr = torch.as_tensor(configs[tr], dtype=torch.float32, device=device)
    y_tr = torch.as_tensor(y_all[tr], device=device)
    x_va = configs[va]
    y_va = torch.as_tensor(y_all[va], device=device)
    lat_axes = tuple(range(1, x_tr.ndim))
    opt = torch.optim.Adam(th.net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best = (np.inf, copy.deepcopy(th.net.state_dict()), 0)
    rows = []
    bar = tqdm(range(1, max_epochs + 1), desc=f"thermometer {th.lattice_shape}", unit="epoch",
               disable=not progress, mininterval=5, smoothing=0.1)
    for epoch in bar:
        th.net.train()
        perm = torch.randperm(x_tr.shape[0], generator=gen, device=device)
        total, count = 0.0, 0
        for i in range(0, perm.numel(), batch_size):
            idx = perm[i:i + batch_size]
            xb = x_tr[idx]
            if augment_flip:
                sign = torch.randint(0, 2, (xb.shape[0],) + (1,) * len(lat_axes), generator=gen,
                                     device=device).float() * 2 - 1
                xb = xb * sign
            if augment_shift:
                shifts = torch.randint(0, 10**6, (len(lat_axes),), generator=gen).tolist()
                shifts = [s % xb.shape[a] for s, a in zip(shifts, lat_axes, strict=True)]
                xb = torch.roll(xb, shifts=shifts, dims=lat_axes)
            if th.config["arch"] == "cnn":
                xb = xb.unsqueeze(1)
            loss = loss_fn(th.net(xb), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        logits = th.logits(x_va)
        val_loss = float(loss_fn(logits, y_va))
        val_acc = float((logits.argmax(1) == y_va).float().mean())
        rows.append(dict(epoch=epoch, train_loss=total / max(count, 1), val_loss=val_loss,
                         val_accuracy=val_acc))
        if val_loss < best[0] - 1e-6:
            best = (val_loss, copy.deepcopy(th.net.state_dict()), epoch)
        elif epoch - best[2] >= patience:
            break
    bar.close()
    th.net.load_state_dict(best[1])
    th.net.eval()
    th.best_epoch = best[2]
    return th, pd.DataFrame(rows)


def train_per_size(datasets: Mapping, **kwargs) -> dict:
    """Train one thermometer per lattice size.

    Parameters
    ----------
    datasets : mapping of any key (e.g. L) to ``(configs, temperatures)``
    kwargs : passed to :func:`train_thermometer`

    Returns
    -------
    dict mapping each lattice shape to ``(thermometer, history)``
    """
    out = {}
    for key, (configs, temps) in datasets.items():
        shape = tuple(np.asarray(configs).shape[1:])
        if shape in out:
            raise ValueError(f"two datasets (one is {key!r}) have the same lattice shape {shape}")
        out[shape] = train_thermometer(configs, temps, **kwargs)
    return out


def select_thermometer(thermometers, configs) -> Thermometer:
    """Pick the thermometer for ``configs``' lattice shape from a Thermometer, a mapping
    shape → Thermometer, or a sequence of Thermometers."""
    shape = tuple(configs.shape[1:])
    if isinstance(thermometers, Thermometer):
        thermometers.check_shape(configs)
        return thermometers
    items = thermometers.values() if isinstance(thermometers, Mapping) else thermometers
    for th in items:
        th = th[0] if isinstance(th, tuple) else th
        if th.lattice_shape == shape:
            return th
    shapes = [(t[0] if isinstance(t, tuple) else t).lattice_shape for t in items]
    raise LatticeShapeError(f"no thermometer for lattice shape {shape}; have {shapes}")


# ----------------------------------------------------------------------------- calibration


def calibration(thermometer: Thermometer, configs, temperatures) -> tuple[dict, pd.DataFrame]:
    """Calibration of a thermometer on held-out labelled configurations.

    Returns
    -------
    summary : dict with accuracy (argmax class = true class), adjacent_accuracy (within one grid
        step), chance (1/K), mae_expected (mean |Σ p T − T_true|), n
    confusion : tidy DataFrame with columns true_temperature, predicted_temperature, count,
        fraction (count / configurations at that true temperature); every (true, predicted) pair
        of the grid appears, zeros included
    """
    y = thermometer.class_index(temperatures)
    p = thermometer.predict_proba(configs)
    pred = np.argmax(p, axis=1)
    grid = thermometer.temperatures
    K = len(grid)
    counts = np.zeros((K, K), dtype=np.int64)
    np.add.at(counts, (y, pred), 1)
    row = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, row, out=np.zeros_like(counts, dtype=np.float64), where=row > 0)
    ti, pj = np.meshgrid(np.arange(K), np.arange(K), indexing="ij")
    confusion = pd.DataFrame({"true_temperature": grid[ti.ravel()],
                              "predicted_temperature": grid[pj.ravel()],
                              "count": counts.ravel(), "fraction": frac.ravel()})
    summary = dict(accuracy=float(np.mean(pred == y)),
                   adjacent_accuracy=float(np.mean(np.abs(pred - y) <= 1)),
                   chance=1.0 / K,
                   mae_expected=float(np.mean(np.abs(p @ grid - grid[y]))),
                   n=int(y.size))
    return summary, confusion


def calibration_curve(thermometer: Thermometer, configs, temperatures) -> pd.DataFrame:
    """Mean and spread of the predicted temperature per true temperature.

    Returns a DataFrame with columns true_temperature, expected_mean, expected_std,
    argmax_mean, accuracy, n.
    """
    t = np.asarray(temperatures, dtype=np.float64).ravel()
    df = thermometer.predict(configs, true_temperature=t)
    df["correct"] = np.isclose(df["argmax_temperature"], df["true_temperature"])
    g = df.groupby("true_temperature", sort=True)
    return pd.DataFrame({
        "expected_mean": g["expected_temperature"].mean(),
        "expected_std": g["expected_temperature"].std(ddof=1),
        "argmax_mean": g["argmax_temperature"].mean(),
        "accuracy": g["correct"].mean(),
        "n": g.size(),
    }).reset_index()


# ----------------------------------------------------------------------------- calibration maps

CALIBRATION_COLUMNS = ["true_temperature", "n", "mean", "bias", "bias_err", "resolution",
                       "slope", "frac_low_end", "frac_high_end", "saturated", "saturation"]


def calibration_from_predictions(predicted, true_temperatures, grid=None, *,
                                 min_slope: float = 0.3, edge: float | None = None
                                 ) -> pd.DataFrame:
    """Bias and resolution of temperature readings, per true temperature.

    Parameters
    ----------
    predicted : thermometer readings (Σ_k p_k T_k per configuration), shape (n,), temperature
        units (J / k_B)
    true_temperatures : the temperature each configuration was sampled at, shape (n,); at least
        two distinct values, each with at least two configurations
    grid : the thermometer's class temperatures (default: the distinct true temperatures); its
        ends are where readings pin
    min_slope : a true temperature is *saturated* when the calibration curve is flatter than
        this there (d mean / d T < min_slope: the reading moves by less than ``min_slope`` times
        the temperature change, so it cannot tell neighbouring temperatures apart) and every
        temperature between it and the nearer end of the table is saturated as well
    edge : a reading is *pinned* at a grid end when it lies within ``edge`` of it (default: half
        the smallest grid spacing)

    Returns
    -------
    DataFrame, one row per true temperature (ascending), columns: ``true_temperature``, ``n``,
    ``mean`` (mean reading), ``bias`` (mean − true), ``bias_err`` (standard error of the mean),
    ``resolution`` (standard deviation of the readings, ddof=1), ``slope`` (d mean / d T, finite
    differences, centred inside), ``frac_low_end``/``frac_high_end`` (fraction of readings pinned
    at the lowest/highest grid temperature), ``saturated`` (bool) and ``saturation`` ("low",
    "high" or ""). Row order and values depend only on the inputs.
    """
    pred = np.asarray(predicted, dtype=np.float64).ravel()
    true = np.asarray(true_temperatures, dtype=np.float64).ravel()
    if pred.size != true.size or pred.size == 0:
        raise ValueError(f"predicted (size {pred.size}) and true_temperatures (size {true.size}) "
                         "must be non-empty and of equal length")
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(true))):
        raise ValueError("predicted and true_temperatures must be finite")
    if not (np.isfinite(min_slope) and min_slope >= 0):
        raise ValueError(f"min_slope must be a finite number >= 0; got {min_slope!r}")
    temps, inv, counts = np.unique(true, return_inverse=True, return_counts=True)
    if temps.size < 2 or counts.min() < 2:
        raise ValueError(f"true_temperatures need >= 2 distinct values with >= 2 readings each; "
                         f"got {dict(zip(temps.tolist(), counts.tolist(), strict=True))}")
    g = np.sort(np.asarray(temps if grid is None else grid, dtype=np.float64).ravel())
    if edge is None:
        edge = 0.5 * float(np.min(np.diff(g))) if g.size > 1 else 0.0
    if not (np.isfinite(edge) and edge >= 0):
        raise ValueError(f"edge must be a finite number >= 0; got {edge!r}")
    sums = np.bincount(inv, pred)
    mean = sums / counts
    var = np.bincount(inv, (pred - mean[inv]) ** 2) / (counts - 1)
    low = np.bincount(inv, (pred <= g[0] + edge).astype(float)) / counts
    high = np.bincount(inv, (pred >= g[-1] - edge).astype(float)) / counts
    slope = np.gradient(mean, temps)
    flat = slope < min_slope
    saturation = np.full(temps.size, "", dtype=object)
    i = 0
    while i < temps.size and flat[i]:
        saturation[i] = "low"
        i += 1
    j = temps.size - 1
    while j >= i and flat[j]:
        saturation[j] = "high"
        j -= 1
    res = np.sqrt(var)
    return pd.DataFrame({"true_temperature": temps, "n": counts.astype(np.int64), "mean": mean,
                         "bias": mean - temps, "bias_err": res / np.sqrt(counts),
                         "resolution": res, "slope": slope, "frac_low_end": low,
                         "frac_high_end": high, "saturated": saturation != "",
                         "saturation": saturation.astype(str)})


def calibration_table(thermometer, configs, temperatures, **kwargs) -> pd.DataFrame:
    """:func:`calibration_from_predictions` of a thermometer on held-out labelled configurations.

    Parameters
    ----------
    thermometer : a :class:`Thermometer` (anything with ``expected_temperature(configs)`` and
        ``temperatures``)
    configs : held-out Monte Carlo configurations (n, *lattice_shape), never seen in training
    temperatures : their true temperatures, shape (n,)
    kwargs : ``min_slope``, ``edge``
    """
    return calibration_from_predictions(thermometer.expected_temperature(configs), temperatures,
                                        thermometer.temperatures, **kwargs)


class CalibrationMap:
    """Bias correction and resolution of a thermometer, from its calibration table.

    Method: the calibration curve ``mean(T)`` over the unsaturated true temperatures is made
    monotone (isotonic regression) and inverted by linear interpolation
    (:func:`coarsegrain.flow.estimators.invert_curve`): a reading ``r`` is corrected to the
    temperature ``T`` whose mean reading is ``r``. Readings beyond the unsaturated range map to
    its ends and are flagged ``clipped`` (the corrected value is then a bound, not an estimate).
    If fewer than two temperatures are unsaturated the whole table is used.

    Parameters
    ----------
    table : a DataFrame from :func:`calibration_from_predictions` / :func:`calibration_table`
    """

    def __init__(self, table: pd.DataFrame):
        missing = set(CALIBRATION_COLUMNS) - set(table.columns)
        if missing:
            raise ValueError(f"calibration table lacks columns {sorted(missing)}")
        t = table.sort_values("true_temperature").reset_index(drop=True)
        self.table = t
        usable = t[~t["saturated"].astype(bool)]
        self.usable = usable if len(usable) >= 2 else t
        self.range = (float(self.usable["true_temperature"].iloc[0]),
                      float(self.usable["true_temperature"].iloc[-1]))

    def _inverse_slope(self, T: np.ndarray) -> np.ndarray:
        """d mean / d T of the monotone curve at temperatures ``T`` (piecewise constant)."""
        Tu = self.usable["true_temperature"].to_numpy(float)
        from scipy.optimize import isotonic_regression

        fit = isotonic_regression(self.usable["mean"].to_numpy(float), increasing=True).x
        seg = np.clip(np.searchsorted(Tu, T, side="right") - 1, 0, Tu.size - 2)
        return (fit[seg + 1] - fit[seg]) / (Tu[seg + 1] - Tu[seg])

    def correct(self, reading, error=None) -> pd.DataFrame:
        """Bias-corrected temperatures of thermometer readings.

        Parameters
        ----------
        reading : readings (e.g. mean thermometer temperature of a flow step), shape (m,)
        error : their standard errors, shape (m,) or scalar (default 0)

        Returns
        -------
        DataFrame with columns reading, temperature (corrected), error (the reading's error and
        the calibration curve's own standard error at that temperature, in quadrature, divided
        by the local slope of the curve; inf where the curve is flat), clipped (bool)
        """
        from coarsegrain.flow.estimators import invert_curve

        r = np.atleast_1d(np.asarray(reading, dtype=np.float64))
        e = np.broadcast_to(np.asarray(0.0 if error is None else error, dtype=np.float64),
                            r.shape)
        Tu = self.usable["true_temperature"].to_numpy(float)
        T, clipped = invert_curve(Tu, self.usable["mean"].to_numpy(float), r)
        cal = np.interp(T, Tu, self.usable["bias_err"].to_numpy(float))
        slope = self._inverse_slope(T)
        with np.errstate(divide="ignore"):
            err = np.where(slope > 0, np.hypot(e, cal) / np.where(slope > 0, slope, 1.0),
                           np.inf)
        return pd.DataFrame({"reading": r, "temperature": T, "error": err,
                             "clipped": np.asarray(clipped, dtype=bool)})

    def resolution(self, temperature, corrected: bool = True) -> np.ndarray:
        """Spread of single-configuration readings at true ``temperature`` (linear interpolation
        of the table, clamped at its ends).

        ``corrected=False``: in reading units (the table's ``resolution``); ``corrected=True``:
        divided by the local slope of the calibration curve, i.e. in true-temperature units —
        the temperature difference one configuration's reading cannot resolve, to be used as
        the "near T_c" tolerance (inf where the curve is flat).
        """
        T = np.atleast_1d(np.asarray(temperature, dtype=np.float64))
        t = self.table
        res = np.interp(T, t["true_temperature"].to_numpy(float), t["resolution"].to_numpy(float))
        if not corrected:
            return res
        slope = self._inverse_slope(np.clip(T, *self.range))
        with np.errstate(divide="ignore"):
            return np.where(slope > 0, res / np.where(slope > 0, slope, 1.0), np.inf)

    def is_saturated(self, temperature) -> np.ndarray:
        """True where ``temperature`` lies outside the unsaturated range of the table."""
        T = np.atleast_1d(np.asarray(temperature, dtype=np.float64))
        return (T < self.range[0]) | (T > self.range[1])
