# Constants, paths and helper functions of montecarlo.smk (kept apart from its rules).
MC = config["montecarlo"]
MC2 = MC["ising2d"]
MCLR = MC["longrange"]


def fmt_sigma(sigma):
    """sigma in file names: shortest exact form (0.5, 0.75)."""
    return f"{float(sigma):g}"


MC_SIGMAS = [fmt_sigma(s) for s in MCLR["sigmas"]]
MC2_CORR = f"ising2d_L{MC2['correlator_size']}"


def mc_lr_corr(sigma):
    return f"longrange_s{sigma}_N{MCLR['correlator_size']}"


def mc_scan_runtime(wildcards, attempt):
    """Minutes: Wolff flips ~1e7 spins/s on one core; a scan point costs about
    n_samples * 2 tau_int (tau ~ 1-3 sweeps) sweeps of L^2 spins, plus the tau pilot runs."""
    flips = len(MC2["temperatures"]) * (MC2["n_samples"] * 8 + 2000) * int(wildcards.L) ** 2
    return (10 + int(flips / 1e7 / 60) + 1) * attempt


def mc_figure_params(title, size_label, reference=None, reference_label=""):
    return params_json(
        {
            "title": title,
            "size_label": size_label,
            "reference": reference,
            "reference_label": reference_label,
            "pdf": config["figures"]["pdf"],
        },
        fp("plots", "analysis", "stages/montecarlo"),
    )
