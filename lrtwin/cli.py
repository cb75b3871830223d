"""The ``lrtwin`` command: ``lrtwin demo`` (the article end to end) and ``lrtwin plot``."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lrsched_jax.core.schedule import registered_names

__all__ = ["main"]

SPEC_HELP = (
    'a schedule: a config JSON string (\'{"name": "cosine", "init_lr": 0.1, "total_steps": 1000}\'), '
    "a .json/.yaml file, or the short form name:key=value,... "
    "(e.g. warmup_cosine:peak_lr=1e-3,warmup_steps=500,total_steps=10000)"
)


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrtwin",
        description="Learning-rate schedules written once, identical in JAX/Optax and PyTorch.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="the article end to end on the digits data, in JAX and torch",
        description=(
            "Train a small network on scikit-learn's 8x8 digits in JAX and torch: fixed vs "
            "scheduled lr, the schedule zoo, the LR finder, and the full pipeline (finder -> "
            "AdamW + one-cycle -> checkpoints -> best model reloaded). Writes PNGs, a Markdown "
            "and a JSON summary to --out."
        ),
    )
    demo.add_argument(
        "--out", type=Path, default=None, help="output folder (default: a new lrtwin-demo-* folder here)"
    )
    demo.add_argument("--framework", choices=("jax", "torch", "both"), default="both", help="default: both")
    demo.add_argument("--quick", action="store_true", help="a short run (well under a minute)")
    demo.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed (default 0)")
    demo.add_argument(
        "--device", default="cpu", help="torch device (default cpu); JAX uses its default device"
    )
    demo.add_argument(
        "--devices",
        type=_positive_int,
        default=1,
        help=(
            "JAX data parallel over N devices (each batch split over them). Without an accelerator "
            "N CPU devices are simulated: the command sets XLA_FLAGS=--xla_force_host_platform_"
            "device_count=N before JAX starts. For torch run `torchrun --nproc-per-node N --no-python "
            "lrtwin demo --framework torch` (rank 0 writes the outputs)"
        ),
    )

    plot = sub.add_parser(
        "plot",
        help="plot one or more schedules",
        description="Plot schedules to a PNG and/or write their values to CSV.",
        epilog="valid schedule names: " + ", ".join(registered_names()),
    )
    plot.add_argument("specs", nargs="+", metavar="SPEC", help=SPEC_HELP)
    plot.add_argument(
        "--steps", type=_positive_int, default=None, help="number of steps (default: past the last phase)"
    )
    plot.add_argument("--log", action="store_true", help="log-scale lr axis")
    plot.add_argument(
        "-o", "--output", type=Path, default=None, help="PNG file (default lrsched_plot.png unless --csv)"
    )
    plot.add_argument("--csv", type=Path, default=None, help="also write step,lr... values to this CSV file")

    sub.add_parser("list", help="list the schedule names", description="List the schedule names.")
    return parser


def _plot(args: argparse.Namespace) -> int:
    from lrsched_jax.core.config import from_spec
    from lrsched_jax.core.plots import default_horizon, label

    schedules = [from_spec(s) for s in args.specs]
    steps = args.steps or default_horizon(schedules)
    t = np.arange(steps)
    if args.csv is not None:
        with args.csv.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", *[label(s, width=200) for s in schedules]])
            cols = [s(t) for s in schedules]
            for i in range(steps):
                w.writerow([i, *[repr(float(c[i])) for c in cols]])
        print(f"wrote {args.csv}")
    output = args.output if args.output is not None or args.csv is not None else Path("lrsched_plot.png")
    if output is not None:
        from lrsched_jax.core.plots import plot_schedules, pyplot

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(9, 5))
        plot_schedules(schedules, steps, ax=ax, log=args.log)
        fig.tight_layout()
        fig.savefig(output, dpi=120)
        plt.close(fig)
        print(f"wrote {output}")
    return 0


def simulate_cpu_devices(n: int) -> None:
    """Ask XLA for ``n`` host (CPU) devices. Must run before JAX initialises its backends:
    the flag is read once, when the CPU client is created. It only shapes the CPU platform,
    so on a machine with accelerators JAX still uses those (and the demo their first N)."""
    flag = "--xla_force_host_platform_device_count"
    kept = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(flag)]
    os.environ["XLA_FLAGS"] = " ".join([*kept, f"{flag}={n}"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo" and args.devices > 1:
        # First thing, before anything imports JAX (this module and the schedules do not).
        simulate_cpu_devices(args.devices)
    try:
        if args.command == "list":
            print("\n".join(registered_names()))
            return 0
        if args.command == "plot":
            return _plot(args)
        from lrtwin.demo import run_demo

        return run_demo(
            out=args.out,
            framework=args.framework,
            quick=args.quick,
            seed=args.seed,
            device=args.device,
            devices=args.devices,
        )
    except (ValueError, TypeError, OSError) as e:
        parser.exit(2, f"lrsched {args.command}: error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
