"""The ``lrtwin`` command: ``lrtwin demo`` (the article end to end) and ``lrtwin plot``."""

from __future__ import annotations

import argparse
import csv
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lrsched_jax.core.schedule import registered_names
from lrtwin.devices import CHOICES as DEVICE_CHOICES
from lrtwin.devices import HELP as DEVICE_HELP

__all__ = ["main"]

SPEC_HELP = (
    'a schedule: a config JSON string (\'{"name": "cosine", "init_lr": 0.1, "total_steps": 1000}\'), '
    "a .json/.yaml/.yml file, or the short form name:key=value,... "
    "(e.g. warmup_cosine:peak_lr=1e-3,warmup_steps=500,total_steps=10000)"
)


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout, wrapped between words only: a spec, a flag or a command line in
    the help stays whole (argparse's default breaks them at hyphens and mid-word)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        text = " ".join(text.split())
        return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        text = " ".join(text.split())
        return textwrap.fill(
            text,
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"lrtwin {version('lrtwin')}"
    except PackageNotFoundError:  # a source tree that was never installed
        from lrtwin import __version__

        return f"lrtwin {__version__} (not installed)"


def _out_folder(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "an empty path; name a folder (or leave --out out for a new lrtwin-demo-* folder)"
        )
    return text


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {v}")
    return v


def _horizon(text: str) -> int:
    """A plot's number of steps: a whole number in ``[1, 2**53]``, written as ``int`` or
    ``float`` reads it (``10_000_000``, ``1e7``)."""
    try:
        v = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number of steps, got {text!r}") from None
        if not f.is_integer():
            raise argparse.ArgumentTypeError(f"expected a whole number of steps, got {text!r}") from None
        v = int(f)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    if v > 2**53:
        raise argparse.ArgumentTypeError(
            f"expected at most 2**53 steps (the whole steps that float64 holds exactly), got {text}"
        )
    return v


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrtwin",
        description="Learning-rate schedules written once, identical in JAX/Optax and PyTorch.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (repeatable; the current folder is searched too): the schedules it "
        "registers with lrsched_jax.register become valid names in specs",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_demo(sub)
    _add_plot(sub)
    _add_compare(sub)
    _add_tune(sub)
    sub.add_parser(
        "list",
        help="list the schedule names",
        description="List the schedule names.",
        formatter_class=_Formatter,
    )
    return parser


def _add_demo(sub: argparse._SubParsersAction) -> None:
    """``lrtwin demo``: the article end to end."""
    demo = sub.add_parser(
        "demo",
        help="the article end to end on the digits data, in JAX and torch",
        description=(
            "Train a small network on scikit-learn's 8x8 digits in JAX and torch: fixed vs "
            "scheduled lr, the schedule zoo, the LR finder, and the full pipeline (finder -> "
            "AdamW + one-cycle -> checkpoints -> best model reloaded), then the same recipe at the lr "
            "tune_lr chooses by training. Writes PNGs, a Markdown "
            "and a JSON summary to --out. --task lm: the same for a byte-level transformer on "
            "Python's standard-library sources, with warm-up + cosine, WSD and inverse-sqrt schedules."
        ),
        formatter_class=_Formatter,
    )
    demo.add_argument(
        "--out",
        type=_out_folder,
        default=None,
        help=(
            "output folder: new, empty, or written by an earlier demo run, whose files it replaces "
            "(it never touches files it did not write). Default: a new lrtwin-demo-* folder here"
        ),
    )
    demo.add_argument("--framework", choices=("jax", "torch", "both"), default="both", help="default: both")
    demo.add_argument(
        "--task",
        choices=("digits", "lm"),
        default="digits",
        help="digits (default): the MLP on scikit-learn's digits; lm: a byte-level transformer on "
        "Python's own standard-library sources (warm-up + cosine, WSD, inverse sqrt, the finder)",
    )
    demo.add_argument("--quick", action="store_true", help="a short run (well under a minute)")
    demo.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed (default 0)")
    demo.add_argument("--device", choices=DEVICE_CHOICES, default="cpu", help=DEVICE_HELP)
    demo.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (none either when stderr is not a terminal)",
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


def _add_plot(sub: argparse._SubParsersAction) -> None:
    """``lrtwin plot``: draw schedules, or write their values."""
    plot = sub.add_parser(
        "plot",
        help="plot one or more schedules",
        description="Plot schedules to a PNG and/or write their values to CSV.",
        epilog="valid schedule names: " + ", ".join(registered_names()),
        formatter_class=_Formatter,
    )
    plot.add_argument("specs", nargs="+", metavar="SPEC", help=SPEC_HELP)
    plot.add_argument(
        "--steps",
        type=_horizon,
        default=None,
        help="number of steps, up to 2**53; 1e7 and 10_000_000 are accepted (default: 10%% past the "
        "last phase; a few periods of a periodic schedule). Up to 100,000 steps every step is drawn "
        "and written; beyond, at most 23,800 steps, evenly spaced and dense around each change "
        "point, each value exact at its integer step",
    )
    plot.add_argument("--log", action="store_true", help="log-scale lr axis")
    plot.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help=(
            "image file (default lrtwin_plot.png unless --csv); .png is added to a name without "
            "a suffix, and a folder gets lrtwin_plot.png inside"
        ),
    )
    plot.add_argument(
        "--csv",
        type=Path,
        default=None,
        help="also write the values to this CSV file: a '#' line saying which steps it holds, then "
        "step,<schedule>,... rows (pandas.read_csv(path, comment='#'), numpy.loadtxt(path, "
        "delimiter=',', skiprows=2))",
    )


def _add_compare(sub: argparse._SubParsersAction) -> None:
    """``lrtwin compare``: the schedule arena on the digits."""
    compare = sub.add_parser(
        "compare",
        help="the schedule arena: schedules x seeds on the digits, one JAX program, a verdict per schedule",
        description=(
            "Train every (schedule, seed) member of the digits MLP to the same budget and say, per "
            "schedule, how many seeds reached the target validation accuracy, after how many updates, "
            "and how much faster than the fixed lr. JAX trains all members at once as one vmapped, "
            "jitted program. The digits run has 44 updates per epoch (batches of 32). Writes "
            "compare.json and compare.png to --out."
        ),
        formatter_class=_Formatter,
    )
    compare.add_argument(
        "--schedules",
        nargs="+",
        metavar="SPEC",
        default=None,
        help="schedules to compare instead of the default eight (fixed, step decay, exponential, linear, "
        "cosine, warm-up + cosine, one-cycle, warm-up-stable-decay at --lr); each " + SPEC_HELP,
    )
    compare.add_argument(
        "--seeds", type=_positive_int, default=None, help="seeds 0..N-1 (default 8; --quick: 3)"
    )
    compare.add_argument("--epochs", type=_positive_int, default=None, help="budget (default 30; --quick: 5)")
    compare.add_argument(
        "--lr", type=float, default=0.05, help="peak lr of the default schedules (default 0.05)"
    )
    compare.add_argument(
        "--target",
        type=float,
        default=None,
        help="target validation accuracy (default 0.97; --quick: 0.9)",
    )
    compare.add_argument(
        "--optimizer",
        choices=("momentum", "sgd", "adamw"),
        default="momentum",
        help="default: momentum (SGD, 0.9)",
    )
    compare.add_argument(
        "--framework",
        choices=("jax", "torch"),
        default="jax",
        help="jax (default: all members in one vmapped, jitted program) or torch (all members in one "
        "torch.func loop; torch's own optimizer and ScheduleLR)",
    )
    compare.add_argument(
        "--sequential",
        action="store_true",
        help="the same members one at a time (JAX: one compiled program reused; torch: plain eager loops)",
    )
    compare.add_argument("--quick", action="store_true", help="a short run (3 seeds, 5 epochs)")
    compare.add_argument(
        "--out",
        type=_out_folder,
        default=None,
        help="output folder: new, empty, or written by an earlier compare run (default: a new "
        "lrtwin-compare-* folder here)",
    )
    _add_compare_run_options(compare)


def _add_compare_run_options(compare: argparse.ArgumentParser) -> None:
    """Where and how ``lrtwin compare`` runs: devices, ranks, memory, the verdict's baseline
    and resolution, progress."""
    compare.add_argument("--device", choices=DEVICE_CHOICES, default="cpu", help=DEVICE_HELP)
    compare.add_argument(
        "--baseline",
        default=None,
        metavar="NAME",
        help="the schedule the speed-ups are against: its name (a default schedule's, or a spec as "
        "typed) (default: the first constant schedule)",
    )
    compare.add_argument(
        "--eval-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="updates between evaluations of the validation set, within each epoch and at its end "
        "(default 12: four per epoch); the resolution of updates to target",
    )
    compare.add_argument(
        "--devices",
        type=_positive_int,
        default=1,
        help="spread the members over N devices: JAX shards them over N devices (on a CPU, N "
        "simulated ones: XLA_FLAGS=--xla_force_host_platform_device_count=N); torch starts N processes "
        "(gloo on the CPU, NCCL on GPUs, one per GPU), or runs under torchrun; rank 0 gathers the "
        "results and writes the outputs",
    )
    compare.add_argument(
        "--memory-budget",
        type=float,
        default=None,
        metavar="GIB",
        help="GiB the run may plan to hold (default: half the available memory); a larger run is "
        "trained in chunks that fit, or refused before anything is written",
    )
    compare.add_argument("--no-progress", action="store_true", help="no progress bar")


def _plot(args: argparse.Namespace) -> int:
    from lrsched_jax.core.config import from_spec
    from lrsched_jax.core.plots import default_horizon, sample_steps

    schedules = [from_spec(s) for s in args.specs]
    steps = args.steps or default_horizon(schedules)
    t = sample_steps(schedules, steps)
    if args.csv is not None:
        _write_csv(args.csv, schedules, steps, t)
        print(f"wrote {args.csv}")
    output = args.output if args.output is not None or args.csv is not None else Path("lrtwin_plot.png")
    if output is not None:
        from lrsched_jax.core.plots import plot_schedules, pyplot

        if output.is_dir():
            output = output / "lrtwin_plot.png"
        elif not output.suffix:
            output = output.with_suffix(".png")  # what matplotlib would write; say so
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(9, 5))
        plot_schedules(schedules, steps, ax=ax, log=args.log, labels=_labels(schedules))
        fig.tight_layout()
        fig.savefig(output, dpi=120)
        plt.close(fig)
        print(f"wrote {output}")
    return 0


def _write_csv(path: Path, schedules: Sequence[object], steps: int, t: np.ndarray) -> None:
    """``# <how the steps were sampled>``, then ``step,<label>,...`` and one row per step:
    ``pandas.read_csv(path, comment="#")`` or ``numpy.loadtxt(path, delimiter=",", skiprows=2)``."""
    from lrsched_jax.core.plots import describe_sampling

    cols = [s(t) for s in schedules]  # type: ignore[operator]
    with path.open("w", newline="") as f:
        f.write(f"# lrtwin plot: {describe_sampling(steps, t)}\n")
        w = csv.writer(f)
        # no '#' in the column names: a reader that strips comments would cut the header there
        w.writerow(["step", *_labels(schedules, width=200, repeat=" ({})")])
        for i, step in enumerate(t.tolist()):
            w.writerow([step, *[repr(float(c[i])) for c in cols]])


def _labels(schedules: Sequence[object], width: int = 60, repeat: str = " #{}") -> list[str]:
    """Legend / column labels: each schedule's short label; where two would read the same
    (cut at ``width``), the full label, and where even those agree, the ``repeat`` suffix
    with the schedule's position (1-based)."""
    from lrsched_jax.core.plots import label

    short = [label(s, width=width) for s in schedules]  # type: ignore[arg-type]
    full = [label(s, width=10**9) for s in schedules]  # type: ignore[arg-type]
    out = [f if short.count(sh) > 1 else sh for sh, f in zip(short, full)]
    return [lab + repeat.format(i + 1) if out.count(lab) > 1 else lab for i, lab in enumerate(out)]


def simulate_cpu_devices(n: int) -> None:
    """Ask XLA for ``n`` host (CPU) devices. Must run before JAX initialises its backends:
    the flag is read once, when the CPU client is created. It only shapes the CPU platform,
    so on a machine with accelerators JAX still uses those (and the demo their first N)."""
    flag = "--xla_force_host_platform_device_count"
    kept = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(flag)]
    os.environ["XLA_FLAGS"] = " ".join([*kept, f"{flag}={n}"])


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, except that an option no subcommand knows is reported by that
    subcommand (its usage, not the top level's), with the closest option it has."""
    import difflib

    args, extra = parser.parse_known_args(argv)
    if extra:
        subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub = subs.choices[args.command]
        options = [o for a in sub._actions for o in a.option_strings]
        hints = []
        for word in extra:
            close = difflib.get_close_matches(word.split("=")[0], options, n=1, cutoff=0.6)
            if word.startswith("-") and close:
                hints.append(f"{word}: did you mean {close[0]}?")
        sub.error(f"unrecognized arguments: {' '.join(extra)}" + (f" ({'; '.join(hints)})" if hints else ""))
    return args


def _add_tune(sub: argparse._SubParsersAction) -> None:
    tune = sub.add_parser(
        "tune",
        help="which lr? short probes of candidate lrs, the survivors trained to the full run, on the digits",
        description=(
            "Choose the lr of the digits MLP by training: a finder sweep sets the candidates (half a "
            "decade apart), each is trained for an eighth of the run (the schedule compressed in time); "
            "two survivors train the whole run — the best probe (with --seeds above 1: the lowest lr the "
            "seeds cannot tell from it), then the next best, or an lr a decade lower where the first "
            "ended its run worse than its probe — and the better of those is the choice. Prints "
            "the choice, its cost in full runs and every trial; --grid also trains the half-decade grid "
            "to the full run and prints the regret. Writes tune.json and tune.png to --out."
        ),
        formatter_class=_Formatter,
    )
    tune.add_argument(
        "--schedule",
        choices=("fixed", "one-cycle", "cosine", "warmup-cosine"),
        default="fixed",
        help="how the lr is used in the full run: a fixed lr (default) or the peak of a schedule over it",
    )
    tune.add_argument(
        "--optimizer", choices=("momentum", "sgd", "adamw"), default="momentum", help="default: momentum"
    )
    tune.add_argument("--framework", choices=("jax", "torch"), default="jax", help="default: jax")
    tune.add_argument(
        "--budget",
        type=float,
        default=3.0,
        help="the most training, in full runs of member-updates, the sweep included (default 3)",
    )
    tune.add_argument("--epochs", type=_positive_int, default=10, help="the full run (default 10)")
    tune.add_argument("--seeds", type=_positive_int, default=1, help="seeds 0..N-1 per candidate (default 1)")
    tune.add_argument(
        "--lrs", type=float, nargs="+", default=None, metavar="LR", help="candidates (default: from a sweep)"
    )
    tune.add_argument(
        "--grid", action="store_true", help="also train the half-decade grid to the full run: the regret"
    )
    tune.add_argument(
        "--out",
        type=_out_folder,
        default=None,
        help="output folder: new, empty, or written by an earlier tune run (default: a new "
        "lrtwin-tune-* folder here)",
    )
    tune.add_argument("--device", choices=DEVICE_CHOICES, default="cpu", help=DEVICE_HELP)
    tune.add_argument("--no-progress", action="store_true", help="no progress bar")


def _tune(args: argparse.Namespace) -> int:
    from lrtwin.devices import pin_jax_to_cpu
    from lrtwin.tune import run_tune

    pin_jax_to_cpu(args.device)
    return run_tune(
        out=args.out, framework=args.framework, schedule=args.schedule, optimizer=args.optimizer,
        budget=args.budget, epochs=args.epochs, seeds=args.seeds, lrs=args.lrs, grid=args.grid,
        device=args.device, progress=not args.no_progress,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns its exit status: 0, 2 for a bad argument or input (one
    line on stderr), 130 after Ctrl-C (one line, no traceback)."""
    parser = build_parser()
    args = _parse(parser, argv)
    if args.imports:
        import importlib

        sys.path.insert(0, os.getcwd())
        for module in args.imports:
            try:
                importlib.import_module(module)
            except ImportError as e:
                parser.exit(2, f"lrtwin: error: --import {module}: {e}\n")
    if args.command in ("demo", "compare"):
        # First thing, before anything imports JAX (this module and the schedules do not).
        from lrtwin.devices import pin_jax_to_cpu

        pin_jax_to_cpu(args.device)
    if args.command == "demo" or (args.command == "compare" and args.framework == "jax"):
        if args.devices > 1:
            simulate_cpu_devices(args.devices)
    try:
        if args.command == "list":
            print("\n".join(registered_names()))
            return 0
        if args.command == "plot":
            return _plot(args)
        if args.command == "tune":
            return _finish(_tune(args))
        if args.command == "compare":
            from lrtwin.compare import run_compare

            code = run_compare(
                out=args.out,
                framework=args.framework,
                specs=args.schedules,
                seeds=args.seeds,
                epochs=args.epochs,
                lr=args.lr,
                target=args.target,
                optimizer=args.optimizer,
                quick=args.quick,
                sequential=args.sequential,
                device=args.device,
                devices=args.devices,
                baseline=args.baseline,
                eval_every=args.eval_every,
                memory_budget=None if args.memory_budget is None else int(args.memory_budget * 2**30),
                progress=not args.no_progress,
            )
            return _finish(code)
        from lrtwin.demo import run_demo

        code = run_demo(
            out=args.out,
            framework=args.framework,
            quick=args.quick,
            seed=args.seed,
            device=args.device,
            devices=args.devices,
            task=args.task,
            progress=not args.no_progress,
        )
    except (ValueError, TypeError, OSError) as e:
        parser.exit(2, f"lrtwin {args.command}: error: {e}\n")
    except KeyboardInterrupt:
        sys.stdout.flush()
        print(f"\nlrtwin {args.command}: interrupted", file=sys.stderr)
        return 130
    return _finish(code)


def _finish(code: int) -> int:
    """``code``; a torchrun rank whose run finished leaves now instead, skipping the
    interpreter's teardown of torch's communication threads, which on a loaded machine now and
    then aborts a finished process (exit -6) and with it the whole torchrun job."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
