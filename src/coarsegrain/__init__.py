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

__version__ = "0.1.0"
