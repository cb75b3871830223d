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
