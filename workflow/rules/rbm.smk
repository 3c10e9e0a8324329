# RBMs on 2D Ising configurations (P1): the single RBMs nh{N_h}_{tc|grid} (N_v = L^2) and the
# greedy stacked RBMs, with their training curves and figures. Helpers for other stages:
# rbm_p1_model(name), rbm_p1_stack(L), rbm_p1_checkpoint(name) ("stack_L{L}" names a stack).
include: "helpers/rbm.smk"


wildcard_constraints:
    rbm_name="nh[0-9]+_(tc|grid)",


rule rbm_train:
    """One P1 RBM: N_v = L^2, N_h from the name, on T_c data (tc) or the whole grid (grid)."""
    input:
        spins=lambda w: (
            [rbm_tc_spins(w.L)]
            if w.rbm_name.endswith("_tc")
            else [path("ising2d_spins", L=w.L, T=t) for t in ISING_T]
        ),
    output:
        model=path("rbm_model", rep="{rep}", L="{L}", name="{rbm_name}"),
        curve=path("rbm_curve", rep="{rep}", L="{L}", name="{rbm_name}"),
    log:
        path("log", name="rbm_train_L{L}_{rbm_name}_seed{rep}"),
    benchmark:
        path("benchmark", name="rbm_train_L{L}_{rbm_name}_seed{rep}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=rbm_runtime,
    params:
        json=lambda w: params_json(
            rbm_train_params(w.rep, n_hidden=int(w.rbm_name[2:].split("_")[0])), RBM_FP
        ),
    shell:
        cg("rbm.train", inputs=["spins"], outputs=["model", "curve"])


rule rbm_train_stack:
    """Greedy stacked RBM on L x L configurations at T_c, each layer 4x fewer units."""
    input:
        spins=lambda w: [rbm_tc_spins(w.L)],
    output:
        model=path("rbm_stack", rep="{rep}", L="{L}"),
        curve=path("rbm_stack_curve", rep="{rep}", L="{L}"),
    log:
        path("log", name="rbm_train_stack_L{L}_seed{rep}"),
    benchmark:
        path("benchmark", name="rbm_train_stack_L{L}_seed{rep}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=6000,
        runtime=rbm_stack_runtime,
    params:
        json=lambda w: params_json(
            rbm_train_params(
                w.rep,
                n_layers=RBMC["stack"]["n_layers"],
                reduction=4,
                propagate=RBMC["stack"]["propagate"],
                n_updates=RBMC["stack"]["n_updates"],
                monitor=RBMC["stack"]["monitor"],
            ),
            RBM_FP,
        ),
    shell:
        cg("rbm.train-stack", inputs=["spins"], outputs=["model", "curve"])


rule figure_rbm_curves:
    """Training curves of all single RBMs at L = rbm.L."""
    input:
        curves=[path("rbm_curve", rep=0, L=RBMC["L"], name=n) for n in RBM_NAMES],
    output:
        figure=report(
            path("figure", name="rbm_training_curves"),
            caption="../report/rbm_training_curves.rst",
            category="2. RBMs",
        ),
    log:
        path("log", name="figure_rbm_training_curves"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json(
            {
                "labels": RBM_NAMES,
                "pdf": config["figures"]["pdf"],
                "title": f"P1 RBMs ({RBMC['train']['method'].upper()}-{RBMC['train']['k']}) on 2D Ising "
                f"configurations, L = {RBMC['L']}",
            },
            RBM_FIG_FP,
        ),
    shell:
        cg("rbm.figure-curves", inputs=["curves"], outputs=["figure"])


rule figure_rbm_stack_curves:
    input:
        curves=path("rbm_stack_curve", rep=0, L="{L}"),
    output:
        figure=report(
            path("figure", name="rbm_stack_curves_L{L}"),
            caption="../report/rbm_stack_curves.rst",
            category="2. RBMs",
        ),
    log:
        path("log", name="figure_rbm_stack_curves_L{L}"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: params_json(
            {
                "pdf": config["figures"]["pdf"],
                "title": f"stacked RBM (greedy) on 2D Ising configurations at $T_c$, L = {w.L}",
            },
            RBM_FIG_FP,
        ),
    shell:
        cg("rbm.figure-curves", inputs=["curves"], outputs=["figure"])


if RBMC["enabled"]:
    ALL_TARGETS += [path("figure", name="rbm_training_curves")]
    ALL_TARGETS += [path("figure", name=f"rbm_stack_curves_L{L}") for L in RBMC["stack"]["sizes"]]
    BENCHMARKS += [
        path("benchmark", name=f"rbm_train_L{RBMC['L']}_{n}_seed{q}")
        for n in RBM_NAMES
        for q in REPLICATES
    ]
    BENCHMARKS += [
        path("benchmark", name=f"rbm_train_stack_L{L}_seed{q}")
        for L in RBMC["stack"]["sizes"]
        for q in REPLICATES
    ]
