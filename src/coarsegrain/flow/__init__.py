"""RBM flows, the neural thermometer and temperature estimators.

- :mod:`coarsegrain.flow.rbmflow` -- v → h → v flows from MC, T=0 and T=∞ starts; stacked-RBM
  layer outputs
- :mod:`coarsegrain.flow.thermometer` -- supervised temperature classifier (MLP / CNN),
  calibration, one thermometer per lattice size
- :mod:`coarsegrain.flow.estimators` -- physics estimator (match ⟨E⟩ or ⟨|m|⟩ to Monte Carlo),
  temperature tables per flow step or layer
"""

from coarsegrain.flow.estimators import (
    estimate_temperature,
    layer_temperatures,
    observables_chain,
    observables_ising2d,
    temperature_predictions,
    temperature_table,
)
from coarsegrain.flow.rbmflow import (
    DEFAULT_STEPS,
    FlowResult,
    flow_from_starts,
    initial_configs,
    rbm_flow,
    stack_outputs,
)
from coarsegrain.flow.thermometer import (
    LatticeShapeError,
    Thermometer,
    calibration,
    calibration_curve,
    select_thermometer,
    train_per_size,
    train_thermometer,
)

__all__ = [
    "DEFAULT_STEPS",
    "FlowResult",
    "LatticeShapeError",
    "Thermometer",
    "calibration",
    "calibration_curve",
    "estimate_temperature",
    "flow_from_starts",
    "initial_configs",
    "layer_temperatures",
    "observables_chain",
    "observables_ising2d",
    "rbm_flow",
    "select_thermometer",
    "stack_outputs",
    "temperature_predictions",
    "temperature_table",
    "train_per_size",
    "train_thermometer",
]
