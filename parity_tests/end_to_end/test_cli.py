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
    with (tmp_path / "p.csv").open() as f:
        rows = list(csv.reader(f))
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
    assert (tmp_path / "lrsched_plot.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plot", "cosin:init_lr=1"], "unknown schedule name 'cosin'; valid names: article_one_cycle"),
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
    assert proc.stdout.split() == list(lrs.registered_names())
    helptext = run("--help").stdout
    assert "demo" in helptext and "plot" in helptext
    assert "valid schedule names: article_one_cycle" in run("plot", "--help").stdout
