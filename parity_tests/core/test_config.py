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
