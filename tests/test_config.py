"""A bad config stops before any job, with a message naming the key and what is allowed."""

import copy
import subprocess
import sys

import pytest
import yaml

from coarsegrain.config import ConfigError, check_config, config_errors


@pytest.fixture(scope="module")
def schema(repo_root):
    return repo_root / "workflow/schemas/config.schema.yaml"


@pytest.fixture(scope="module")
def base(repo_root):
    return yaml.safe_load((repo_root / "config.yaml").read_text())


def test_shipped_configs_are_valid(repo_root, schema, base):
    assert config_errors(base, schema) == []
    for preset in sorted((repo_root / "presets").glob("*.yaml")):
        cfg = copy.deepcopy(base)
        for k, v in yaml.safe_load(preset.read_text()).items():
            cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
        assert config_errors(cfg, schema) == [], preset.name


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
]


@pytest.mark.parametrize("mutate,words", BAD)
def test_bad_config_message_names_key(base, schema, mutate, words):
    cfg = copy.deepcopy(base)
    mutate(cfg)
    with pytest.raises(ConfigError) as exc:
        check_config(cfg, schema)
    msg = str(exc.value)
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_all_errors_reported_at_once(base, schema):
    cfg = copy.deepcopy(base)
    cfg["seed"] = -1
    cfg["device"] = "tpu"
    assert len(config_errors(cfg, schema)) == 2


def test_snakemake_stops_before_any_job(repo_root, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ising2d:\n  sizes: [8, -16]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--directory", str(tmp_path),
         "--snakefile", str(repo_root / "Snakefile"), "--configfile", str(bad)],
        capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "ising2d.sizes[1]" in out and ">= 4" in out
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
    config.yaml (which trains only N_h = 81 and two-layer stacks): the thesis preset is the
    schema defaults plus what it says, so its plan has the N_h = 100 models and the L = 64
    stack, and a quick-only reduction would drop them."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--directory", str(repo_root),
         "--snakefile", str(repo_root / "Snakefile"), "--configfile", "presets/thesis.yaml"],
        capture_output=True, text=True, timeout=300, cwd=repo_root)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-2000:]
    assert "results/thesis/models/rbm/ising2d_L10/nh100_grid.pt" in out
    assert "results/thesis/models/rbm/ising2d_L64/stack.pt" in out
    assert "results/quick/" not in out
