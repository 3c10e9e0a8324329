"""Figure conventions, checked on figures built from small synthetic tables: plain log-axis
labels, integer k ticks, legends that list only drawn series and stay off the data, labelled
reference lines, error bands, titles that name the RBM, one spelling of σ and of the units."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402

from coarsegrain.plots import flows, montecarlo, rbm, style, thermo  # noqa: E402

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- tables


def _thermo_tables():
    rows, exact = [], []
    for L in (8, 16):
        for T in np.linspace(1.8, 2.8, 6):
            for name in ("energy", "abs_magnetization", "specific_heat", "susceptibility",
                         "binder"):
                v = float(np.tanh(T - 2.27 + L / 100))
                rows.append(dict(L=L, temperature=T, observable=name, value=v, error=0.01))
                if name in ("energy", "specific_heat"):
                    exact.append(dict(L=L, temperature=T, observable=name, value=v))
    cross = pd.DataFrame(dict(L1=[8], L2=[16], t_cross=[2.27], error=[0.01],
                              tc_estimate=[2.27], tc_error=[0.01]))
    return pd.DataFrame(rows), pd.DataFrame(exact), cross


def _flow_tables(sources=("mc", "T0", "Tinf")):
    temps, obs, corr, deltas = [], [], [], []
    for src in sources:
        for step in range(6):
            for method in ("thermometer", "energy"):
                temps.append(dict(source=src, step=step, method=method, temperature=2.3,
                                  error=0.02, spread=0.1, model="ising2d"))
            for name in ("abs_magnetization", "energy"):
                obs.append(dict(source=src, step=step, observable=name, value=0.5, error=0.01,
                                model="ising2d"))
    for src, steps in (("monte_carlo", [0]), ("mc", list(range(6)))):
        for step in steps:
            for op, d in (("spin", 0.125), ("energy", 1.0)):
                for r in range(1, 9):
                    corr.append(dict(operator=op, source=src, step=step, r=r,
                                     value=0.8 * r ** (-2 * d), error=0.01 * r ** (-2 * d)))
                deltas.append(dict(operator=op, source=src, step=step, delta=d + 0.01 * step,
                                   delta_err=0.005, form="power", L=16, amplitude=0.8, rmin=1,
                                   rmax=8, model="ising2d"))
    return (pd.DataFrame(temps), pd.DataFrame(obs), pd.DataFrame(corr), pd.DataFrame(deltas))


def _curves(loglik_error=0.8):
    rows = []
    for u in (0, 1, 2, 4, 8, 16, 32, 64):
        for metric, v, e in (("loglik_train", -60 + 5 * np.log1p(u), loglik_error),
                             ("reconstruction_error", 0.5 / (1 + u), 0.01)):
            rows.append(dict(model="nh81_tc", update=u, epoch=u / 8, metric=metric, value=v,
                             error=e))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- helpers


def _legends(fig) -> list[Legend]:
    out = list(fig.legends)
    for ax in fig.axes:
        if ax.get_legend() is not None:
            out.append(ax.get_legend())
    for sub in getattr(fig, "subfigs", []):
        out += _legends(sub)
    return out


def _legend_labels(fig) -> set[str]:
    return {t.get_text() for leg in _legends(fig) for t in leg.get_texts()}


def _reference_lines(fig):
    """axhline/axvline artists: lines spanning the axes (one coordinate in axes units)."""
    out = []
    for ax in fig.axes:
        for line in ax.get_lines():
            x, y = line.get_xdata(), line.get_ydata()
            if (list(np.asarray(x, float)) == [0.0, 1.0] and len(set(np.asarray(y, float))) == 1
                    or list(np.asarray(y, float)) == [0.0, 1.0]
                    and len(set(np.asarray(x, float))) == 1):
                if line.get_transform() is not ax.transData:
                    out.append(line)
    return out


def _tick_labels(fig) -> list[str]:
    fig.canvas.draw()
    labels = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels += [t.get_text() for t in axis.get_ticklabels(which="both") if t.get_text()]
    return labels


def _points_under_legends(fig) -> int:
    """Data points (line vertices in data coordinates) drawn under a legend of the figure."""
    fig.canvas.draw()
    boxes = [leg.get_window_extent() for leg in _legends(fig)]
    hits = 0
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_transform() is not ax.transData or len(line.get_xydata()) == 0:
                continue
            xy = ax.transData.transform(np.asarray(line.get_xydata(), float))
            for b in boxes:
                hits += int(((xy[:, 0] > b.x0) & (xy[:, 0] < b.x1) & (xy[:, 1] > b.y0)
                             & (xy[:, 1] < b.y1)).sum())
    return hits


# ----------------------------------------------------------------------------- tests


def test_log_axis_labels_are_plain_numbers():
    fig, ax = plt.subplots()
    ax.plot([1.5, 3, 8], [2, 3, 4])
    ax.set_xscale("log")
    style.tidy_log_axes(fig)
    labels = _tick_labels(fig)
    assert labels, "no tick labels drawn"
    assert not any("×" in t or "times" in t or "^" in t for t in labels), labels
    x_labels = [t.get_text() for t in ax.xaxis.get_ticklabels(which="both") if t.get_text()]
    assert x_labels and all(float(t) > 0 for t in x_labels), x_labels
    assert "2" in x_labels  # the default writes this minor tick as 2×10^0


def test_training_curves_log_axis_has_no_scientific_minor_labels():
    fig = rbm.training_curves_figure(_curves())
    labels = _tick_labels(fig)
    assert not any("×" in t or "times" in t for t in labels), labels


def test_integer_k_ticks_on_a_base2_axis():
    fig, ax = plt.subplots()
    ks = [1, 2, 4, 8, 16, 32]
    ax.plot(ks, np.linspace(0, 1, 6))
    ax.set_xscale("log", base=2)
    style.integer_ticks(ax, np.asarray(ks, dtype=float))
    style.tidy_log_axes(fig)  # save_figure runs it: it must not undo the integer labels
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.xaxis.get_ticklabels() if t.get_text()]
    assert labels == ["1", "2", "4", "8", "16", "32"]


def test_drawn_handles_drop_series_that_were_never_drawn():
    fig, ax = plt.subplots()
    ax.errorbar([], [], yerr=[], fmt="o", label="empty")
    ax.plot([1, 2], [1, 2], label="drawn")
    ax.plot([np.nan], [np.nan], label="all NaN")
    handles, labels = style.drawn_handles(ax)
    assert labels == ["drawn"]


def test_flow_observables_legend_lists_only_drawn_sources():
    _, obs, _, _ = _flow_tables()
    # the T=∞ start has only an energy row: nothing of it is drawn in the |m| panel
    obs = obs[~((obs["source"] == "Tinf") & (obs["observable"] == "abs_magnetization"))]
    obs = obs[~((obs["source"] == "T0") & (obs["observable"] == "energy"))]
    fig = flows.observables_flow_figure(obs)
    for leg in _legends(fig):
        for h in leg.legend_handles:
            assert style._has_data(h)
    labels = _legend_labels(fig)
    assert "from T=0 (all up)" not in labels  # drawn only in the |m| panel, not in this legend


def test_reference_lines_are_labelled_and_in_a_legend():
    o, e, c = _thermo_tables()
    t, _, corr, d = _flow_tables()
    figs = [thermo.thermodynamics_figure(o, e, 2.269),
            thermo.binder_figure(o, c, 2.27, 0.01, 2.269),
            montecarlo.binder_figure(o, c, "t", reference=2.269, reference_label="Onsager $T_c$"),
            montecarlo.observables_figure(o, "t", reference=2.269, reference_label="exact $T_c$"),
            flows.correlators_figure(corr, d, {"spin": 0.125, "energy": 1.0}),
            flows.temperature_flow_figure(t, 2.269)]
    for fig in figs:
        refs = _reference_lines(fig)
        assert refs
        legend_labels = _legend_labels(fig)
        for line in refs:
            label = line.get_label()
            assert not label.startswith("_"), f"unlabelled reference line in {fig}"
            assert label in legend_labels, (label, legend_labels)


def test_exact_scaling_dimensions_are_named_as_fractions():
    _, _, corr, d = _flow_tables()
    labels = _legend_labels(flows.correlators_figure(corr, d, {"spin": 0.125, "energy": 1.0}))
    assert any("1/8" in lab for lab in labels), labels


@pytest.mark.parametrize("make", ["temperature", "correlators", "observables"])
def test_outside_legends_do_not_cover_data(make):
    t, obs, corr, d = _flow_tables()
    fig = {"temperature": lambda: flows.temperature_flow_figure(t, 2.269),
           "correlators": lambda: flows.correlators_figure(corr, d, {"spin": 0.125}),
           "observables": lambda: flows.observables_flow_figure(obs)}[make]()
    assert _legends(fig)
    assert _points_under_legends(fig) == 0


def test_flow_titles_name_model_and_rbm():
    t, _, _, _ = _flow_tables()
    a = flows.temperature_flow_figure(t, 2.269, rbm="nh81_tc")._suptitle.get_text()
    b = flows.temperature_flow_figure(t, 2.269, rbm="nh81_grid")._suptitle.get_text()
    assert a != b
    assert "2D Ising" in a and "nh81_tc" in a and "$T_c$" in a
    assert "nh81_grid" in b and "grid" in b
    assert flows.rbm_label("custom") == "RBM custom"


def test_examples_keep_lattices_apart_and_have_a_spin_key():
    ex = []
    for kind in ("rg", "rbm"):
        for layer, n in enumerate((16, 8, 4)):
            ex.append(dict(kind=kind, layer=layer, example=0, shape=[n, n],
                           values=list(RNG.choice([-1.0, 1.0], n * n)), model="ising2d"))
    steps = {s: RNG.choice([-1, 1], (10, 10)) for s in range(4)}
    fig = flows.examples_figure(pd.DataFrame(ex), steps)
    # the 10×10 flow is its own panel group, not a row of the 16×16 coarse-graining
    shapes = [{ax.images[0].get_array().shape for ax in sub.axes if ax.images}
              for sub in fig.subfigs]
    assert (16, 16) in shapes[0] and (10, 10) not in shapes[0]
    assert shapes[1] == {(10, 10)}
    assert len(fig.subfigs) == 2
    # a colour key with the two spin values, on each group
    keys = [ax for sub in fig.subfigs for ax in sub.axes if ax.get_label() == "<colorbar>"]
    assert len(keys) == 2
    fig.canvas.draw()
    texts = [t.get_text() for t in keys[0].get_yticklabels()]
    assert any("−1" in t for t in texts) and any("+1" in t for t in texts)


def test_likelihood_curve_has_an_error_band():
    fig = rbm.training_curves_figure(_curves(loglik_error=0.8))
    ax = next(a for a in fig.axes if a.get_title().startswith("log-likelihood"))
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert bands
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert ys.max() - ys.min() >= 2 * 0.8 - 1e-9
    # without errors, no band
    fig2 = rbm.training_curves_figure(_curves(loglik_error=np.nan))
    ax2 = next(a for a in fig2.axes if a.get_title().startswith("log-likelihood"))
    assert not [c for c in ax2.collections if isinstance(c, PolyCollection)]


def test_sigma_is_written_as_a_symbol():
    o, _, c = _thermo_tables()
    fig = montecarlo.observables_figure(o, "long-range chain, sigma=0.5 (cluster sampler)", "N")
    title = fig._suptitle.get_text()
    assert "σ=0.5" in title and "sigma" not in title
    fig = montecarlo.binder_figure(o, c, "long-range chain, sigma=0.5: Binder crossings", "N")
    assert "sigma" not in fig._suptitle.get_text()


def test_units_are_spelled_one_way():
    o, e, c = _thermo_tables()
    t, obs, _, _ = _flow_tables()
    figs = [thermo.thermodynamics_figure(o, e, 2.269), montecarlo.observables_figure(o, "t"),
            flows.temperature_flow_figure(t, 2.269), flows.observables_flow_figure(obs)]
    for fig in figs:
        for ax in fig.axes:
            for label in (ax.get_xlabel(), ax.get_ylabel()):
                assert "[J]" not in label, label
                if "temperature" in label and "[" in label:
                    assert "J/k_B" in label, label
                if label.startswith("energy per site"):
                    assert "$J$" in label, label


def test_save_figure_writes_png(tmp_path):
    fig = rbm.training_curves_figure(_curves())
    style.save_figure(fig, tmp_path / "c.png", pdf=False)
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_spectra_figure_k_axis_reads_integers():
    from coarsegrain.plots import spectral

    ks = [1, 2, 4, 8, 16, 32]
    rows = lambda **kw: pd.DataFrame([kw])  # noqa: E731
    singular = pd.concat([rows(scheme=s, seed=0, mode=m, singular_value=1.0 / (m + 1))
                          for s in ("random", "covariance") for m in range(8)])
    covariance = pd.DataFrame({"index": range(8), "eigenvalue": 1.0 / np.arange(1, 9)})
    fourier = pd.concat([rows(scheme="random", seed=0, mode=m, side=side, k=k, shell_power=1.0)
                         for m in range(2) for side in ("visible", "hidden")
                         for k in (0.5, 1.0, 2.0)])
    overlap = pd.concat([rows(scheme=s, seed=0, mode=m, overlap=0.5, lowpass_fraction=0.6,
                              random_baseline=0.1) for s in ("random", "covariance")
                         for m in range(4)])
    subspace = pd.concat([rows(scheme=s, seed=0, update=u, k=k, mean_cos2=0.5,
                               random_baseline=k / 64)
                          for s in ("random", "covariance") for u in (0, 10, 100) for k in ks])
    fig = spectral.spectra_figure(singular, covariance, fourier, overlap, subspace, "toy",
                                  k_claim=8, n_fourier_modes=2)
    style.tidy_log_axes(fig)  # as save_figure does
    fig.canvas.draw()
    ax = next(a for a in fig.axes if a.get_xlabel() == "k")
    labels = [t.get_text() for t in ax.xaxis.get_ticklabels() if t.get_text()]
    assert labels == [str(k) for k in ks]
    assert not any("times" in t for t in _tick_labels(fig))  # no "2×10^0" on any log axis


def test_title_note_names_protocol_and_seed_under_the_title():
    """Flow figures show one training seed of several: the note goes under the title."""
    t, _, _, _ = _flow_tables()
    fig = flows.temperature_flow_figure(t, 2.269, rbm="nh81_tc")
    note = "P1 protocol; shown: training seed 0 of 3; claims use all 3"
    style.title_note(fig, note)
    lines = fig._suptitle.get_text().splitlines()
    assert "nh81_tc" in lines[0] and lines[-1] == note
    bare = plt.figure()
    style.title_note(bare, "seed 0 of 2")
    assert bare._suptitle.get_text() == "seed 0 of 2"
    style.title_note(bare, "")
    assert bare._suptitle.get_text() == "seed 0 of 2"
    plt.close("all")


def test_layer_temperature_key_lists_the_series_of_every_panel():
    from coarsegrain.plots.flows import layer_temperature_figure

    rows = []
    for model, sigma, kinds in (("ising2d", np.nan, [("rbm", "placed"), ("rg", "placed"),
                                                     ("rg", "majority")]),
                                ("longrange", 0.75, [("rbm", "placed"), ("rg", "placed")])):
        for kind, ro in kinds:
            for layer in (0, 1):
                rows.append({"model": model, "sigma": sigma, "kind": kind, "readout": ro,
                             "layer": layer, "method": "thermometer", "temperature": 2.3,
                             "error": 0.01, "input_temperature": 2.27,
                             "in_distribution": not (model == "ising2d" and kind == "rg"
                                                     and ro == "placed" and layer > 0)})
    fig = layer_temperature_figure(pd.DataFrame(rows))
    labels = [t.get_text() for lg in fig.legends + [a.get_legend() for a in fig.axes]
              if lg is not None for t in lg.get_texts()]
    assert any("majority" in lab for lab in labels)  # drawn only in the 2D panel
    assert any("out of distribution" in lab for lab in labels)
    assert sum("input temperature" in lab for lab in labels) == 1
