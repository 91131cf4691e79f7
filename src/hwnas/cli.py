"""`hwnas` commands: parse the arguments, call the Python API, print.

Errors a user can fix print one line and exit 1; ``--debug`` shows the traceback.
Objectives and metrics are keys: ``--objective KEY[:KIND[:K=V,...]]`` (repeatable), e.g.
``--objective accuracy --objective latency@b1:latency:batch_size=1``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hwnas.errors import HwnasError, InvalidConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Hardware-aware neural architecture search over super-networks.")
console = Console()
_state = {"debug": False}

StudyOption = Annotated[Path, typer.Option("--study", help="Study database (SQLite file).")]
SeedOption = Annotated[int, typer.Option(help="Seed for data splits, training and search.")]
ProgressOption = Annotated[bool, typer.Option(help="Show progress bars.")]
DataOption = Annotated[Path | None, typer.Option(
    "--data", help="Your data: an .npz file with train_x, train_y, val_x, val_y "
                   "[, test_x, test_y].")]
DatasetOption = Annotated[str | None, typer.Option(
    help="Registered data set (default: the one the checkpoint was trained on).")]


@app.callback()
def _root(debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False):
    _state["debug"] = debug


def _options(pairs: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; values parse as JSON."""
    from hwnas.measure.objectives import parse_options

    result: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair or pair.startswith("="):
            raise InvalidConfigError(f"expected KEY=VALUE, got {pair!r}")
        result.update(parse_options(pair))
    return result


def _figures(repeated: list[str] | None, listed: str | None) -> list[str] | None:
    """``--objective X`` (repeatable) plus ``--objectives a,b`` shorthand; None if neither."""
    if repeated is None and listed is None:
        return None
    names = list(repeated or [])
    names += [n.strip() for n in (listed or "").split(",") if n.strip()]
    return names


def _print_front(study) -> None:
    from hwnas.report import front_table

    console.print(front_table(study))
    if not study.finished():
        return
    keys = study.spec.objective_keys
    reference = study.default_reference_point()
    shown = ", ".join(f"{n}={v:.4g}" for n, v in zip(keys, reference))
    console.print(f"hypervolume {study.hypervolume(reference):.6g} "
                  f"(reference point {shown}); {len(study.finished())} sub-networks measured")
    if len(keys) > 2:
        anchor = keys[0]
        for other in keys[1:]:
            pair = [anchor, other]
            console.print(f"  front over {anchor} vs {other}: "
                          f"{len(study.pareto_front(objectives=pair))} sub-networks, "
                          f"hypervolume {study.hypervolume(objectives=pair):.6g}")


def _print_figures(figures) -> None:
    for figure in figures:
        spread = f" (IQR {figure.measurement.spread:.3g})" if figure.measurement.spread else ""
        unit = f" {figure.unit}" if figure.unit else ""
        console.print(f"{figure.key}: {figure.measurement.value:.6g}{unit}{spread}  "
                      f"[{figure.settings}]", highlight=False, markup=False)


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Checkpoint file to write.")] = Path(
        "runs/default/supernet.pt"),
    supernet: Annotated[str, typer.Option(
        help="Super-network: registered name, entry point, or package.module:factory.")] = (
        "elastic_cnn"),
    dataset: DatasetOption = None,
    data: DataOption = None,
    supernet_option: Annotated[list[str] | None, typer.Option(
        help="Factory option KEY=VALUE (repeatable).")] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 30,
    batch_size: Annotated[int, typer.Option(help="Mini-batch size.")] = 64,
    lr: Annotated[float, typer.Option(help="Peak learning rate (cosine decay).")] = 0.1,
    threads: Annotated[int, typer.Option(help="Torch threads while training.")] = 1,
    seed: SeedOption = 0,
    progress: ProgressOption = True,
) -> None:
    """Train a super-network with the sandwich rule and in-place distillation."""
    from hwnas.workflow import train_supernet

    report = train_supernet(out, supernet=supernet, dataset=dataset, data=data,
                            supernet_options=_options(supernet_option), epochs=epochs,
                            batch_size=batch_size, lr=lr, seed=seed, threads=threads,
                            progress=progress)
    console.print(f"trained {supernet} on {data or dataset or 'digits'} in "
                  f"{report.seconds:.1f} s -> {out}", highlight=False)
    console.print(f"validation accuracy: largest {100 * report.val_accuracy_largest:.2f}%, "
                  f"smallest {100 * report.val_accuracy_smallest:.2f}%")


@app.command()
def search(
    study: StudyOption = Path("runs/default/study.db"),
    checkpoint: Annotated[Path | None, typer.Option(
        help="Trained super-network (for a new study).")] = None,
    supernet: Annotated[str | None, typer.Option(
        help="Or an untrained super-network by name or package.module:factory.")] = None,
    dataset: DatasetOption = None,
    data: DataOption = None,
    objective: Annotated[list[str] | None, typer.Option(
        help="Objective KEY[:KIND[:K=V,...]], repeatable, e.g. "
             "latency@b32:latency:batch_size=32,threads=2 (default: accuracy, latency).")] = None,
    objectives: Annotated[str | None, typer.Option(
        help="Shorthand: comma-separated objective keys.")] = None,
    metric: Annotated[list[str] | None, typer.Option(
        help="Also record KEY[:KIND[:K=V,...]], repeatable (default: macs, params, "
             "model_size).")] = None,
    metrics: Annotated[str | None, typer.Option(help="Shorthand: comma-separated metrics.")
                       ] = None,
    strategy: Annotated[str | None, typer.Option(
        help="Search strategy: nsga2 (default), random, linas.")] = None,
    strategy_option: Annotated[list[str] | None, typer.Option(
        help="Strategy option KEY=VALUE, e.g. population_size=30 (repeatable).")] = None,
    n_evaluations: Annotated[int, typer.Option(
        help="Finished evaluations the study should hold.")] = 100,
    seed: Annotated[int | None, typer.Option(help="Search seed (default 0).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing study.")] = False,
    retry_failed: Annotated[bool, typer.Option(
        help="Measure the failed evaluations again.")] = False,
    max_failures: Annotated[int, typer.Option(
        help="Stop after this many failed evaluations in a row.")] = 5,
    progress: ProgressOption = True,
) -> None:
    """Search a super-network; on an existing study, resume it (the options given must
    match the study's)."""
    from hwnas.workflow import run_search

    try:
        result = run_search(study, checkpoint=checkpoint, supernet=supernet, data=data,
                            dataset=dataset, objectives=_figures(objective, objectives),
                            metrics=_figures(metric, metrics), strategy=strategy,
                            strategy_options=_options(strategy_option) or None,
                            n_evaluations=n_evaluations, seed=seed, overwrite=overwrite,
                            retry_failed=retry_failed, max_consecutive_failures=max_failures,
                            progress=progress)
    except KeyboardInterrupt:
        console.print(f"interrupted; finished evaluations are kept in {study}; "
                      "run the same command again to resume")
        raise typer.Exit(130) from None
    _print_front(result)


@app.command()
def show(
    study: StudyOption = Path("runs/default/study.db"),
    config: Annotated[int | None, typer.Option(
        help="Print trial N's config as JSON (and nothing else).")] = None,
    csv: Annotated[Path | None, typer.Option(help="Also write the front as CSV.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Also write the front plot (PNG).")] = None,
) -> None:
    """Print the Pareto front of a stored study, or one trial's config."""
    from hwnas.report import plot_front, write_front_csv
    from hwnas.study import Study

    loaded = Study.load(study)
    if config is not None:
        typer.echo(json.dumps(loaded.result(config).config))
        return
    _print_front(loaded)
    if csv:
        console.print(f"front written to {write_front_csv(loaded, csv)}")
    if plot:
        console.print(f"plot written to {plot_front(loaded, plot)}")


@app.command()
def evaluate(
    study: Annotated[Path | None, typer.Option(
        help="Re-measure a trial of this study, exactly as it measures.")] = None,
    trial: Annotated[int | None, typer.Option(help="Trial number in --study.")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="Or: a trained super-network.")
                          ] = None,
    config: Annotated[str | None, typer.Option(
        help="Sub-network config (JSON text or file), with --checkpoint.")] = None,
    dataset: DatasetOption = None,
    data: DataOption = None,
    measure: Annotated[list[str] | None, typer.Option(
        help="With --checkpoint: KEY[:KIND[:K=V,...]] to measure (repeatable).")] = None,
) -> None:
    """Measure one sub-network: each figure with its unit and settings."""
    from hwnas.workflow import DEFAULT_METRICS as METRICS
    from hwnas.workflow import DEFAULT_OBJECTIVES, evaluate_config, evaluate_trial, parse_config

    if study is not None:
        if trial is None or checkpoint is not None or config is not None:
            raise InvalidConfigError("give --study with --trial (or --checkpoint with --config)")
        figures = evaluate_trial(study, trial, data=data)
    elif checkpoint is not None and config is not None:
        figures = evaluate_config(checkpoint, parse_config(config), dataset=dataset, data=data,
                                  measures=measure or DEFAULT_OBJECTIVES + METRICS)
    else:
        raise InvalidConfigError("give --study with --trial, or --checkpoint with --config")
    _print_figures(figures)


@app.command()
def export(
    out: Annotated[Path, typer.Option(
        help="Output file: .pt2 (torch.export), .onnx, or .pt (pickled module).")],
    study: Annotated[Path | None, typer.Option(help="Take the sub-network from this study.")
                     ] = None,
    trial: Annotated[int | None, typer.Option(help="Trial number in --study.")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="Or: a trained super-network.")
                          ] = None,
    config: Annotated[str | None, typer.Option(help="Config: JSON text or file.")] = None,
    dataset: DatasetOption = None,
    data: DataOption = None,
) -> None:
    """Export a sub-network exactly as it was measured (batch norm recalibrated)."""
    from hwnas.workflow import export_subnetwork, parse_config

    if (study is None) == (checkpoint is None):
        raise InvalidConfigError("give either --study (with --trial) or --checkpoint "
                                 "(with --config)")
    written = export_subnetwork(out, parse_config(config) if config is not None else None,
                                checkpoint=checkpoint, study=study, trial=trial,
                                dataset=dataset, data=data)
    console.print(f"exported to {written}", highlight=False)


@app.command()
def info(
    name: Annotated[str, typer.Argument(
        help="A checkpoint or study file, a super-network (name or package.module:factory) "
             "or a benchmark.")],
) -> None:
    """Print a search space: each dimension's type, allowed values and condition; its size."""
    from hwnas.report import space_table
    from hwnas.workflow import space_of

    title, space = space_of(name)
    console.print(space_table(space, title))
    console.print(f"{space.size():,} sub-networks", highlight=False)


@app.command()
def quickstart(
    out: Annotated[Path, typer.Option(help="Folder for the run's files.")] = Path(
        "runs/quickstart"),
    n_evaluations: Annotated[int, typer.Option(help="Sub-networks to measure.")] = 200,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 30,
    seed: SeedOption = 0,
    progress: ProgressOption = True,
) -> None:
    """Train the built-in super-network on digits, search it, report the front."""
    from hwnas.workflow import quickstart as run_quickstart

    result = run_quickstart(out, n_evaluations=n_evaluations, epochs=epochs, seed=seed,
                            progress=progress)
    report = result.train_report
    console.print(f"super-network test accuracy: largest {100 * report.test_accuracy_largest:.2f}%"
                  f", smallest {100 * report.test_accuracy_smallest:.2f}% "
                  f"(trained in {report.seconds:.1f} s)")
    _print_front(result.study)
    for name, path in result.files.items():
        console.print(f"{name}: {path}")
    console.print(f"quickstart finished in {result.seconds:.1f} s")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, turning hwnas errors into one line and exit code 1."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        app(args=argv)
    except HwnasError as error:
        if _state["debug"]:
            raise
        from rich.text import Text

        Console(stderr=True).print(Text.assemble(("error:", "red"), f" {error}"),
                                   highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
