# RG comparison (P1, P2): block-spin RG, thermometers, RBM flows, temperature flows, correlators
# along the flow, <v h> maps and their locality, per-layer temperatures of stacked RBMs vs RG,
# for the 2D Ising model and the long-range chain at its measured T_c.
include: "helpers/flows.smk"


wildcard_constraints:
    rbm="[A-Za-z0-9]+(_[A-Za-z0-9]+)*",


# ---------------------------------------------------------------- Monte Carlo grids
rule longrange_sample_grid:
    """One (sigma, N): cluster samples at T = x T_c for every grid ratio x, plus observables."""
    input:
        tc=path("mc_longrange_tc", sigma="{sigma}"),
    output:
        spins=[
            path("lr_grid_spins", sigma="{sigma}", N="{N}", point=flows_point(x))
            for x in FLLR["points"]
        ],
        table=path("lr_grid_observables", sigma="{sigma}", N="{N}"),
    log:
        path("log", name="longrange_sample_grid_s{sigma}_N{N}"),
    benchmark:
        path("benchmark", name="longrange_sample_grid_s{sigma}_N{N}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=flows_runtime(60),
    params:
        json=lambda w: params_json(
            {
                "sigma": float(w.sigma),
                "N": int(w.N),
                "grid": "relative",
                "points": [float(x) for x in FLLR["points"]],
                "n_samples": FLLR["n_samples"],
                "images": FLLR["images"],
                "seed": config["seed"],
            },
            fp("lattice", "stages/flows"),
        ),
    shell:
        cg("flows.sample-longrange", inputs=["tc"], outputs=["spins", "table"])


# ---------------------------------------------------------------- block-spin RG
# 2x2 block-spin RG of the 2D Monte Carlo configurations at T_c, one file per step.
rule flows_rg_ising2d:
    input:
        spins=flows_tc_spins("ising2d", FL2_STACK_L),
    output:
        blocks=[
            path("rg_blocks", model="ising2d", rg="{rg}", step=k)
            for k in range(1, flows_n_layers("ising2d") + 1)
        ],
    log:
        path("log", name="flows_rg_ising2d_{rg}"),
    wildcard_constraints:
        rg="average|majority|decimate",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=flows_mem_mb,
        runtime=flows_runtime(10),
    params:
        json=lambda w: params_json(
            {"rule": w.rg, "b": 2, "seed": config["seed"]}, fp("rg", "stages/flows")
        ),
    shell:
        cg("flows.block-spin", inputs=["spins"], outputs=["blocks"])


# 2-site block-spin RG (decimation, averaging or majority) of the chain at T_c.
rule flows_rg_longrange:
    input:
        spins=flows_tc_spins("longrange_s{sigma}", FLLR["N"]),
    output:
        blocks=[
            path("rg_blocks", model="longrange_s{sigma}", rg="{rg}", step=k)
            for k in range(1, flows_n_layers("longrange") + 1)
        ],
    log:
        path("log", name="flows_rg_longrange_s{sigma}_{rg}"),
    wildcard_constraints:
        rg="average|majority|decimate",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=flows_mem_mb,
        runtime=flows_runtime(10),
    params:
        json=lambda w: params_json(
            {"rule": w.rg, "b": 2, "seed": config["seed"]}, fp("rg", "stages/flows")
        ),
    shell:
        cg("flows.block-spin", inputs=["spins"], outputs=["blocks"])


# ---------------------------------------------------------------- thermometers
# Neural thermometer at one lattice side, trained on the Monte Carlo temperature grid;
# calibration (confusion matrix, predicted vs true T) on held-out configurations.
rule flows_thermometer:
    input:
        spins=lambda w: flows_grid_spins(w.model, int(w.size)),
    output:
        **{
            t: path("thermometer_table", rep="{rep}", model="{model}", size="{size}", table=t)
            for t in THERMO_TABLES
        },
        model=path("thermometer", rep="{rep}", model="{model}", size="{size}"),
    log:
        path("log", name="flows_thermometer_{model}_L{size}_seed{rep}"),
    benchmark:
        path("benchmark", name="flows_thermometer_{model}_L{size}_seed{rep}")
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
        size="[0-9]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=flows_mem_mb,
        runtime=flows_thermometer_runtime,
    params:
        json=lambda w: params_json(
            {**FLOWS["thermometer"], "seed": replicate_seed(w.rep), "device": config["device"]},
            FLOW_FP,
        ),
    shell:
        cg("flows.train-thermometer", inputs=["spins"], outputs=["model", *THERMO_TABLES])


# ---------------------------------------------------------------- chain RBMs (P2)
rule flows_lr_rbm:
    """RBM on the chain at its measured T_c (N visible, n_hidden hidden units), P1 settings."""
    input:
        spins=flows_tc_spins("longrange_s{sigma}", FLLR["N"]),
    output:
        model=path("flows_lr_rbm", rep="{rep}", sigma="{sigma}"),
        curve=path("flows_lr_rbm_curve", rep="{rep}", sigma="{sigma}"),
    log:
        path("log", name="flows_lr_rbm_s{sigma}_seed{rep}"),
    benchmark:
        path("benchmark", name="flows_lr_rbm_s{sigma}_seed{rep}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=flows_mem_mb,
        runtime=flows_runtime(60),
    params:
        json=lambda w: params_json(
            flows_lr_train_params(w.rep, w.sigma, n_hidden=flows_lr_hidden()), FLOW_FP
        ),
    shell:
        cg("rbm.train", inputs=["spins"], outputs=["model", "curve"])


rule flows_lr_stack:
    """Greedy stacked RBM on the chain at T_c, each layer 2x fewer units (a 2-site block step)."""
    input:
        spins=flows_tc_spins("longrange_s{sigma}", FLLR["N"]),
    output:
        model=path("flows_lr_stack", rep="{rep}", sigma="{sigma}"),
        curve=path("flows_lr_stack_curve", rep="{rep}", sigma="{sigma}"),
    log:
        path("log", name="flows_lr_stack_s{sigma}_seed{rep}"),
    benchmark:
        path("benchmark", name="flows_lr_stack_s{sigma}_seed{rep}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=flows_mem_mb,
        runtime=flows_runtime(60),
    params:
        json=lambda w: params_json(
            flows_lr_train_params(
                w.rep,
                w.sigma,
                sizes=flows_sizes("longrange")[1:],
                propagate=FLLR["stack"]["propagate"],
            ),
            FLOW_FP,
        ),
    shell:
        cg("rbm.train-stack", inputs=["spins"], outputs=["model", "curve"])


# Training curves of the chain RBM and stack (seed 0): likelihoods, free-energy gap, the
# checkpoint the flows use, and E, |m| of model samples against the data.
rule figure_flows_lr_curves:
    input:
        curves=lambda w: path(f"flows_lr_{w.kind}_curve", rep=0, sigma=w.sigma),
    output:
        figure=report(
            path("figure", name="flows_longrange_s{sigma}_{kind}_curves"),
            caption="../report/rbm_training_curves.rst",
            category="2. RBMs",
        ),
    log:
        path("log", name="figure_flows_longrange_s{sigma}_{kind}_curves"),
    wildcard_constraints:
        kind="rbm|stack",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: params_json(
            {
                "pdf": config["figures"]["pdf"],
                "title": f"{'RBM' if w.kind == 'rbm' else 'stacked RBM (greedy)'} on the "
                f"long-range chain at its T_c, sigma = {w.sigma}, N = {FLLR['N']}",
            },
            RBM_FIG_FP,
        ),
    shell:
        cg("rbm.figure-curves", inputs=["curves"], outputs=["figure"])


# ---------------------------------------------------------------- RBM flows
# v -> h -> v flow from Monte Carlo data at T_c, from T=0 and from T=infinity.
rule flows_rbm_flow:
    input:
        rbm=lambda w: flows_rbm(w.model, w.rbm, w.rep),
        spins=lambda w: flows_tc_spins(w.model, flows_flow_size(w.model, w.rbm)),
    output:
        flow=path("flow", rep="{rep}", model="{model}", rbm="{rbm}"),
    log:
        path("log", name="flows_rbm_flow_{model}_{rbm}_seed{rep}"),
    benchmark:
        path("benchmark", name="flows_rbm_flow_{model}_{rbm}_seed{rep}")
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=flows_mem_mb,
        runtime=flows_runtime(30),
    params:
        json=lambda w: flows_params(
            w.model,
            w.rep,
            steps=FLOWS["steps"],
            starts=FLOWS["starts"],
            n_configs=FLOWS["n_configs"],
        ),
    shell:
        cg("flows.rbm-flow", inputs=["rbm", "spins"], outputs=["flow"])


# Thermometer and physics-estimator temperatures, and E, |m|, per flow step and start.
rule flows_temperature_flow:
    input:
        flow=path("flow", rep="{rep}", model="{model}", rbm="{rbm}"),
        thermometer=lambda w: path(
            "thermometer", rep=w.rep, model=w.model, size=flows_flow_size(w.model, w.rbm)
        ),
        observables=lambda w: flows_observables(w.model, flows_flow_size(w.model, w.rbm)),
    output:
        **{
            t: path("flow_table", rep="{rep}", model="{model}", rbm="{rbm}", table=t)
            for t in FLOW_TABLES
        },
    log:
        path("log", name="flows_temperature_flow_{model}_{rbm}_seed{rep}"),
    benchmark:
        path("benchmark", name="flows_temperature_flow_{model}_{rbm}_seed{rep}")
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=flows_mem_mb,
        runtime=flows_runtime(30),
    params:
        json=lambda w: flows_params(w.model, w.rep, n_boot=FLOWS["n_boot"]),
    shell:
        cg(
            "flows.temperature-flow",
            inputs=["flow", "thermometer", "observables"],
            outputs=FLOW_TABLES,
        )


# Spin and energy correlators, Delta_sigma and Delta_eps per flow step, and of the Monte Carlo
# configurations at T_c (source monte_carlo) fitted the same way.
rule flows_correlators:
    input:
        flow=path("flow", rep="{rep}", model="{model}", rbm="{rbm}"),
        reference=lambda w: flows_tc_spins(w.model, flows_flow_size(w.model, w.rbm)),
        # Monte Carlo Delta at the flow's own end temperature, same lattice and fit
        grid=lambda w: flows_grid_spins(w.model, flows_flow_size(w.model, w.rbm)),
        temperatures=path(
            "flow_table", rep="{rep}", model="{model}", rbm="{rbm}", table="temperatures"
        ),
    output:
        **{
            t: path("flow_table", rep="{rep}", model="{model}", rbm="{rbm}", table=t)
            for t in CORR_TABLES
        },
    log:
        path("log", name="flows_correlators_{model}_{rbm}_seed{rep}"),
    benchmark:
        path("benchmark", name="flows_correlators_{model}_{rbm}_seed{rep}")
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=flows_mem_mb,
        runtime=flows_runtime(30),
    params:
        json=lambda w: flows_params(
            w.model,
            w.rep,
            sources=["mc"],
            steps=FLOWS["correlators"]["steps"],
            n_groups=FLOWS["correlators"]["n_groups"],
            n_boot=FLOWS["correlators"]["n_boot"],
            tail_steps=FLOWS["tail_steps"],
            **flows_fit(w.model),
        ),
    shell:
        cg(
            "flows.correlators",
            inputs=["flow", "reference", "grid", "temperatures"],
            outputs=CORR_TABLES,
        )


# ---------------------------------------------------------------- stacks: <v h> maps, layers
# <v_i h_a> maps and linear receptive fields of every stack layer and RG step; locality.
rule flows_io_maps:
    input:
        stack=lambda w: flows_stack(w.model, w.rep),
        spins=lambda w: flows_tc_spins(w.model, flows_sizes(w.model)[0]),
    output:
        maps=path("flows_stack_table", rep="{rep}", model="{model}", table="iomaps"),
        locality=path("flows_stack_table", rep="{rep}", model="{model}", table="locality"),
    log:
        path("log", name="flows_io_maps_{model}_seed{rep}"),
    benchmark:
        path("benchmark", name="flows_io_maps_{model}_seed{rep}")
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=flows_mem_mb,
        runtime=flows_runtime(30),
    params:
        json=lambda w: flows_params(
            w.model,
            w.rep,
            rg_rule=(FL2 if w.model == "ising2d" else FLLR)["rg_rule"],
            b=2,
            **{k: v for k, v in FLOWS["iomaps"].items() if k != "n_units"},
        ),
    shell:
        cg("flows.io-maps", inputs=["stack", "spins"], outputs=["maps", "locality"])


# Temperature of each layer's output, stacked RBM vs RG, from Monte Carlo data at T_c.
rule flows_layer_temperatures:
    input:
        stack=lambda w: flows_stack(w.model, w.rep),
        spins=lambda w: flows_tc_spins(w.model, flows_sizes(w.model)[0]),
        thermometers=lambda w: [
            path("thermometer", rep=w.rep, model=w.model, size=s) for s in flows_sizes(w.model)
        ],
        observables=lambda w: [flows_observables(w.model, s) for s in flows_sizes(w.model)],
    output:
        table=path("flows_stack_table", rep="{rep}", model="{model}", table="layers"),
        examples=path("flows_stack_table", rep="{rep}", model="{model}", table="examples"),
    log:
        path("log", name="flows_layer_temperatures_{model}_seed{rep}"),
    benchmark:
        path("benchmark", name="flows_layer_temperatures_{model}_seed{rep}")
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=flows_mem_mb,
        runtime=flows_runtime(30),
    params:
        json=lambda w: flows_params(
            w.model,
            w.rep,
            rg_rule=(FL2 if w.model == "ising2d" else FLLR)["rg_rule"],
            b=2,
            n_boot=FLOWS["n_boot"],
            **FLOWS["layers"],
        ),
    shell:
        cg(
            "flows.layer-temperatures",
            inputs=["stack", "spins", "thermometers", "observables"],
            outputs=["table", "examples"],
        )


# Claims of one model: flow end temperature vs T_c, flow Delta vs 1/8 or Monte Carlo, RG vs RBM
# locality, stacked RBM vs RG temperature direction.
rule flows_claims:
    input:
        temperatures=lambda w: [
            path("flow_table", rep=w.rep, model=w.model, rbm=r, table="temperatures")
            for r in flows_rbm_names(w.model)
        ],
        deltas=lambda w: [
            path("flow_table", rep=w.rep, model=w.model, rbm=r, table="deltas")
            for r in flows_rbm_names(w.model)
        ],
        locality=path("flows_stack_table", rep="{rep}", model="{model}", table="locality"),
        layers=path("flows_stack_table", rep="{rep}", model="{model}", table="layers"),
        tc=lambda w: (
            [] if w.model == "ising2d" else [path("mc_longrange_tc", sigma=flows_sigma(w.model))]
        ),
        # one per flowed RBM (same order): each flow's tolerance is its own lattice's resolution
        response=lambda w: [
            path(
                "thermometer_table",
                rep=w.rep,
                model=w.model,
                table="response",
                size=flows_flow_size(w.model, r),
            )
            for r in flows_rbm_names(w.model)
        ],
        layer_response=lambda w: (
            [
                path(
                    "thermometer_table",
                    rep=w.rep,
                    model=w.model,
                    table="response",
                    size=flows_sizes(w.model)[1],
                )
            ]
            if w.model == "ising2d"
            else []
        ),
    output:
        claims=path("claims_part", name="flows_{model}_seed{rep}"),
    log:
        path("log", name="flows_claims_{model}_seed{rep}"),
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: flows_params(
            w.model,
            w.rep,
            flows=flows_rbm_names(w.model),
            method=FLOWS["method"],
            tail_steps=FLOWS["tail_steps"],
            replicate=int(w.rep),
        ),
    shell:
        cg(
            "flows.claims",
            inputs=[
                "temperatures",
                "deltas",
                "locality",
                "layers",
                "tc",
                "response",
                "layer_response",
            ],
            outputs=["claims"],
        )


# ---------------------------------------------------------------- figures
rule figure_flows_examples:
    input:
        examples=path("flows_stack_table", rep=0, model="{model}", table="examples"),
        flow=lambda w: path("flow", rep=0, model=w.model, rbm=flows_rbm_names(w.model)[0]),
    output:
        figure=report(
            path("figure", name="flows_{model}_examples"),
            caption="../report/flows_examples.rst",
            category="4. RG vs RBM",
            subcategory="{model}",
        ),
    log:
        path("log", name="figure_flows_{model}_examples"),
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=flows_figure_params(source="mc"),
    shell:
        cg("flows.figure-examples", inputs=["examples", "flow"], outputs=["figure"])


rule figure_flows_calibration:
    input:
        confusion=lambda w: path(
            "thermometer_table",
            rep=0,
            model=w.model,
            table="confusion",
            size=flows_flow_size(w.model),
        ),
        calibration=lambda w: path(
            "thermometer_table",
            rep=0,
            model=w.model,
            table="calibration",
            size=flows_flow_size(w.model),
        ),
    output:
        figure=report(
            path("figure", name="flows_{model}_calibration"),
            caption="../report/flows_calibration.rst",
            category="3. RBM flows",
            subcategory="{model}",
        ),
    log:
        path("log", name="figure_flows_{model}_calibration"),
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=flows_figure_params(),
    shell:
        cg("flows.figure-calibration", inputs=["confusion", "calibration"], outputs=["figure"])


rule figure_flows_temperature:
    input:
        temperatures=path("flow_table", rep=0, model="{model}", rbm="{rbm}", table="temperatures"),
        tc=lambda w: (
            [] if w.model == "ising2d" else [path("mc_longrange_tc", sigma=flows_sigma(w.model))]
        ),
    output:
        figure=report(
            path("figure", name="flows_{model}_{rbm}_temperature"),
            caption="../report/flows_temperature.rst",
            category="3. RBM flows",
            subcategory="{model}",
        ),
    log:
        path("log", name="figure_flows_{model}_{rbm}_temperature"),
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: flows_figure_params(
            tc=T_C_2D if w.model == "ising2d" else None,
            sigma=flows_labels(w.model).get("sigma"),
            methods=["thermometer", "energy"],
            rbm=w.rbm,
        ),
    shell:
        cg("flows.figure-temperature", inputs=["temperatures", "tc"], outputs=["figure"])


rule figure_flows_observables:
    input:
        observables=path("flow_table", rep=0, model="{model}", rbm="{rbm}", table="observables"),
        reference=lambda w: flows_observables(w.model, flows_flow_size(w.model, w.rbm)),
    output:
        figure=report(
            path("figure", name="flows_{model}_{rbm}_observables"),
            caption="../report/flows_observables.rst",
            category="3. RBM flows",
            subcategory="{model}",
        ),
    log:
        path("log", name="figure_flows_{model}_{rbm}_observables"),
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: flows_figure_params(
            L=flows_flow_size(w.model, w.rbm),
            rbm=w.rbm,
            **(
                {"temperature": float(fmt_t(RBMC["tc_temperature"]))}
                if w.model == "ising2d"
                else {"temperature_ratio": 1.0}
            ),
        ),
    shell:
        cg("flows.figure-observables", inputs=["observables", "reference"], outputs=["figure"])


rule figure_flows_correlators:
    input:
        correlators=path("flow_table", rep=0, model="{model}", rbm="{rbm}", table="correlators"),
        deltas=path("flow_table", rep=0, model="{model}", rbm="{rbm}", table="deltas"),
    output:
        figure=report(
            path("figure", name="flows_{model}_{rbm}_correlators"),
            caption="../report/flows_correlators.rst",
            category="3. RBM flows",
            subcategory="{model}",
        ),
    log:
        path("log", name="figure_flows_{model}_{rbm}_correlators"),
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: flows_figure_params(exact=flows_exact_deltas(w.model), rbm=w.rbm),
    shell:
        cg("flows.figure-correlators", inputs=["correlators", "deltas"], outputs=["figure"])


rule figure_flows_iomaps:
    input:
        maps=path("flows_stack_table", rep=0, model="{model}", table="iomaps"),
    output:
        figure=report(
            path("figure", name="flows_{model}_iomaps"),
            caption="../report/flows_iomaps.rst",
            category="4. RG vs RBM",
            subcategory="{model}",
        ),
    log:
        path("log", name="figure_flows_{model}_iomaps"),
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: flows_figure_params(
            n_units=FLOWS["iomaps"]["n_units"],
            **{k: v for k, v in flows_labels(w.model).items() if k in ("model", "sigma")},
        ),
    shell:
        cg("flows.figure-iomaps", inputs=["maps"], outputs=["figure"])


rule figure_flows_locality:
    input:
        locality=path("flows_stack_table", rep=0, model="{model}", table="locality"),
    output:
        figure=report(
            path("figure", name="flows_{model}_locality"),
            caption="../report/flows_locality.rst",
            category="4. RG vs RBM",
            subcategory="{model}",
        ),
    log:
        path("log", name="figure_flows_{model}_locality"),
    wildcard_constraints:
        model="ising2d|longrange_s[0-9.]+",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=flows_figure_params(),
    shell:
        cg("flows.figure-locality", inputs=["locality"], outputs=["figure"])


rule figure_flows_layer_temperatures:
    input:
        layers=[path("flows_stack_table", rep=0, model=m, table="layers") for m in FLOW_MODELS],
    output:
        figure=report(
            path("figure", name="flows_layer_temperatures"),
            caption="../report/flows_layer_temperatures.rst",
            category="4. RG vs RBM",
        ),
    log:
        path("log", name="figure_flows_layer_temperatures"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=flows_figure_params(method=FLOWS["method"]),
    shell:
        cg("flows.figure-layer-temperatures", inputs=["layers"], outputs=["figure"])


FLOW_PER_RBM_FIGURES = ["temperature", "observables", "correlators"]
FLOW_PER_MODEL_FIGURES = ["examples", "calibration", "iomaps", "locality"]
ALL_TARGETS += [
    *[path("figure", name=f"flows_{m}_{f}") for m in FLOW_MODELS for f in FLOW_PER_MODEL_FIGURES],
    *[
        path("figure", name=f"flows_longrange_s{s}_{k}_curves")
        for s in FLOW_SIGMAS
        for k in ("rbm", "stack")
    ],
    *[
        path("figure", name=f"flows_{m}_{r}_{f}")
        for m in FLOW_MODELS
        for r in flows_rbm_names(m)
        for f in FLOW_PER_RBM_FIGURES
    ],
    *([path("figure", name="flows_layer_temperatures")] if FLOW_MODELS else []),
    *[
        path("rg_blocks", model="ising2d", rg=rg, step=k)
        for rg in FL2["rg_rules"]
        for k in range(1, flows_n_layers("ising2d") + 1)
        if FL2["enabled"]
    ],
    *[
        path("rg_blocks", model=f"longrange_s{s}", rg=rg, step=k)
        for s in FLOW_SIGMAS
        for rg in FLLR["rg_rules"]
        for k in range(1, flows_n_layers("longrange") + 1)
    ],
]
CLAIM_FILES += [
    path("claims_part", name=f"flows_{m}_seed{r}") for m in FLOW_MODELS for r in REPLICATES
]
BENCHMARKS += [
    *[
        path("benchmark", name=f"longrange_sample_grid_s{s}_N{n}")
        for s in FLOW_SIGMAS
        for n in flows_sizes(f"longrange_s{s}")
    ],
    *[
        path("benchmark", name=f"flows_thermometer_{m}_L{n}_seed{q}")
        for m in FLOW_MODELS
        for n in sorted({*flows_flow_sizes(m), *flows_sizes(m)})
        for q in REPLICATES
    ],
    *[
        path("benchmark", name=f"flows_lr_{k}_s{s}_seed{q}")
        for s in FLOW_SIGMAS
        for k in ("rbm", "stack")
        for q in REPLICATES
    ],
    *[
        path("benchmark", name=f"flows_{k}_{m}_{r}_seed{q}")
        for m in FLOW_MODELS
        for r in flows_rbm_names(m)
        for k in ("rbm_flow", "temperature_flow", "correlators")
        for q in REPLICATES
    ],
    *[
        path("benchmark", name=f"flows_{k}_{m}_seed{q}")
        for m in FLOW_MODELS
        for k in ("io_maps", "layer_temperatures")
        for q in REPLICATES
    ],
]
