"""Restricted Boltzmann machines: model, CD/PCD training, monitors, AIS, stacks, autoencoders.

Quick start::

    from coarsegrain.rbm import RBM, train_rbm
    rbm = RBM(100, 81, units="pm1", seed=0)
    curve = train_rbm(rbm, spins, heldout=test_spins, n_updates=10_000)  # P1 settings

``curve`` is a tidy DataFrame (update, epoch, metric, value, error).
"""

from coarsegrain.rbm.ais import AISResult, ais_log_partition
from coarsegrain.rbm.autoencoder import Autoencoder, AutoencoderTrainer, train_autoencoder
from coarsegrain.rbm.exact import (
    exact_gradient,
    exact_log_likelihood,
    exact_log_partition,
    exact_model_statistics,
)
from coarsegrain.rbm.init import covariance_eigh, covariance_init, init_weights
from coarsegrain.rbm.model import RBM, as_matrix, as_visible
from coarsegrain.rbm.monitors import (
    RBMMonitor,
    evaluate_rbm,
    ising_observables,
    model_samples,
    pseudo_log_likelihood,
    reconstruction_error,
)
from coarsegrain.rbm.stack import StackedRBM, train_stack
from coarsegrain.rbm.train import RBMTrainer, TrainingDivergedError, rbm_gradient, train_rbm

__all__ = [
    "RBM",
    "AISResult",
    "Autoencoder",
    "AutoencoderTrainer",
    "StackedRBM",
    "RBMMonitor",
    "RBMTrainer",
    "TrainingDivergedError",
    "ais_log_partition",
    "as_matrix",
    "as_visible",
    "covariance_eigh",
    "covariance_init",
    "evaluate_rbm",
    "exact_gradient",
    "exact_log_likelihood",
    "exact_log_partition",
    "exact_model_statistics",
    "init_weights",
    "ising_observables",
    "model_samples",
    "pseudo_log_likelihood",
    "rbm_gradient",
    "reconstruction_error",
    "train_autoencoder",
    "train_rbm",
    "train_stack",
]
