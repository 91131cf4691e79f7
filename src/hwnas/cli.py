"""`hwnas` commands: parse the arguments, call the Python API, print.

Errors a user can fix print one line and exit 1; ``--debug`` shows the traceback.
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


@app.callback()
def _root(debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False):
    _state["debug"] = debug


def _options(pairs: list[str] | None, grouped: bool) -> dict[str, Any]:
    """``key=value`` pairs (``measure.key=value`` when grouped); values parse as JSON."""
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidConfigError(f"expected KEY=VALUE, got {pair!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if grouped:
            group, dot, name = key.partition(".")
            if not dot:
                raise InvalidConfigError(f"expected MEASURE.KEY=VALUE, got {pair!r}")
            result.setdefault(group, {})[name] = value
        else:
            result[key] = value
    return result


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _print_front(study) -> None:
    from hwnas.report import front_table

    console.print(front_table(study))
    if study.finished():
        reference = study.default_reference_point()
        shown = ", ".join(f"{n}={v:.4g}" for n, v in zip(study.spec.objective_names, reference))
        console.print(f"hypervolume {study.hypervolume(reference):.6g} "
                      f"(reference point {shown}); {len(study.finished())} sub-networks measured")


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Checkpoint file to write.")] = Path(
        "runs/default/supernet.pt"),
    supernet: Annotated[str, typer.Option(help="Registered super-network name.")] = "elastic_cnn",
    dataset: Annotated[str, typer.Option(help="Registered dataset name.")] = "digits",
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 30,
    batch_size: Annotated[int, typer.Option(help="Mini-batch size.")] = 64,
    lr: Annotated[float, typer.Option(help="Peak learning rate (cosine decay).")] = 0.1,
    threads: Annotated[int, typer.Option(help="Torch threads while training.")] = 1,
    seed: SeedOption = 0,
    progress: ProgressOption = True,
) -> None:
    """Train a super-network with the sandwich rule and in-place distillation."""
    from hwnas.workflow import train_supernet

    report = train_supernet(out, supernet=supernet, dataset=dataset, epochs=epochs,
                            batch_size=batch_size, lr=lr, seed=seed, threads=threads,
                            progress=progress)
    console.print(f"trained {supernet} on {dataset} in {report.seconds:.1f} s -> {out}")
    console.print(f"test accuracy: largest {100 * report.test_accuracy_largest:.2f}%, "
                  f"smallest {100 * report.test_accuracy_smallest:.2f}%")


@app.command()
def search(
    study: StudyOption = Path("runs/default/study.db"),
    checkpoint: Annotated[Path | None, typer.Option(
        help="Trained super-network (needed for a new study).")] = None,
    dataset: Annotated[str | None, typer.Option(
        help="Dataset (default: the one the checkpoint was trained on).")] = None,
    objectives: Annotated[str, typer.Option(help="Comma-separated objectives.")] = (
        "accuracy,latency"),
    metrics: Annotated[str, typer.Option(help="Also record these, comma-separated.")] = (
        "macs,params,model_size"),
    strategy: Annotated[str, typer.Option(help="Search strategy.")] = "nsga2",
    strategy_option: Annotated[list[str] | None, typer.Option(
        help="Strategy option KEY=VALUE, e.g. population_size=30 (repeatable).")] = None,
    measure_option: Annotated[list[str] | None, typer.Option(
        help="Measure option MEASURE.KEY=VALUE, e.g. latency.batch_size=8 (repeatable).")] = None,
    n_evaluations: Annotated[int, typer.Option(
        help="Finished evaluations the study should hold.")] = 100,
    seed: SeedOption = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing study.")] = False,
    progress: ProgressOption = True,
) -> None:
    """Search a trained super-network; on an existing study, resume it."""
    from hwnas.workflow import run_search

    try:
        result = run_search(study, checkpoint=checkpoint, dataset=dataset,
                            objectives=_names(objectives), metrics=_names(metrics),
                            strategy=strategy, strategy_options=_options(strategy_option, False),
                            measure_options=_options(measure_option, True),
                            n_evaluations=n_evaluations, seed=seed, overwrite=overwrite,
                            progress=progress)
    except KeyboardInterrupt:
        console.print(f"interrupted; finished evaluations are kept in {study}; "
                      "run the same command again to resume")
        raise typer.Exit(130) from None
    _print_front(result)


@app.command()
def show(
    study: StudyOption = Path("runs/default/study.db"),
    csv: Annotated[Path | None, typer.Option(help="Also write the front as CSV.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Also write the front plot (PNG).")] = None,
) -> None:
    """Print the Pareto front of a stored study."""
    from hwnas.report import plot_front, write_front_csv
    from hwnas.study import Study

    loaded = Study.load(study)
    _print_front(loaded)
    if csv:
        console.print(f"front written to {write_front_csv(loaded, csv)}")
    if plot:
        console.print(f"plot written to {plot_front(loaded, plot)}")


@app.command()
def evaluate(
    checkpoint: Annotated[Path, typer.Option(help="Trained super-network.")],
    config: Annotated[str, typer.Option(help="Sub-network config: JSON text or file.")],
    dataset: Annotated[str | None, typer.Option(help="Dataset (default: trained on).")] = None,
) -> None:
    """Measure one sub-network: accuracy, latency, MACs, parameters, size."""
    from hwnas.workflow import evaluate_config, parse_config

    for name, measurement in evaluate_config(checkpoint, parse_config(config),
                                             dataset=dataset).items():
        spread = f" (IQR {measurement.spread:.3g})" if measurement.spread else ""
        console.print(f"{name}: {measurement.value:.6g}{spread}")


@app.command()
def export(
    checkpoint: Annotated[Path, typer.Option(help="Trained super-network.")],
    out: Annotated[Path, typer.Option(help="Output file: .pt (PyTorch) or .onnx.")],
    config: Annotated[str | None, typer.Option(help="Config: JSON text or file.")] = None,
    study: Annotated[Path | None, typer.Option(help="Take the config from this study.")] = None,
    trial: Annotated[int | None, typer.Option(help="Trial number in --study.")] = None,
) -> None:
    """Export a sub-network as a plain PyTorch module or an ONNX file."""
    from hwnas.study import Study
    from hwnas.workflow import export_subnetwork, parse_config

    if (config is None) == (study is None or trial is None):
        raise InvalidConfigError("give either --config, or --study with --trial")
    if config is not None:
        chosen = parse_config(config)
    else:
        matches = [r for r in Study.load(study).results() if r.number == trial]
        if not matches:
            raise InvalidConfigError(f"study {str(study)!r} has no finished trial {trial}")
        chosen = matches[0].config
    console.print(f"exported to {export_subnetwork(checkpoint, chosen, out)}")


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
        Console(stderr=True).print(f"[red]error:[/red] {error}", highlight=False,
                                   soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
