"""A torch user never types ``lrsched_jax``: ``lrsched_torch`` offers the core's schedules,
combinators, configs and importers as the very same objects (one source), and ``dir()`` of
each package lists exactly its public names."""

from __future__ import annotations

import torch

import lrsched_jax
import lrsched_jax.core
import lrsched_torch as lt


def test_torch_package_offers_every_core_name_as_the_same_object():
    for name in lrsched_jax.core.__all__:
        assert getattr(lt, name) is getattr(lrsched_jax.core, name), name
        assert name in lt.__all__, name


def test_torch_all_lists_real_names():
    for name in lt.__all__:
        assert hasattr(lt, name), f"lrsched_torch.__all__ lists missing {name}"


def test_torch_user_builds_and_runs_a_schedule_without_lrsched_jax():
    s = lt.sequence([lt.linear(0.1, 1.0, 5), lt.cosine(1e-2, 20)], [5])
    assert lt.from_config(s.to_config()) == s
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = lt.ScheduleLR(opt, s)
    seen = []
    for _ in range(25):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == [float(s(k)) for k in range(25)]


def test_dir_lists_exactly_the_public_names():
    for mod in (lrsched_jax, lrsched_jax.core, lt):
        assert dir(mod) == sorted(mod.__all__), mod.__name__
    assert {"find_lr", "compare", "find_lr_pure"} <= set(dir(lrsched_jax))
    assert not {"Any", "TYPE_CHECKING", "importlib"} & set(dir(lrsched_jax))
