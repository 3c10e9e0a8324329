"""coarse-grain: Monte Carlo, RBMs, RBM flows and block-spin RG, reproducibly.

Each subpackage is usable on its own, without Snakemake:

- :mod:`coarsegrain.lattice` -- Ising models: samplers, exact results, observables
- :mod:`coarsegrain.rg` -- block-spin renormalisation group
- :mod:`coarsegrain.rbm` -- restricted Boltzmann machines, training, monitors
- :mod:`coarsegrain.flow` -- RBM flows and temperature estimators
- :mod:`coarsegrain.analysis` -- correlators, input-output maps, spectral analyses
- :mod:`coarsegrain.data` -- image datasets (fetch, verify, preprocess)
- :mod:`coarsegrain.plots` -- seaborn figure functions
- :mod:`coarsegrain.io` -- Parquet tables and spin files with provenance
"""

import os

# The numba-parallel Metropolis and Gibbs kernels leave OpenMP workers spinning after each call,
# which slowed the torch/numpy work that follows 10-100x on a loaded 2-core machine (measured:
# 31.9 s vs 3 s wall for an L = 32 Metropolis run, identical results). It only takes effect if set
# before torch is imported; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
