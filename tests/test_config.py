"""A bad config stops before any job, with a message naming the key and what is allowed."""

import copy
import re
import subprocess
import sys

import pytest
import yaml

from coarsegrain.config import (
    ConfigError,
    check_config,
    config_digest,
    config_errors,
    cross_field_errors,
    deep_merge,
    fill_defaults,
    layer_on_preset,
    preset_config,
    preset_files,
    run_name,
)


@pytest.fixture(scope="module")
def schema(repo_root):
    return repo_root / "workflow/schemas/config.schema.yaml"


@pytest.fixture(scope="module")
def base(repo_root):
    return yaml.safe_load((repo_root / "config.yaml").read_text())


def test_shipped_configs_are_valid(repo_root, schema):
    """Each preset alone (its file plus the schema defaults) passes the schema and the
    cross-field rules, and names itself."""
    presets = preset_files(repo_root)
    assert {"quick", "ci", "thesis"} <= set(presets)
    for name, file in presets.items():
        cfg = yaml.safe_load(file.read_text())
        assert cfg["preset"] == name, file
        assert config_errors(cfg, schema) == [], name
        assert cross_field_errors(fill_defaults(cfg, schema), repo_root) == [], name


BAD = [
    # (mutation, words the message must contain)
    (lambda c: c.update(unknown_key=1), ["unknown_key", "allowed here"]),
    (lambda c: c["ising2d"].update(n_sample=10), ["ising2d.n_sample", "allowed here", "n_samples"]),
    (lambda c: c["ising2d"].update(sizes=[8, -16]), ["ising2d.sizes[1]", "-16", ">= 4"]),
    (lambda c: c["ising2d"].update(sizes=[9]), ["ising2d.sizes[0]", "multiple of 2"]),
    (lambda c: c["ising2d"].update(sizes="16"), ["ising2d.sizes", "wrong type", "array"]),
    (lambda c: c["ising2d"].update(temperatures=[2.0, 0.0]), ["ising2d.temperatures[1]", "> 0"]),
    (lambda c: c["ising2d"].update(temperatures=[2.0, -1]), ["ising2d.temperatures[1]", "> 0"]),
    (lambda c: c["ising2d"].update(sampler="heatbath"), ["ising2d.sampler", "heatbath", "wolff"]),
    (lambda c: c.update(device="gpu"), ["device", "'gpu'", "auto", "cuda"]),
    (lambda c: c.update(seed=-3), ["seed", ">= 0"]),
    (lambda c: c.update(seed=1.5), ["seed", "integer"]),
    (lambda c: c["ising2d"].update(window=-0.1), ["ising2d.window", ">= 0"]),
    (lambda c: c["ising2d"].update(thin=0), ["ising2d.thin", ">= 1"]),
    (lambda c: c["ising2d"].update(thin="sometimes"), ["ising2d.thin", "auto"]),
    (lambda c: c["ising2d"].update(binder_window=[2.0]), ["ising2d.binder_window", "too short"]),
    (lambda c: c.update(preset="my preset!"), ["preset", "does not match"]),
    (lambda c: c["figures"].update(pdf="yes"), ["figures.pdf", "boolean"]),
    (lambda c: c["ising2d"]["exact_grid"].update(n=1), ["ising2d.exact_grid.n", ">= 2"]),
    # rules across keys (checked on the defaults-filled config, before any job)
    (lambda c: c["ising2d"].update(binder_window=[2.6, 2.0]),
     ["ising2d.binder_window", "[2.6, 2.0]", "T_lo < T_hi"]),
    (lambda c: c["ising2d"]["exact_grid"].update(tmin=6.0, tmax=1.0),
     ["ising2d.exact_grid", "tmin = 6.0", "< tmax"]),
    (lambda c: c["spectral"].update(schemes=["dataset", "covariance"]),
     ["spectral.schemes", "['dataset', 'covariance']", "'random'"]),
    (lambda c: c["datasets"]["flowers"].update(path="no/such/flower_photos.tgz"),
     ["datasets.flowers.path", "no/such/flower_photos.tgz", "does not exist"]),
    (lambda c: c["datasets"]["swimseg"].update(path="no/such/swimseg"),
     ["datasets.swimseg.path", "no/such/swimseg", "does not exist"]),
    (lambda c: c["datasets"]["mnist"].update(source="path"), ["datasets.mnist.source", "datasets.mnist.path"]),
    (lambda c: c["spectral"]["ising2d"].update(L=24), ["spectral.ising2d.L = 24", "ising2d.sizes", "[8, 16, 32]"]),
    (lambda c: c["spectral"]["ising2d"].update(T=2.31), ["spectral.ising2d.T = 2.31", "ising2d.temperatures"]),
    (lambda c: c["spectral"].update(longrange={"sigma": 0.6}),
     ["spectral.longrange.sigma = 0.6", "montecarlo.longrange.sigmas"]),
    (lambda c: c["rbm"].update(tc_temperature=2.28), ["rbm.tc_temperature = 2.28", "ising2d.temperatures"]),
    (lambda c: c["rbm"]["stack"].update(sizes=[18]), ["rbm.stack.sizes[0] = 18", "2^rbm.stack.n_layers"]),
    (lambda c: c["flows"]["longrange"].update(sigmas=[0.6]),
     ["flows.longrange.sigmas", "0.6", "montecarlo.longrange.sigmas"]),
    (lambda c: c["flows"]["longrange"].update(points=[0.5, 0.9, 1.5]), ["flows.longrange.points", "1.0"]),
    # one more than a valid size: never a multiple of the top block, whatever the stack depth
    (lambda c: c["flows"]["longrange"].update(N=4 * 2 ** c["flows"]["longrange"]["stack"]["n_layers"] + 1),
     ["flows.longrange.N =", "multiple of"]),
    (lambda c: c["rbm"].update(enabled=False), ["flows.ising2d.enabled", "rbm.enabled"]),
    (lambda c: c["flows"]["ising2d"].update(rbms=["nh100_tc"]), ["flows.ising2d.rbms", "nh100_tc", "nh81_tc"]),
    (lambda c: c["flows"]["ising2d"].update(stack_L=32), ["flows.ising2d.stack_L = 32", "rbm.stack.sizes"]),
    (lambda c: c["rbm"]["stack"].update(sizes=[8], n_layers=2), ["flows.ising2d.stack_L = 8", "4x4"]),
]


@pytest.mark.parametrize("mutate,words", BAD)
def test_bad_config_message_names_key(base, schema, repo_root, mutate, words):
    cfg = copy.deepcopy(base)
    mutate(cfg)
    with pytest.raises(ConfigError) as exc:
        check_config(cfg, schema, base_dir=repo_root)
    msg = str(exc.value)
    assert msg.startswith("invalid config:")
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_enough_bad_config_cases():
    assert len(BAD) >= 25


def test_cross_field_rules_read_only_what_is_used(base, schema, tmp_path):
    """A key that no stage reads does not stop the run (spectral.ising2d when the spectral
    section does not analyse ising2d), and an existing dataset path passes, read relative to
    ``base_dir``."""
    cfg = copy.deepcopy(base)
    cfg["spectral"].update(datasets=["mnist"], ising2d={"L": 24, "T": 2.27})
    (tmp_path / "flower_photos").mkdir()
    cfg["datasets"]["flowers"]["path"] = "flower_photos"
    check_config(cfg, schema, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="datasets.flowers.path"):
        check_config(copy.deepcopy(cfg), schema, base_dir=tmp_path / "elsewhere")


def test_failed_cross_field_check_leaves_config_unfilled(base, schema):
    cfg = copy.deepcopy(base)
    cfg["ising2d"]["binder_window"] = [2.6, 2.0]
    before = copy.deepcopy(cfg)
    with pytest.raises(ConfigError):
        check_config(cfg, schema)
    assert cfg == before


def test_all_errors_reported_at_once(base, schema):
    cfg = copy.deepcopy(base)
    cfg["seed"] = -1
    cfg["device"] = "tpu"
    assert len(config_errors(cfg, schema)) == 2


@pytest.mark.parametrize("text,words", [
    ("ising2d:\n  sizes: [8, -16]\n", ["ising2d.sizes[1]", ">= 4"]),
    ("ising2d:\n  binder_window: [2.6, 2.0]\n", ["ising2d.binder_window", "T_lo < T_hi"]),
    ("spectral:\n  schemes: [dataset, covariance]\n", ["spectral.schemes", "'random'"]),
    ("preset: mine\n", ["preset = 'mine'", "'quick', 'ci', 'thesis'"]),
])
def test_snakemake_stops_before_any_job(repo_root, tmp_path, text, words):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--directory", str(tmp_path),
         "--snakefile", str(repo_root / "Snakefile"), "--configfile", str(bad)],
        capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "invalid config:" in out
    for w in words:
        assert w in out, f"{w!r} not in {out[-3000:]!r}"
    assert "Job stats" not in out


def test_defaults_fill_every_section(repo_root, schema):
    """A config naming nothing but the preset gets every default, inside $ref'd sections too."""
    cfg = check_config({"preset": "x"}, schema)
    assert cfg["ising2d"]["sizes"] == [8, 16, 32]
    assert cfg["ising2d"]["exact_grid"]["n"] == 111
    assert cfg["figures"]["pdf"] is True
    assert config_errors(cfg, schema) == []
    # every section file's top-level defaults are present
    for section in (repo_root / "workflow/schemas/config").glob("*.schema.yaml"):
        name = section.name.removesuffix(".schema.yaml")
        sub = yaml.safe_load(section.read_text())
        for key, spec in sub.get("properties", {}).items():
            if "default" in spec:
                assert key in cfg[name], (name, key)


def test_preset_on_the_command_line_replaces_config_yaml(repo_root):
    """``--configfile presets/thesis.yaml`` must not inherit the quick preset's settings from
    config.yaml (which trains only the T_c RBM, two-layer stacks, and P3 on three datasets): the
    thesis preset is the schema defaults plus what it says, so its plan has the grid-trained RBM
    and the images' P3 jobs, which a quick-only reduction would drop."""
    proc = subprocess.run(
        # --forceall: the whole plan, also in a checkout where the thesis preset has already run
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--nolock", "--cores", "1",
         "--directory", str(repo_root), "--snakefile", str(repo_root / "Snakefile"),
         "--configfile", "presets/thesis.yaml"],
        capture_output=True, text=True, timeout=300, cwd=repo_root)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-2000:]
    assert re.search(r"results/thesis/models/rbm/ising2d_L10/(\S+/)?nh81_grid\.pt", out)
    assert re.search(r"results/thesis/models/rbm/ising2d_L32/(\S+/)?stack\.pt", out)
    assert re.search(r"results/thesis/\S*flowers", out)
    assert "results/quick/" not in out


# ---------------------------------------------------------------- presets, overrides, folders
def _resolve(repo_root, schema, cli):
    """(results folder, resolved config) of what Snakemake read from the command line."""
    presets = preset_files(repo_root)
    cfg = check_config(layer_on_preset(cli, presets), schema, base_dir=repo_root)
    return run_name(cfg, preset_config(cfg["preset"], presets, schema)), cfg


def test_plain_presets_keep_their_folder(repo_root, schema):
    for name, file in preset_files(repo_root).items():
        assert _resolve(repo_root, schema, yaml.safe_load(file.read_text()))[0] == name
    # no --configfile at all is the quick preset; so is restating one of its values
    assert _resolve(repo_root, schema, {})[0] == "quick"
    assert _resolve(repo_root, schema, {"preset": "ci", "seed": 7})[0] == "ci"
    # where results go is not what they are
    assert _resolve(repo_root, schema, {"output_root": "elsewhere"})[0] == "quick"


def test_override_layers_on_the_quick_preset_and_gets_its_own_folder(repo_root, schema):
    name, cfg = _resolve(repo_root, schema, {"seed": 1})
    assert cfg["seed"] == 1
    # the quick preset's reductions stay (the schema default trains N_h = 81 and 100)
    assert cfg["rbm"]["n_hidden"] == [81]
    assert cfg["spectral"]["n_updates"] == 1500
    assert name == f"quick-{config_digest(cfg)}"
    assert name != _resolve(repo_root, schema, {"seed": 2})[0]


def test_override_names_its_preset_either_way(repo_root, schema):
    """``--configfile presets/thesis.yaml my.yaml`` (Snakemake merges them) and a ``my.yaml``
    holding ``preset: thesis`` resolve to the same config and folder."""
    thesis = yaml.safe_load((repo_root / "presets/thesis.yaml").read_text())
    merged = deep_merge(thesis, {"seed": 1, "ising2d": {"n_samples": 50}})
    a = _resolve(repo_root, schema, merged)
    b = _resolve(repo_root, schema, {"preset": "thesis", "seed": 1, "ising2d": {"n_samples": 50}})
    assert a == b
    name, cfg = a
    assert name.startswith("thesis-") and cfg["ising2d"]["sizes"] == [8, 16, 32, 64]
    assert cfg["ising2d"]["n_samples"] == 50
    assert name.split("-")[1] != _resolve(repo_root, schema, {"seed": 1})[0].split("-")[1]


def test_config_digest_is_canonical():
    a = {"seed": 1, "ising2d": {"sizes": [8], "n_samples": 10}, "output_root": "results"}
    b = {"output_root": "elsewhere", "ising2d": {"n_samples": 10, "sizes": [8]}, "seed": 1}
    assert config_digest(a) == config_digest(b)
    assert config_digest(a) != config_digest({**a, "seed": 2})
    assert len(config_digest(a)) == 8
    with pytest.raises(ValueError, match="length"):
        config_digest(a, length=2)


def test_preset_file_must_name_itself(tmp_path):
    (tmp_path / "config.yaml").write_text("preset: quick\n")
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets/big.yaml").write_text("preset: thesis\n")
    with pytest.raises(ConfigError, match="must be 'big'"):
        layer_on_preset({"preset": "big"}, preset_files(tmp_path))


def _planned_folders(repo_root, tmp_path, *configfiles):
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--directory", str(tmp_path),
           "--snakefile", str(repo_root / "Snakefile")]
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return out, set(re.findall(r"\bresults/([A-Za-z0-9_-]+)/", out)) - {"downloads"}


def test_dry_run_plans_one_folder_per_config(repo_root, schema, tmp_path):
    """A plain preset plans into results/<preset>/, an override with only ``seed: 1`` into
    results/<preset>-<hash>/ (never into the preset's folder), with the resolved config."""
    out, folders = _planned_folders(repo_root, tmp_path)
    assert folders == {"quick"}
    out, folders = _planned_folders(repo_root, tmp_path, repo_root / "presets/ci.yaml")
    assert folders == {"ci"} and "results/ci/config.yaml" in out
    seed = tmp_path / "seed.yaml"
    seed.write_text("seed: 1\n")
    out, folders = _planned_folders(repo_root, tmp_path, repo_root / "presets/ci.yaml", seed)
    name, _ = _resolve(repo_root, schema, {"preset": "ci", "seed": 1})
    assert name.startswith("ci-") and folders == {name}
    assert f"results/{name}/config.yaml" in out
