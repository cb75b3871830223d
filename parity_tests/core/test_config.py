"""Config round trips (``from_config(s.to_config()) == s``, through JSON) and config errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from strategies import any_schedule

import lrsched_jax as lrs


@given(any_schedule)
def test_round_trip_through_json(s):
    cfg = s.to_config()
    text = json.dumps(cfg)  # plain JSON, nothing custom
    back = lrs.from_config(json.loads(text))
    assert back == s
    assert hash(back) == hash(s)
    steps = np.array([0, 1, 17, 999, 10**5, 10**6])
    np.testing.assert_array_equal(back(steps), s(steps))


def test_nested_config_shape():
    s = lrs.sequence([lrs.warmup(lrs.cosine(1e-3, 100), 10), lrs.constant(1e-5)], [110])
    assert s.to_config() == {
        "name": "sequence",
        "schedules": [
            {
                "name": "warmup",
                "schedule": {
                    "name": "cosine",
                    "init_lr": 1e-3,
                    "total_steps": 100,
                    "min_lr": 0.0,
                    "periodic": False,
                    "exponent": 1.0,
                },
                "warmup_steps": 10,
                "init_lr": 0.0,
                "shape": "linear",
            },
            {"name": "constant", "value": 1e-5},
        ],
        "boundaries": [110],
        "restart": True,
    }


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(
        ValueError, match=r"unknown schedule name 'cosin'.*valid names: .*cosine.*warmup_cosine"
    ):
        lrs.from_config({"name": "cosin", "init_lr": 1.0})


def test_unknown_and_missing_fields_list_the_valid_fields():
    with pytest.raises(
        ValueError, match=r"cosine: unknown field\(s\) T_max; valid fields: init_lr, total_steps"
    ):
        lrs.from_config({"name": "cosine", "init_lr": 1.0, "T_max": 10})
    with pytest.raises(ValueError, match=r"cosine: missing field\(s\) total_steps"):
        lrs.from_config({"name": "cosine", "init_lr": 1.0})
    with pytest.raises(ValueError, match="needs a 'name'"):
        lrs.from_config({"init_lr": 1.0})


def test_bad_values_and_types_in_configs():
    with pytest.raises(ValueError, match="cosine: total_steps must be finite and > 0"):
        lrs.from_config({"name": "cosine", "init_lr": 1.0, "total_steps": 0})
    with pytest.raises(TypeError, match="mapping"):
        lrs.from_config(["cosine"])
    with pytest.raises(ValueError, match="unknown schedule name 'nope'"):
        lrs.from_config({"name": "sequence", "schedules": [{"name": "nope"}], "boundaries": []})
    # a schedule passes through unchanged
    s = lrs.constant(1.0)
    assert lrs.from_config(s) is s


def test_malformed_configs_give_clear_errors():
    with pytest.raises(TypeError, match=r"'name' must be a string, got \['cosine'\] \(list\); valid names: "):
        lrs.from_config({"name": ["cosine"]})
    with pytest.raises(TypeError, match=r"cosine: config keys must be strings, got 1 \(int\)"):
        lrs.from_config({"name": "cosine", "init_lr": 1.0, "total_steps": 10, 1: 2})
    with pytest.raises(TypeError, match=r"sequence: schedules\[0\] must be an lrsched schedule"):
        lrs.from_config({"name": "sequence", "schedules": [["constant"]], "boundaries": []})


def nested_config(levels):
    cfg = {"name": "constant", "value": 1.0}
    for _ in range(levels - 1):
        cfg = {"name": "scale", "schedule": cfg, "factor": 1.0}
    return cfg


def nested_json(levels):
    inner = '{"name": "constant", "value": 1.0}'
    return '{"name": "scale", "factor": 1.0, "schedule": ' * (levels - 1) + inner + "}" * (levels - 1)


@pytest.mark.parametrize("levels", [101, 500, 100_000])
def test_config_nesting_limit(levels):
    # 500 levels used to raise RecursionError (and the CLI printed ~1000 frames)
    if levels < 1000:  # deeper dicts cannot even be built by json.loads
        with pytest.raises(ValueError, match=r"schedule configs nest more than 100 levels deep"):
            lrs.from_config(nested_config(levels))
    with pytest.raises(ValueError, match=r"nest more than 100 levels deep"):
        lrs.from_spec(nested_json(levels))


def test_deepest_accepted_config_round_trips():
    s = lrs.from_config(nested_config(lrs.MAX_DEPTH))
    assert lrs.from_config(json.loads(json.dumps(s.to_config()))) == s


def test_plateau_config_shares_the_mechanism():
    p = lrs.reduce_on_plateau(mode="max", min_lr=[0.0, 1e-5])
    assert lrs.reduce_on_plateau.from_config(json.loads(json.dumps(p.to_config()))) == p
    with pytest.raises(ValueError, match=r"reduce_on_plateau: unknown field\(s\) T_max; valid fields: mode"):
        lrs.reduce_on_plateau.from_config({"T_max": 1})
    with pytest.raises(TypeError, match=r"reduce_on_plateau: config keys must be strings"):
        lrs.reduce_on_plateau.from_config({1: 2})


# --- reading configs as people write them -----------------------------------------------------


def test_yaml_reads_numbers_as_written(tmp_path):
    """PyYAML (YAML 1.1) read ``1e-3`` as a string, refused as 'must be a real number'."""
    import yaml

    path = tmp_path / "w.yaml"
    path.write_text(
        "name: warmup_cosine\npeak_lr: 1e-3\nwarmup_steps: 1E2\ntotal_steps: 1_000\n"
        "min_lr: +.5e-5\ninit_lr: 2.0e-6\n"
    )
    s = lrs.from_spec(str(path))
    assert s == lrs.warmup_cosine(1e-3, 100, 1000, min_lr=5e-6, init_lr=2e-6)
    from lrsched_jax.core.config import _yaml_loader

    read = yaml.load("a: 1000\nb: 1e-3\nc: 0o17\nd: .inf\ne: 1.5\nf: 1e3x\ng: '1e-3'", Loader=_yaml_loader())
    assert read == {"a": 1000, "b": 1e-3, "c": "0o17", "d": float("inf"), "e": 1.5, "f": "1e3x", "g": "1e-3"}
    assert type(read["a"]) is int  # ints stay ints
    # what plain PyYAML makes of it (the loader is ours alone: safe_load is unchanged)
    assert yaml.safe_load("a: 1e-3\nb: 1E5\nc: 2.0e4\nd: -.5\ne: 1000\nf: 0.5") == {
        "a": "1e-3", "b": "1E5", "c": "2.0e4", "d": "-.5", "e": 1000, "f": 0.5
    }  # fmt: skip


def test_yaml_quoted_number_stays_a_string(tmp_path):
    """Quoting says 'a string' in YAML: kept so, and refused where a number belongs."""
    path = tmp_path / "q.yaml"
    path.write_text("name: cyclic\nbase_lr: 1e-3\nmax_lr: '1e-2'\nstep_size_up: 10\n")
    with pytest.raises(TypeError, match=r"cyclic: max_lr must be a real number, got '1e-2' \(str\)"):
        lrs.from_spec(str(path))
    path.write_text("name: cyclic\nbase_lr: 1e-3\nmax_lr: 1e-2\nstep_size_up: 10\nmode: '1e5'\n")
    with pytest.raises(ValueError, match=r"cyclic: mode must be one of .*; got '1e5'"):
        lrs.from_spec(str(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "cosine:init_lr=1e-3,total_steps=10,init_lr=5",
            r"schedule spec '.*': field 'init_lr' is given twice \(init_lr=0.001 and init_lr=5\)",
        ),
        ("cosine:init_lr=1,total_steps=10,name=linear", r"field 'name' is given twice \(the name 'cosine'"),
        (
            '{"name": "cosine", "init_lr": 1e-3, "total_steps": 10, "init_lr": 5}',
            r"invalid config JSON: field 'init_lr' is given twice \(0.001 and 5\)",
        ),
    ],
)
def test_a_field_given_twice_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        lrs.from_spec(text)


def test_a_field_given_twice_in_a_file_is_refused(tmp_path):
    (tmp_path / "d.yaml").write_text("name: cosine\ninit_lr: 1e-3\ntotal_steps: 10\ninit_lr: 5\n")
    with pytest.raises(ValueError, match=r"d.yaml': field 'init_lr' is given twice \(line 4\)"):
        lrs.from_spec(str(tmp_path / "d.yaml"))
    nested = '{"name": "warmup", "warmup_steps": 2, "schedule": {"name": "constant", "value": 1, "value": 2}}'
    (tmp_path / "d.json").write_text(nested)
    with pytest.raises(ValueError, match=r"d.json': field 'value' is given twice \(1 and 2\)"):
        lrs.from_spec(str(tmp_path / "d.json"))
    # a YAML merge key may be overridden: that is what it is for
    (tmp_path / "m.yaml").write_text("name: cosine\n<<: {init_lr: 1e-3, total_steps: 10}\ninit_lr: 2e-3\n")
    assert lrs.from_spec(str(tmp_path / "m.yaml")) == lrs.cosine(2e-3, 10)


def test_a_nested_mapping_that_is_not_a_schedule_names_its_field():
    """It used to say 'a schedule config needs a 'name' field', naming neither."""
    with pytest.raises(TypeError, match=r"multistep: milestones must be a list or tuple, got \{'a': 1\}"):
        lrs.from_config({"name": "multistep", "base_lr": 0.1, "milestones": {"a": 1}})
    with pytest.raises(TypeError, match=r"multistep: milestones\[0\] must be a real number, got \{'a': 1\}"):
        lrs.from_config({"name": "multistep", "base_lr": 0.1, "milestones": [{"a": 1}]})
    with pytest.raises(TypeError, match=r"multistep: base_lr must be a real number, got \{'a': 1\} \(dict\)"):
        lrs.from_config({"name": "multistep", "base_lr": {"a": 1}, "milestones": [1]})
    # where a schedule belongs, the field and what it needs
    with pytest.raises(
        ValueError, match=r"warmup: schedule is a schedule config without a 'name' field; valid"
    ):
        lrs.from_config({"name": "warmup", "schedule": {"init_lr": 1}, "warmup_steps": 3})
    bad = {
        "name": "sequence",
        "schedules": [{"name": "constant", "value": 1}, {"value": 1}],
        "boundaries": [4],
    }
    with pytest.raises(ValueError, match=r"sequence: schedules\[1\] is a schedule config without a 'name'"):
        lrs.from_config(bad)


def test_a_file_of_another_kind_says_which_forms_are_read(tmp_path, monkeypatch):
    """A .txt file used to be read as a short spec named 'c.txt' ('unknown schedule name')."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.txt").write_text("cosine:init_lr=0.1,total_steps=10")
    forms = r"a \.json, \.yaml or \.yml config file, or the short form name:key=value"
    with pytest.raises(
        ValueError, match=r"config file 'c.txt' is a '.txt' file; only .json, .yaml and .yml .*" + forms
    ):
        lrs.from_spec("c.txt")
    with pytest.raises(
        ValueError, match=r"'missing.txt' is neither a schedule spec nor a .json/.yaml/.yml file"
    ):
        lrs.from_spec("missing.txt")
    with pytest.raises(ValueError, match="is neither a schedule spec"):
        lrs.from_spec("configs/cosine")
    (tmp_path / "constant:value=0.5").write_text("")  # a file named like a spec: the spec wins
    assert lrs.from_spec("constant:value=0.5") == lrs.constant(0.5)
