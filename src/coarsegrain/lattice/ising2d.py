"""2D nearest-neighbour Ising model on an L×L torus (J = 1, k_B = 1).

Spin arrays have shape ``(..., L, L)`` with values ±1; the two last axes are the lattice.
Energies are per site: ``e = −(1/N) Σ_<ij> s_i s_j`` with each bond counted once (two bonds per
site), so ``e ∈ [−2, 2]``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from tqdm.auto import tqdm

from coarsegrain.runtime import resolve_device, torch_generator

T_CRITICAL = 2.0 / math.log1p(math.sqrt(2.0))  # Onsager: 2/ln(1+√2) = 2.269185...


def _as_tensor(spins):
    return spins if isinstance(spins, torch.Tensor) else torch.as_tensor(np.asarray(spins))


def energy_per_site(spins):
    """Energy per site of each configuration.

    Parameters
    ----------
    spins : array or tensor of shape (..., L, L), values ±1

    Returns
    -------
    same type as input, shape (...,), float: ``−(1/L²) Σ_x s(x)[s(x+x̂) + s(x+ŷ)]``
    """
    is_np = not isinstance(spins, torch.Tensor)
    s = _as_tensor(spins).to(torch.float32) if is_np else spins.to(torch.float32)
    bonds = s * (torch.roll(s, 1, dims=-1) + torch.roll(s, 1, dims=-2))
    e = -bonds.mean(dim=(-2, -1))
    return e.numpy().astype(np.float64) if is_np else e


def magnetization(spins):
    """Magnetisation per site ``m = (1/L²) Σ_x s(x)``, shape (...,)."""
    if isinstance(spins, torch.Tensor):
        return spins.to(torch.float32).mean(dim=(-2, -1))
    return np.asarray(spins, dtype=np.float64).mean(axis=(-2, -1))


def _check(L: int, temperatures) -> np.ndarray:
    if not isinstance(L, (int, np.integer)) or L < 2 or L % 2:
        raise ValueError(f"L must be an even integer >= 2 for the checkerboard update; got {L!r}")
    temps = np.atleast_1d(np.asarray(temperatures, dtype=np.float64))
    if temps.ndim != 1 or temps.size == 0:
        raise ValueError("temperatures must be a non-empty 1D list")
    if np.any(~np.isfinite(temps)) or np.any(temps <= 0):
        bad = temps[(temps <= 0) | ~np.isfinite(temps)].tolist()
        raise ValueError(f"temperatures must be finite and > 0; got {bad}")
    return temps


class CheckerboardMetropolis:
    """Batched checkerboard Metropolis for many chains at many temperatures at once.

    The state is a float32 tensor of shape (n_temperatures, n_chains, L, L). One sweep updates
    the two sublattices in turn; all chains move in lockstep, so the work per sweep is a few
    vectorised tensor operations regardless of the number of chains.

    Parameters
    ----------
    L : even lattice size
    temperatures : sequence of T > 0 (units of J)
    n_chains : independent chains per temperature
    seed : int; the same seed gives the same chains on the same device
    device : "auto", "cpu", "cuda" or a torch.device
    cold_start : "auto" starts chains below T_c from the all-up state (a random start at low T
        freezes into long-lived stripe domains) and above T_c from random spins; True/False force it.
    """

    def __init__(self, L, temperatures, n_chains=16, seed=0, device="auto", cold_start="auto"):
        self.temperatures = _check(L, temperatures)
        self.L = int(L)
        self.n_chains = int(n_chains)
        if self.n_chains < 1:
            raise ValueError(f"n_chains must be >= 1; got {n_chains}")
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.gen = torch_generator(seed, "metropolis", self.L, device=self.device)
        nT = len(self.temperatures)
        shape = (nT, self.n_chains, self.L, self.L)
        rand = torch.randint(0, 2, shape, generator=self.gen, device=self.device).float() * 2 - 1
        if cold_start == "auto":
            cold = torch.as_tensor(self.temperatures < T_CRITICAL, device=self.device)
        else:
            cold = torch.full((nT,), bool(cold_start), device=self.device)
        self.spins = torch.where(cold[:, None, None, None], torch.ones_like(rand), rand)
        self.beta = torch.as_tensor(1.0 / self.temperatures, dtype=torch.float32,
                                    device=self.device)[:, None, None, None]
        ii, jj = torch.meshgrid(torch.arange(self.L), torch.arange(self.L), indexing="ij")
        parity = ((ii + jj) % 2).to(self.device)
        self._masks = [parity == 0, parity == 1]
        # Acceptance only depends on s·(neighbour sum) ∈ {−4,−2,0,2,4}: tabulate exp(−2β s·nn).
        k = torch.arange(-4, 5, dtype=torch.float32, device=self.device)
        self._table = torch.exp(-2.0 * self.beta.view(-1, 1) * k.view(1, -1)).clamp(max=1.0)
        self.sweeps_done = 0
        # On the CPU a compiled loop (coarsegrain.lattice.kernels) is several times faster than
        # whole-lattice tensor ops; it keeps per-chain RNG states seeded from self.gen.
        self._cpu_states = None
        if self.device.type == "cpu":
            from coarsegrain.lattice.kernels import seed_states

            seeds = torch.randint(0, 2**62, (nT * self.n_chains,), generator=self.gen)
            self._cpu_states = seed_states(nT * self.n_chains, seeds=seeds.numpy())
            self._cpu_table = self._table.numpy().astype(np.float64)

    def sweep(self, n: int = 1) -> None:
        """Advance every chain by ``n`` full sweeps (each site offered one flip per sweep)."""
        if self._cpu_states is not None:
            from coarsegrain.lattice.kernels import checkerboard_sweeps

            self.spins = self.spins.contiguous()
            checkerboard_sweeps(self.spins.numpy(), self._cpu_table, n, self._cpu_states,
                                n_threads=torch.get_num_threads())
            self.sweeps_done += n
            return
        s = self.spins
        nT = s.shape[0]
        t_idx = torch.arange(nT, device=self.device)[:, None, None, None]
        for _ in range(n):
            for mask in self._masks:
                nn = (torch.roll(s, 1, -1) + torch.roll(s, -1, -1)
                      + torch.roll(s, 1, -2) + torch.roll(s, -1, -2))
                k = (s * nn).long() + 4
                p = self._table[t_idx.expand_as(k), k]
                u = torch.rand(s.shape, generator=self.gen, device=self.device)
                flip = (u < p) & mask
                s = torch.where(flip, -s, s)
        self.spins = s
        self.sweeps_done += n

    def energy(self) -> torch.Tensor:
        """Energy per site, shape (n_temperatures, n_chains)."""
        return energy_per_site(self.spins)


def metropolis_sample(L, temperatures, n_samples, *, n_chains=16, n_therm=1000, thin=10,
                      seed=0, device="auto", global_flip=True, progress=True):
    """Sample 2D Ising configurations with checkerboard Metropolis.

    Parameters
    ----------
    L : even lattice size
    temperatures : sequence of T > 0
    n_samples : configurations per temperature; must be a multiple of ``n_chains``
    n_chains : independent chains per temperature (errors are estimated across chains)
    n_therm : thermalisation sweeps before the first stored configuration
    thin : sweeps between stored configurations of one chain
    seed, device : see :class:`CheckerboardMetropolis`
    global_flip : multiply each stored configuration by a random ±1 (the authors' convention;
        restores the up/down symmetry that a cold start and slow low-T dynamics break)

    Returns
    -------
    spins : numpy int8 array, shape (n_temperatures, n_samples, L, L)
    chain : numpy int32 array, shape (n_samples,), the chain each configuration came from
    energies : numpy float64 array, shape (n_temperatures, n_samples // n_chains, n_chains),
        energy per site at each stored time (before the global flip, which leaves it unchanged)
    """
    if n_samples < 1 or n_samples % n_chains:
        raise ValueError(f"n_samples ({n_samples}) must be a positive multiple of n_chains ({n_chains})")
    if n_therm < 0 or thin < 1:
        raise ValueError(f"need n_therm >= 0 and thin >= 1; got n_therm={n_therm}, thin={thin}")
    mc = CheckerboardMetropolis(L, temperatures, n_chains=n_chains, seed=seed, device=device)
    per_chain = n_samples // n_chains
    nT = len(mc.temperatures)
    out = torch.empty((nT, per_chain, n_chains, L, L), dtype=torch.int8, device=mc.device)
    energies = torch.empty((nT, per_chain, n_chains), dtype=torch.float64, device=mc.device)
    total = n_therm + per_chain * thin
    with tqdm(total=total, desc=f"Metropolis L={L}", unit="sweep", disable=not progress,
              mininterval=5, smoothing=0.1) as bar:
        mc.sweep(n_therm)
        bar.update(n_therm)
        for i in range(per_chain):
            mc.sweep(thin)
            bar.update(thin)
            out[:, i] = mc.spins.to(torch.int8)
            energies[:, i] = mc.energy().double()
    if global_flip:
        signs = torch.randint(0, 2, (nT, per_chain, n_chains, 1, 1), generator=mc.gen,
                              device=mc.device).to(torch.int8) * 2 - 1
        out = out * signs
    spins = out.reshape(nT, per_chain * n_chains, L, L).cpu().numpy()
    chain = np.tile(np.arange(n_chains, dtype=np.int32), per_chain)
    return spins, chain, energies.cpu().numpy()
