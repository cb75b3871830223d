"""The CLI helps with a misspelling: an unknown option is reported by its subcommand (its
usage, the closest option), an unknown schedule or field names the closest ones, and a
torch / Optax / Hugging Face / Keras name of a family names the lrtwin family and its fields."""

from __future__ import annotations

import pytest

from lrtwin.cli import main


def _error(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err


def test_a_misspelt_option_shows_the_subcommands_usage_and_the_closest_option(capsys):
    err = _error(capsys, ["plot", "--stpes", "10", "cosine:init_lr=1,total_steps=10"])
    assert err.startswith("usage: lrtwin plot")
    assert "did you mean --steps?" in err


@pytest.mark.parametrize(
    "spec,hint",
    [
        ("cosin:init_lr=1,total_steps=10", "did you mean 'cosine'?"),
        ("WarmupCosine:peak_lr=1", "did you mean 'warmup_cosine'"),
        ("cosine:init_lr=1,total_step=10", "'total_step': did you mean 'total_steps'?"),
        ("OneCycleLR:max_lr=0.1", "torch's name: lrtwin's family is one_cycle(max_lr, total_steps,"),
        (
            "warmup_cosine_decay_schedule:peak_value=1",
            "Optax's name: lrtwin's family is warmup_cosine(peak_lr",
        ),
        ("get_cosine_schedule_with_warmup:x=1", "Hugging Face's name: lrtwin's family is warmup_cosine("),
        ("CosineDecayRestarts:x=1", "Keras's name: lrtwin's family is warm_restarts(base_lr"),
    ],
)
def test_a_misspelt_or_foreign_schedule_name_gets_a_hint(capsys, spec, hint):
    err = _error(capsys, ["plot", spec])
    assert err.count("\n") == 1 and hint in err


def test_every_foreign_name_points_at_a_registered_family():
    import lrsched_jax as lrs
    from lrsched_jax.core.schedule import FOREIGN_NAMES

    assert set(FOREIGN_NAMES.values()) <= set(lrs.registered_names())
