"""Lightning's ``Trainer`` steps a ``ScheduleLR`` returned from ``configure_optimizers`` with
``"interval": "step"``: the lr the optimizer applies at update ``k`` is ``schedule(k)``
(float64, exactly), and ``fit(ckpt_path=...)`` from a checkpoint written mid-run (at the end
of the first of two epochs) ends with the same parameters, bit for bit, having applied the
same lrs.

The lr is read inside ``optimizer.step`` (a pre-hook on the torch optimizer), so it is the
value the update used.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

import lrsched_jax as lrs  # noqa: E402
from lrsched_torch import ScheduleLR  # noqa: E402

EPOCHS, PER_EPOCH, BATCH = 2, 4, 4
STEPS = EPOCHS * PER_EPOCH
SCHEDULE = lrs.one_cycle(0.05, STEPS)


class Regressor(L.LightningModule):
    def __init__(self, applied: list[float]) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 1)
        self.applied = applied

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.lin(x).squeeze(-1), y)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=123.0, weight_decay=1e-2)
        opt.register_step_pre_hook(lambda o, *_: self.applied.append(o.param_groups[0]["lr"]))
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": ScheduleLR(opt, SCHEDULE), "interval": "step"},
        }


def _loader():
    g = np.random.default_rng(0)
    x = g.normal(size=(PER_EPOCH * BATCH, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32)).astype(np.float32)
    data = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    return torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=False)


def _fit(root, applied: list[float], ckpt_path=None):
    torch.manual_seed(0)
    model = Regressor(applied)
    every = L.callbacks.ModelCheckpoint(
        dirpath=str(root), every_n_epochs=1, save_top_k=-1, filename="{epoch}-{step}"
    )
    trainer = L.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        devices=1,
        logger=False,
        callbacks=[every],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(root),
    )
    trainer.fit(model, _loader(), ckpt_path=ckpt_path)
    return trainer, model


def _params(model) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


# The resumed run checkpoints into its own folder; Lightning says so, and it is meant.
@pytest.mark.filterwarnings("ignore:The dirpath has changed")
def test_lightning_steps_the_schedule_per_update_and_resumes_exactly(tmp_path):
    expected = [float(v) for v in SCHEDULE(np.arange(STEPS, dtype=np.float64))]

    applied: list[float] = []
    _, model = _fit(tmp_path / "run", applied)
    assert applied == expected  # every update, exactly the float64 value
    whole = _params(model)
    mid = tmp_path / "run" / f"epoch=0-step={PER_EPOCH}.ckpt"
    assert mid.is_file(), sorted(p.name for p in (tmp_path / "run").iterdir())

    resumed: list[float] = []
    trainer, model2 = _fit(tmp_path / "resumed", resumed, ckpt_path=str(mid))
    assert resumed == expected[PER_EPOCH:]
    for a, b in zip(whole, _params(model2)):
        np.testing.assert_array_equal(a, b)
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == STEPS
