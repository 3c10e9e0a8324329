# The Iso et al. protocol beside P1's (src: Veiga & Vicente's public reproduction): data on a
# uniform temperature grid at L = 10, three {0,1} RBMs without biases (all temperatures, T = 4..6
# only, T ~ 0 only) trained by CD-1 with plain SGD, their flows from all-up and random starts read
# by an MLP thermometer trained on the same grid, and the claims "the all-T RBM flows to T_c, the
# controls do not". Every model is trained under the `seeds` replicates (REPLICATES, rbm.smk).
include: "helpers/iso.smk"


# Rules cannot have empty outputs: without temperatures of its own the rule is not defined.
if ISO_OWN_T:

    rule iso_sample:
        """The grid temperatures the ising2d section does not sample at this count, with its
        sampler and data convention (cold start below T_c, thinning by 2 tau_int, random global
        flip: at T = 1e-6 exactly the two ground states)."""
        output:
            spins=[path("iso_spins", L=ISO["L"], T=t) for t in ISO_OWN_T],
        log:
            path("log", name="iso_sample"),
        benchmark:
            path("benchmark", name="iso_sample")
        conda:
            CONDA_ENV
        threads: 1
        resources:
            mem_mb=2000,
            runtime=iso_sample_runtime,
        params:
            json=lambda w: params_json(
                {
                    "L": ISO["L"],
                    "temperatures": [ISO_T[t] for t in ISO_OWN_T],
                    "n_samples": ISO["n_per_temperature"],
                    "sampler": ISING["sampler"],
                    "window": ISING["window"],
                    "thin": ISING["thin"],
                    "seed": config["seed"],
                    "device": config["device"],
                },
                fp("lattice", "stages/ising2d"),
            ),
        shell:
            cg("ising2d.sample-ising2d", outputs=["spins"])


rule iso_observables:
    """Monte Carlo E, |m| per grid temperature: the energy estimator's reference curve."""
    input:
        spins=iso_spins(),
    output:
        table=path("iso_observables", L=ISO["L"]),
    log:
        path("log", name="iso_observables"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json({"n_blocks": ISING["n_blocks"]}, fp("lattice", "stages/ising2d")),
    shell:
        cg("ising2d.observables-ising2d", inputs=["spins"], outputs=["table"])


rule iso_rbm:
    """One Iso RBM: N_v = L^2, {0,1} units, no biases, CD-1, plain SGD (src); the last update's
    model is flowed (src: fixed-length training)."""
    input:
        spins=lambda w: iso_spins(iso_model_temperatures(w.iso_model)),
    output:
        model=path("iso_rbm", rep="{rep}", iso_model="{iso_model}"),
        curve=path("iso_rbm_curve", rep="{rep}", iso_model="{iso_model}"),
    log:
        path("log", name="iso_rbm_{iso_model}_seed{rep}"),
    benchmark:
        path("benchmark", name="iso_rbm_{iso_model}_seed{rep}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=iso_rbm_runtime,
    params:
        json=lambda w: params_json(iso_rbm_params(w.iso_model, w.rep), RBM_FP),
    shell:
        cg("rbm.train", inputs=["spins"], outputs=["model", "curve"])


rule iso_thermometer:
    """Iso's MLP thermometer on the grid (one class per temperature), with its calibration."""
    input:
        spins=iso_spins(),
    output:
        **{t: path("iso_thermometer_table", rep="{rep}", table=t) for t in THERMO_TABLES},
        model=path("iso_thermometer", rep="{rep}"),
    log:
        path("log", name="iso_thermometer_seed{rep}"),
    benchmark:
        path("benchmark", name="iso_thermometer_seed{rep}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=iso_thermometer_runtime,
    params:
        json=lambda w: params_json(
            {
                **ISO["thermometer"],
                "arch": "mlp",
                "val_fraction": 0.2,
                "augment_flip": True,
                "augment_shift": False,
                "seed": replicate_seed(w.rep),
                "device": config["device"],
            },
            FLOW_FP,
        ),
    shell:
        cg("flows.train-thermometer", inputs=["spins"], outputs=["model", *THERMO_TABLES])


rule iso_flows:
    """The three models' flows of one seed from every start, read by the seed's thermometer and
    by the energy estimator (one job: the flows cost less than starting a job)."""
    input:
        rbms=[path("iso_rbm", rep="{rep}", iso_model=m) for m in ISO_MODELS],
        thermometer=path("iso_thermometer", rep="{rep}"),
        observables=path("iso_observables", L=ISO["L"]),
    output:
        **{t: path("iso_flow_table", rep="{rep}", table=t) for t in ISO_FLOW_TABLES},
    log:
        path("log", name="iso_flows_seed{rep}"),
    benchmark:
        path("benchmark", name="iso_flows_seed{rep}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=lambda wildcards, attempt: 15 * attempt,
    params:
        json=lambda w: params_json(
            {
                "models": ISO_MODELS,
                "steps": ISO["flow"]["steps"],
                "starts": ISO["flow"]["starts"],
                "n_chains": ISO["flow"]["n_chains"],
                "n_boot": ISO["flow"]["n_boot"],
                "seed": replicate_seed(w.rep),
                "device": config["device"],
            },
            ISO_FLOW_FP,
        ),
    shell:
        cg(
            "iso.flow-temperatures",
            inputs=["rbms", "thermometer", "observables"],
            outputs=ISO_FLOW_TABLES,
        )


rule iso_claims:
    """Measurements of one seed: each model's flow end temperature vs T_c, with the thermometer's
    resolution at T_c as the tolerance."""
    input:
        temperatures=path("iso_flow_table", rep="{rep}", table="temperatures"),
        response=path("iso_thermometer_table", rep="{rep}", table="response"),
    output:
        claims=path("claims_part", name="iso_seed{rep}"),
    log:
        path("log", name="iso_claims_seed{rep}"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: params_json(
            {
                "tail_steps": ISO["flow"]["tail_steps"],
                "method": "thermometer",
                "replicate": int(w.rep),
                "n_updates": {m: iso_rbm_updates(m) for m in ISO_MODELS},
                "temperatures": {
                    m: [ISO_T[t] for t in iso_model_temperatures(m)] for m in ISO_MODELS
                },
            },
            ISO_FP,
        ),
    shell:
        cg("iso.claims", inputs=["temperatures", "response"], outputs=["claims"])


rule figure_iso_flows:
    input:
        temperatures=path("iso_flow_table", rep=0, table="temperatures"),
    output:
        figure=report(
            path("figure", name="iso_flows_temperature"),
            caption="../report/iso_flows_temperature.rst",
            category="3. RBM flows",
            subcategory="Iso et al. protocol",
        ),
    log:
        path("log", name="figure_iso_flows_temperature"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json(
            {
                "pdf": config["figures"]["pdf"],
                "tc": T_C_2D,
                "L": ISO["L"],
                "n_seeds": len(REPLICATES),
            },
            ISO_FIG_FP,
        ),
    shell:
        cg("iso.figure-temperature", inputs=["temperatures"], outputs=["figure"])


if ISO["enabled"]:
    ALL_TARGETS += [path("figure", name="iso_flows_temperature")]
    CLAIM_FILES += [path("claims_part", name=f"iso_seed{q}") for q in REPLICATES]
    BENCHMARKS += [path("benchmark", name="iso_sample")] if ISO_OWN_T else []
    BENCHMARKS += [
        path("benchmark", name=f"iso_{k}_seed{q}")
        for q in REPLICATES
        for k in ["thermometer", "flows", *[f"rbm_{m}" for m in ISO_MODELS]]
    ]
