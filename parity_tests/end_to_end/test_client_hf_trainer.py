"""Hugging Face ``Trainer`` drives a ``ScheduleLR`` given through ``optimizers=(opt, sched)``:
the lr the optimizer applies at update ``k`` is ``schedule(k)`` (float64, exactly), and a run
resumed with ``resume_from_checkpoint`` from a checkpoint written mid-run ends with the same
parameters, bit for bit, having applied the same lrs.

The lr is read inside ``optimizer.step`` (a pre-hook on the torch optimizer), so it is the
value the update used, not what a callback thought it was.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # the Trainer needs it

import lrsched_jax as lrs  # noqa: E402
from lrsched_torch import ScheduleLR  # noqa: E402

STEPS, SAVE_AT, BATCH = 8, 4, 4
SCHEDULE = lrs.warmup_cosine(peak_lr=0.05, warmup_steps=3, total_steps=STEPS, min_lr=1e-3)


class Regressor(torch.nn.Module):
    """A linear model that returns ``{"loss": mse}`` as the Trainer expects."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 1)

    def forward(self, x, labels=None):
        out = self.lin(x).squeeze(-1)
        return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}


class Samples(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = np.random.default_rng(0)
        self.x = g.normal(size=(STEPS * BATCH, 4)).astype(np.float32)
        self.y = (self.x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32)).astype(np.float32)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": torch.from_numpy(self.x[i]), "labels": torch.tensor(self.y[i])}


def _trainer(out_dir, applied: list[float]):
    torch.manual_seed(0)
    model = Regressor()
    opt = torch.optim.SGD(model.parameters(), lr=123.0, momentum=0.9)  # the scheduler sets lr(0)
    opt.register_step_pre_hook(lambda o, *_: applied.append(o.param_groups[0]["lr"]))
    args = transformers.TrainingArguments(
        output_dir=str(out_dir),
        per_device_train_batch_size=BATCH,
        max_steps=STEPS,
        save_strategy="steps",
        save_steps=SAVE_AT,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=Samples(), optimizers=(opt, ScheduleLR(opt, SCHEDULE))
    )
    return trainer, model


def _params(model) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_hf_trainer_applies_the_schedule_and_resumes_exactly(tmp_path):
    expected = [float(v) for v in SCHEDULE(np.arange(STEPS, dtype=np.float64))]

    applied: list[float] = []
    trainer, model = _trainer(tmp_path / "run", applied)
    trainer.train()
    assert applied == expected  # every update, exactly the float64 value
    whole = _params(model)
    ckpt = tmp_path / "run" / f"checkpoint-{SAVE_AT}"
    assert (ckpt / "scheduler.pt").is_file()

    resumed: list[float] = []
    trainer2, model2 = _trainer(tmp_path / "resumed", resumed)
    trainer2.train(resume_from_checkpoint=str(ckpt))
    assert resumed == expected[SAVE_AT:]
    for a, b in zip(whole, _params(model2)):
        np.testing.assert_array_equal(a, b)
    assert trainer2.lr_scheduler.last_epoch == STEPS
