"""``lrtwin plot`` with each input form, its outputs and its error paths; ``lrtwin list``."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

import lrsched_jax as lrs
from lrtwin.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def read_csv(path):
    """The rows after the CSV's first line, a ``#`` comment saying how the steps were sampled."""
    with path.open() as f:
        assert f.readline().startswith("# lrtwin plot: ")
        return list(csv.reader(f))


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "lrtwin.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_plot_every_input_form(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(lrs.cosine(0.1, 50).to_config()))
    (tmp_path / "b.yaml").write_text("name: multistep\nbase_lr: 0.1\nmilestones: [10, 30]\ngamma: 0.5\n")
    specs = [
        '{"name": "constant", "value": 0.05}',
        str(tmp_path / "a.json"),
        str(tmp_path / "b.yaml"),
        "warmup_cosine:peak_lr=0.1,warmup_steps=5,total_steps=40",
    ]
    assert (
        main(
            [
                "plot",
                *specs,
                "--steps",
                "60",
                "--log",
                "-o",
                str(tmp_path / "p.png"),
                "--csv",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG
    rows = read_csv(tmp_path / "p.csv")
    assert len(rows) == 61 and rows[0][0] == "step" and len(rows[0]) == 5
    values = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    expected = [
        lrs.constant(0.05),
        lrs.cosine(0.1, 50),
        lrs.multistep(0.1, [10, 30], 0.5),
        lrs.warmup_cosine(0.1, 5, 40),
    ]
    for j, s in enumerate(expected):
        np.testing.assert_array_equal(values[:, j], s(np.arange(60)))


def test_plot_default_output_and_horizon(tmp_path):
    proc = run("plot", "one_cycle:max_lr=0.1,total_steps=200", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "lrtwin_plot.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["plot", "cosin:init_lr=1"],
            "unknown schedule name 'cosin'; did you mean 'cosine'\\? valid names: article_one_cycle",
        ),
        (["plot", "cosine:init_lr=1,T_max=3"], r"cosine: unknown field\(s\) T_max; valid fields: init_lr"),
        (["plot", "cosine:init_lr=-1,total_steps=3"], "cosine: init_lr must be a finite learning rate >= 0"),
        (["plot", "missing.yaml"], "config file 'missing.yaml' does not exist"),
        (["plot", "{not json"], "invalid config JSON"),
        (["plot", "cosine:init_lr"], "expected key=value"),
        (["plot", "--steps", "0", "constant:value=1"], "expected a whole number >= 1"),
        (["frobnicate"], "invalid choice"),
        (["demo", "--framework", "mxnet"], "invalid choice"),
    ],
)
def test_errors_are_one_line_and_nonzero(args, message, tmp_path):
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    assert __import__("re").search(message, last), last


def test_list_and_help():
    proc = run("list")
    assert proc.returncode == 0
    # the names a fresh process knows (this one may hold schedules that examples registered)
    fresh = subprocess.run(
        [sys.executable, "-c", "import lrsched_jax as lrs; print(*lrs.registered_names())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.split() == fresh.stdout.split()
    assert set(fresh.stdout.split()) <= set(lrs.registered_names())
    helptext = run("--help").stdout
    assert "demo" in helptext and "plot" in helptext
    assert "valid schedule names: article_one_cycle" in run("plot", "--help").stdout


# --- plot: a readable horizon, distinct labels, the file it wrote --------------------------


def test_plot_of_a_periodic_schedule_shows_a_few_periods(tmp_path):
    """A cyclic schedule's change points never end: three cycles, not 11,000,000 steps."""
    spec = "cyclic:base_lr=1e-3,max_lr=0.1,step_size_up=100"
    assert main(["plot", spec, "--csv", str(tmp_path / "c.csv")]) == 0
    rows = read_csv(tmp_path / "c.csv")[1:]
    assert len(rows) == 660  # 10% past the 6th change point: 3 cycles of 200 steps
    values = np.array([float(r[1]) for r in rows])
    np.testing.assert_array_equal(values, lrs.cyclic(1e-3, 0.1, 100)(np.arange(660)))
    assert (tmp_path / "c.csv").stat().st_size < 100_000


@pytest.mark.parametrize(
    ("schedule", "steps"),
    [
        (lrs.warm_restarts(0.1, 10, 2), 693),  # restarts at 10, 30, ..., 630
        (lrs.cosine(0.1, 100, periodic=True), 660),
        (lrs.step_decay(0.1, 30, 0.5), 198),
        (lrs.one_cycle(0.1, 1000), 1100),  # a schedule that ends: 10% past its end, as before
        (lrs.multistep(0.1, [10, 30]), 100),
        # phases far past 10**7 steps: the whole decay (it used to stop at 2,200 steps)
        (lrs.warmup_cosine(1e-3, 2000, 20_000_000, min_lr=1e-5), 22_000_000),
        (lrs.piecewise_constant([10**9, 10**12], [1.0, 0.5, 0.1]), 1_100_000_000_000),
        # ten phases within 10**4 steps is not a periodic schedule: all of them
        (lrs.piecewise_constant([1000 * i for i in range(1, 11)], [1 / i for i in range(1, 12)]), 11_000),
        (lrs.cosine(0.1, 10**6, periodic=True), 6_600_000),  # a long period: still a few periods
    ],
)
def test_default_horizon(schedule, steps):
    from lrsched_jax.core.plots import default_horizon

    assert default_horizon([schedule]) == steps


def loadtxt(path):
    """The CSV as ``numpy.loadtxt`` reads it (the documented recipe: skip the '#' line and the header)."""
    return np.loadtxt(path, delimiter=",", skiprows=2, ndmin=2)


def test_plot_of_a_20m_step_schedule_draws_its_whole_shape_in_few_points(tmp_path):
    """The default horizon covers the whole decay, sampled: the warm-up's peak, the decay to
    min_lr, exact values at integer steps, a bounded number of rows that say they are sampled."""
    from lrsched_jax.core.plots import MAX_POINTS

    s = lrs.warmup_cosine(1e-3, 2000, 20_000_000, min_lr=1e-5)
    path = tmp_path / "w.csv"
    assert main(["plot", "warmup_cosine:peak_lr=1e-3,warmup_steps=2000,total_steps=2e7,min_lr=1e-5",
                 "--csv", str(path)]) == 0  # fmt: skip
    first = path.read_text().splitlines()[0]
    assert first.startswith("# lrtwin plot: ") and "of the steps 0..21,999,999, sampled" in first
    data = loadtxt(path)
    steps, values = data[:, 0], data[:, 1]
    assert 10_000 <= len(steps) <= MAX_POINTS and path.stat().st_size < 1_000_000
    assert steps[0] == 0 and steps[-1] == 21_999_999 and np.all(np.diff(steps) > 0)
    assert np.array_equal(steps, np.round(steps))
    np.testing.assert_array_equal(values, s(steps.astype(np.int64)))  # exact, float64, integer steps
    assert values[steps == 2000] == [1e-3]  # the warm-up's peak is drawn
    assert np.sum(steps <= 2000) >= 30  # ... and the warm-up's shape
    assert values[steps == 19_999_999][0] == pytest.approx(1e-5, rel=1e-6)  # the decay to min_lr
    assert values[-1] == pytest.approx(1e-5, rel=1e-6)
    assert np.all(np.diff(values[steps >= 2000]) <= 0)


def test_plot_of_a_long_horizon_writes_a_small_csv(tmp_path):
    """--steps 9e6 wrote a 290 MB CSV (every step); now at most MAX_POINTS rows, each exact."""
    from lrsched_jax.core.plots import MAX_POINTS

    path = tmp_path / "s.csv"
    assert (
        main(["plot", "step_decay:base_lr=0.1,step_size=1e6,gamma=0.5", "--steps", "9e6", "--csv", str(path)])
        == 0
    )
    data = loadtxt(path)
    assert len(data) <= MAX_POINTS and path.stat().st_size < 1_000_000
    t = data[:, 0].astype(np.int64)
    np.testing.assert_array_equal(data[:, 1], lrs.step_decay(0.1, 10**6, 0.5)(t))
    for c in range(10**6, 9 * 10**6, 10**6):  # every jump drawn as one: the steps either side
        assert {c - 1, c} <= set(t.tolist())


def test_plot_of_1e12_steps_is_sampled(tmp_path):
    """--steps 1e12 ended in an _ArrayMemoryError traceback: now a sampled plot and CSV."""
    from lrsched_jax.core.plots import MAX_POINTS

    spec = "cyclic:base_lr=1e-3,max_lr=0.1,step_size_up=100"  # ~10**10 change points
    png, path = tmp_path / "t.png", tmp_path / "t.csv"
    assert main(["plot", spec, "warmup_cosine:peak_lr=0.1,warmup_steps=1e3,total_steps=1e11",
                 "--steps", "1e12", "--csv", str(path), "-o", str(png)]) == 0  # fmt: skip
    assert png.read_bytes()[:8] == PNG
    data = loadtxt(path)
    assert len(data) <= MAX_POINTS and data[-1, 0] == 10**12 - 1
    t = data[:, 0].astype(np.int64)
    np.testing.assert_array_equal(data[:, 1], lrs.cyclic(1e-3, 0.1, 100)(t))
    assert {100, 200, 1000, 10**11 - 1, 10**11} <= set(t.tolist())  # its first peaks, the other's phases


def test_plot_steps_beyond_2_53_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["plot", "constant:value=0.1", "--steps", "1e17"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == "lrtwin plot: error: argument --steps: expected at most 2**53 steps (the whole steps that "\
        "float64 holds exactly), got 1e17"  # fmt: skip


def test_plot_resolution_threshold_and_help(capsys):
    """Every step up to 100,000 steps; sampled beyond (said in --help too)."""
    from lrsched_jax.core.plots import FULL_RESOLUTION, MAX_POINTS, sample_steps

    s = [lrs.cosine(0.1, 200_000)]
    assert FULL_RESOLUTION == 100_000
    np.testing.assert_array_equal(sample_steps(s, 100_000), np.arange(100_000))
    t = sample_steps(s, 100_001)
    assert len(t) <= MAX_POINTS and t[0] == 0 and t[-1] == 100_000
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    helptext = " ".join(capsys.readouterr().out.split())
    assert "Up to 100,000 steps every step is drawn and written" in helptext
    assert "comment='#'" in helptext


def test_plot_csv_column_names_hold_no_comment_character(tmp_path):
    """Two identical schedules get " (n)" suffixes in the CSV header, not "#n": a reader that
    strips '#' comments (pandas' comment='#') would cut the header there."""
    path = tmp_path / "d.csv"
    assert main(["plot", "constant:value=0.1", "constant:value=0.1", "--csv", str(path)]) == 0
    header = read_csv(path)[0]
    assert header == ["step", "constant(value=0.1) (1)", "constant(value=0.1) (2)"]


def test_plot_legend_labels_stay_distinct(tmp_path, monkeypatch):
    """Two schedules whose short labels agree (cut at 60 characters) get their full labels."""
    import lrsched_jax.core.plots as plots

    seen = {}
    real = plots.plot_schedules

    def spy(*args, **kwargs):
        ax = real(*args, **kwargs)
        seen["labels"] = ax.get_legend_handles_labels()[1]
        return ax

    monkeypatch.setattr(plots, "plot_schedules", spy)
    base = "warmup_stable_decay:peak_lr=0.1,total_steps=1000,warmup_steps=100,decay_steps=200,min_lr="
    specs = [base + "1e-5", base + "2e-5", base + "2e-5"]
    assert main(["plot", *specs, "-o", str(tmp_path / "w.png")]) == 0
    labels = seen["labels"]
    assert len(set(labels)) == 3, labels
    assert "min_lr=1e-05" in labels[0] and labels[2].endswith("#3")


def test_plot_output_without_suffix_or_a_folder_says_what_it_wrote(tmp_path, capsys):
    assert main(["plot", "constant:value=0.1", "-o", str(tmp_path / "fig")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'fig.png'}"
    assert (tmp_path / "fig.png").read_bytes()[:8] == PNG
    assert main(["plot", "constant:value=0.1", "-o", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'lrtwin_plot.png'}"
    assert (tmp_path / "lrtwin_plot.png").read_bytes()[:8] == PNG


def test_help_keeps_examples_whole_and_version():
    import os
    from importlib.metadata import version

    env = {**os.environ, "COLUMNS": "80"}
    out = subprocess.run(
        [sys.executable, "-m", "lrtwin.cli", "plot", "--help"], capture_output=True, text=True, env=env
    ).stdout
    assert "warmup_cosine:peak_lr=1e-3,warmup_steps=500,total_steps=10000)" in out.split()
    demo = subprocess.run(
        [sys.executable, "-m", "lrtwin.cli", "demo", "--help"], capture_output=True, text=True, env=env
    ).stdout
    assert "--nproc-per-node" in demo.split() and "cpu, gpu or auto" in " ".join(demo.split())
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"lrtwin {version('lrtwin')}"


# --- demo: checks that run before anything is written -------------------------------------


def _demo(*args, cwd):
    return run("demo", "--quick", "--framework", "torch", *args, cwd=cwd)


def test_demo_refuses_an_empty_out(tmp_path):
    proc = _demo("--out", "", cwd=tmp_path)
    assert proc.returncode == 2 and "--out" in proc.stderr and "empty path" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_a_folder_of_the_users_and_touches_nothing(tmp_path):
    user = tmp_path / "mine"
    (user / "checkpoints" / "jax" / "best").mkdir(parents=True)
    (user / "checkpoints" / "jax" / "best" / "weights.bin").write_bytes(b"precious")
    (user / "summary.json").write_text("{}")
    proc = _demo("--out", str(user), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "not empty and was not written by lrtwin demo" in last, proc.stderr[-2000:]
    assert (user / "checkpoints" / "jax" / "best" / "weights.bin").read_bytes() == b"precious"
    assert (user / "summary.json").read_text() == "{}"
    assert sorted(p.name for p in user.iterdir()) == ["checkpoints", "summary.json"]


def test_demo_folder_with_a_users_file_in_the_demos_way(tmp_path):
    """A demo folder (its manifest) in which the user put a file where the demo writes one."""
    from lrtwin.demo.outputs import MANIFEST

    out = tmp_path / "run"
    out.mkdir()
    (out / MANIFEST).write_text(json.dumps({"written": ["finder.png"]}))
    (out / "summary.md").write_text("my notes")
    proc = _demo("--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2 and "summary.md: exists and was not written by lrtwin demo" in proc.stderr
    assert (out / "summary.md").read_text() == "my notes"


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_demo_device_outside_the_vocabulary(device, tmp_path):
    proc = _demo("--device", device, cwd=tmp_path)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "'gpu'" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_demo_device_gpu_without_a_gpu_is_one_line_and_no_folder(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU here")
    import re

    for framework, says in (("torch", "torch .* sees no CUDA GPU"), ("both", "(JAX|torch) .* sees no")):
        proc = run("demo", "--quick", "--framework", framework, "--device", "gpu", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr[-2000:]
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and re.search(f"--device gpu: {says}", lines[0]), lines
        assert list(tmp_path.iterdir()) == []
