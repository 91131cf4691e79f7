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
    if study.spec.constraints:
        counts = study.infeasible_counts()
        bounds = ", ".join(c.to_text() for c in study.spec.constraints)
        console.print(f"under constraints {bounds}: front and hypervolume of the "
                      f"{counts['feasible']} feasible sub-networks; {counts['measured']} "
                      f"measured were infeasible, {counts['screened']} more ruled out by a "
                      "cheap figure without being measured", highlight=False, markup=False)
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
    lr: Annotated[float | None, typer.Option(
        help="Peak learning rate (cosine decay; default: sgd 0.1, adamw 0.001).")] = None,
    threads: Annotated[int, typer.Option(help="Torch threads while training.")] = 1,
    seed: SeedOption = 0,
    progress: ProgressOption = True,
    method: Annotated[str, typer.Option(
        help="Training method: sandwich, progressive, sorted, instatune (`hwnas list`).")] = (
        "sandwich"),
    method_option: Annotated[list[str] | None, typer.Option(
        help="Training method option KEY=VALUE, e.g. n_random=3 (repeatable).")] = None,
    optimizer: Annotated[str | None, typer.Option(
        help="Optimizer: sgd or adamw (default: adamw for transformers, else sgd).")] = None,
) -> None:
    """Train a super-network (default: the sandwich rule with in-place distillation)."""
    from hwnas.workflow import train_supernet

    report = train_supernet(out, supernet=supernet, dataset=dataset, data=data,
                            supernet_options=_options(supernet_option), epochs=epochs,
                            batch_size=batch_size, lr=lr, seed=seed, threads=threads,
                            progress=progress, method=method,
                            method_options=_options(method_option), optimizer=optimizer)
    console.print(f"trained {supernet} on {data or dataset or 'digits'} with {report.method} "
                  f"({report.optimizer}, lr {report.lr:g}) in {report.seconds:.1f} s -> {out}",
                  highlight=False)
    console.print(f"validation accuracy: largest {100 * report.val_accuracy_largest:.2f}%, "
                  f"smallest {100 * report.val_accuracy_smallest:.2f}%")


@app.command()
def search(
    ctx: typer.Context,
    study: StudyOption = Path("runs/default/study.db"),
    checkpoint: Annotated[Path | None, typer.Option(
        help="Trained super-network (for a new study).")] = None,
    supernet: Annotated[str | None, typer.Option(
        help="Or an untrained super-network by name or package.module:factory.")] = None,
    benchmark: Annotated[str | None, typer.Option(
        help="Or a tabulated benchmark by name (hwnas list: benchmarks); every figure is "
             "looked up (default objectives: the table's).")] = None,
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
    quantization: Annotated[bool, typer.Option(
        help="Also search the per-layer INT8/fp32 policy; measure on the quantized ONNX "
             "Runtime model (default objectives: accuracy, latency on onnxruntime).")] = False,
    config_file: Annotated[Path | None, typer.Option(
        "--config", help="Read the search's settings from a TOML file (flags given here "
                         "override it); see docs/commands/search.md.")] = None,
    print_config: Annotated[bool, typer.Option(
        help="Print the effective settings (file, flags, defaults) as TOML and stop.")] = False,
    reference_point: Annotated[str | None, typer.Option(
        help="A new study's hypervolume reference point KEY=VALUE,... for every objective "
             "(default: fixed from the first batch and stored).")] = None,
    constraint: Annotated[list[str] | None, typer.Option(
        help="Bound a measured key, KEY<=NUMBER or KEY>=NUMBER, repeatable, e.g. "
             "'latency@b1<=2.0' 'params<=1e6'; cheap figures (params, macs, model_size) are "
             "measured first and a sub-network they rule out is not measured further.")
    ] = None,
    count_infeasible: Annotated[bool, typer.Option(
        help="Count sub-networks a cheap constraint ruled out toward --n-evaluations "
             "(default: only full measurements count).")] = False,
    workers: Annotated[int | None, typer.Option(
        help="Measure this many sub-networks at once on Ray workers (starts a local Ray "
             "runtime; needs hwnas[ray]).")] = None,
    ray_address: Annotated[str | None, typer.Option(
        help="Join this Ray cluster (auto, ray://host:10001) instead of starting one.")
    ] = None,
    threads: Annotated[int | None, typer.Option(
        help="A new study's thread budget for every evaluation stage (default 1).")] = None,
) -> None:
    """Search a super-network; on an existing study, resume it (the options given must
    match the study's)."""
    from hwnas.workflow import run_search

    if config_file is not None or print_config or reference_point is not None:
        _search_from_config(ctx, config_file, print_config, study, progress)
        return

    try:
        result = run_search(study, checkpoint=checkpoint, supernet=supernet,
                            benchmark=benchmark, data=data,
                            dataset=dataset, objectives=_figures(objective, objectives),
                            metrics=_figures(metric, metrics), strategy=strategy,
                            strategy_options=_options(strategy_option) or None,
                            n_evaluations=n_evaluations, seed=seed, overwrite=overwrite,
                            retry_failed=retry_failed, max_consecutive_failures=max_failures,
                            progress=progress, quantization=quantization,
                            constraints=constraint or None,
                            count_infeasible=True if count_infeasible else None,
                            workers=workers, ray_address=ray_address, threads=threads)
    except KeyboardInterrupt:
        console.print(f"interrupted; finished evaluations are kept in {study}; "
                      "run the same command again to resume")
        raise typer.Exit(130) from None
    _print_front(result)


def _search_from_config(ctx: typer.Context, config_file: Path | None, print_config: bool,
                        study: Path, progress: bool) -> None:
    """``search`` with a configuration file: the file, overridden by the flags given."""
    from hwnas import config_file as settings
    from hwnas.workflow import run_search

    # by name: typer may bring its own copy of click's ParameterSource enum
    given = {name: value for name, value in ctx.params.items()
             if getattr(ctx.get_parameter_source(name), "name", "") in ("COMMANDLINE",
                                                                        "ENVIRONMENT")}
    from_file = settings.read_config(config_file) if config_file is not None else {}
    merged = settings.effective(from_file, settings.from_command_line(given), run_search,
                                fallback={"study": str(study)})
    if print_config:
        typer.echo(settings.to_toml(merged), nl=False)
        return
    arguments = settings.to_arguments(merged, run_search)
    try:
        result = run_search(progress=progress, **arguments)
    except KeyboardInterrupt:
        console.print(f"interrupted; finished evaluations are kept in {merged['study']}; "
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
    from hwnas.report.reader import StoredStudy

    loaded = StoredStudy.open(study)  # reading only: no torch
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
    study_file: Annotated[Path | None, typer.Argument(
        help="The study (same as --study).", show_default=False)] = None,
    pick: Annotated[list[str] | None, typer.Option(
        help="Export the pick under these constraints, KEY<=V or KEY>=V (repeatable; "
             "'best' for none); see `hwnas pick`.")] = None,
    maximum: MaxOption = None,
    minimum: MinOption = None,
    by: ByOption = None,
    verify: Annotated[bool, typer.Option(
        help="With a study: measure the file's accuracy again and compare with the "
             "recorded one.")] = True,
    tolerance: Annotated[float, typer.Option(
        help="Largest accepted accuracy difference (fraction) when verifying.")] = 0.005,
    quantization: Annotated[bool, typer.Option(
        help="With --checkpoint: write the INT8 ONNX model (.onnx) as `search "
             "--quantization` measures it; quant.* genes the config leaves out are int8.")
                            ] = False,
) -> None:
    """Export a sub-network exactly as it was measured (batch norm recalibrated); from a
    study, checked against the recorded accuracy."""
    from hwnas.workflow import export_subnetwork, parse_config

    study = study or study_file
    if pick is not None or maximum or minimum:
        _export_pick(out, study, pick, maximum, minimum, by, verify, tolerance)
        return
    if (study is None) == (checkpoint is None):
        raise InvalidConfigError("give either --study (with --trial) or --checkpoint "
                                 "(with --config)")
    written = export_subnetwork(out, parse_config(config) if config is not None else None,
                                checkpoint=checkpoint, study=study, trial=trial,
                                dataset=dataset, data=data, quantization=quantization)
    console.print(f"exported to {written}", highlight=False)
    if study is not None and trial is not None and config is None and verify:
        from hwnas.pick import verify_export
        from hwnas.study import Study

        loaded = Study.load(study, data=data)
        _print_checks(verify_export(loaded, loaded.result(trial), written,
                                    tolerance=tolerance), written)


def _print_checks(checks, written: Path) -> None:
    from hwnas.errors import EvaluationError

    for check in checks:
        console.print(f"verified {check.key}: recorded {check.recorded:.6g}, measured on "
                      f"the file {check.measured:.6g} (tolerance {check.tolerance:g}): "
                      f"{'OK' if check.ok else 'MISMATCH'}", highlight=False)
    if not checks:
        console.print("nothing verified: the study records no accuracy", highlight=False)
    if any(not c.ok for c in checks):
        raise EvaluationError(f"the exported file {str(written)!r} does not reproduce the "
                              "recorded accuracy; it is kept to inspect")


def _export_pick(out: Path, study: Path | None, pick: list[str] | None,
                 maximum: list[str] | None, minimum: list[str] | None, by: str | None,
                 verify: bool, tolerance: float) -> None:
    from hwnas.pick import bounds, describe_pick, export_result
    from hwnas.pick import pick as pick_best
    from hwnas.study import Study

    if study is None:
        raise InvalidConfigError("--pick/--max/--min need a study: hwnas export STUDY --pick "
                                 "'latency@b1<=2.0' --out model.onnx")
    loaded = Study.load(study)
    found = pick_best(loaded, bounds(maximum, minimum, [p for p in pick or [] if p != "best"]),
                      by=by)
    for line in describe_pick(found, loaded.spec.units()):
        console.print(line, highlight=False, markup=False)
    if not found.ok:
        raise typer.Exit(2)
    exported = export_result(loaded, found.chosen, out, verify=False)
    console.print(f"exported trial {found.chosen.number} to {exported.path}", highlight=False)
    if verify:
        from hwnas.pick import verify_export

        _print_checks(verify_export(loaded, found.chosen, exported.path, tolerance=tolerance),
                      exported.path)


@app.command()
def info(
    name: Annotated[str, typer.Argument(
        help="A checkpoint or study file, a super-network (name or package.module:factory) "
             "or a benchmark.")],
) -> None:
    """Print a search space: each dimension's type, allowed values and condition; its size."""
    from hwnas.report import space_table
    from hwnas.report.reader import is_study_file

    if is_study_file(name):  # reading a study needs no torch
        from hwnas.report.reader import StoredStudy

        title, space = f"study {name}", StoredStudy.open(name).spec.space
    else:
        from hwnas.workflow import space_of

        title, space = space_of(name)
    console.print(space_table(space, title))
    console.print(f"{space.size():,} sub-networks", highlight=False)


@app.command(name="list")
def list_plugins(
    kind: Annotated[str | None, typer.Argument(
        help="Only this kind, e.g. super-networks, training methods, strategies.")] = None,
) -> None:
    """List every registered super-network, training method, optimizer, data set, measure,
    strategy, predictor and benchmark, with a one-line description."""
    from hwnas.workflow import registered_plugins

    listing = registered_plugins()
    if kind is not None:
        chosen = {k: v for k, v in listing.items() if k.startswith(kind.strip().lower())}
        if not chosen:
            raise InvalidConfigError(f"unknown kind {kind!r}; choose one of "
                                     f"{', '.join(repr(k) for k in listing)}")
        listing = chosen
    for title, entries in listing.items():
        console.print(f"[bold]{title}[/bold]")
        width = max((len(name) for name, _ in entries), default=0)
        for name, description in entries:
            console.print(f"  {name:<{width}}  {description}", highlight=False, markup=False,
                          soft_wrap=True)


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


MaxOption = Annotated[list[str] | None, typer.Option(
    "--max", help="Upper bound KEY=VALUE on a measured key, e.g. latency@b1=2.0 (repeatable).")]
MinOption = Annotated[list[str] | None, typer.Option(
    "--min", help="Lower bound KEY=VALUE, e.g. accuracy=0.95 (repeatable).")]
ByOption = Annotated[str | None, typer.Option(
    "--by", help="Objective to rank by (default: the study's first objective).")]


@app.command()
def pick(
    study: Annotated[Path, typer.Argument(help="Study database (SQLite file).")],
    maximum: MaxOption = None,
    minimum: MinOption = None,
    constraint: Annotated[list[str] | None, typer.Option(
        help="Constraint KEY<=VALUE or KEY>=VALUE (repeatable), like --max/--min.")] = None,
    by: ByOption = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the pick as JSON (trial, config, metrics, rule).")] = False,
) -> None:
    """Print the best sub-network meeting the bounds (best first objective, or --by), or
    say that none does and name the closest. Exits 2 when none does."""
    from hwnas.pick import bounds, describe_pick
    from hwnas.pick import pick as pick_best
    from hwnas.report.reader import StoredStudy

    loaded = StoredStudy.open(study)  # reading only: no torch
    found = pick_best(loaded, bounds(maximum, minimum, constraint), by=by)
    if json_output:
        typer.echo(json.dumps(found.to_dict()))
    else:
        for line in describe_pick(found, loaded.spec.units()):
            console.print(line, highlight=False, markup=False)
        picked = found.chosen or found.closest
        console.print(f"config: {json.dumps(picked.config)}", highlight=False, markup=False)
        if found.ok:
            console.print(f"export it: hwnas export --study {study} --trial {picked.number} "
                          "--out model.onnx", highlight=False, markup=False)
    if not found.ok:
        raise typer.Exit(2)


@app.command()
def report(
    studies: Annotated[list[Path], typer.Argument(
        help="One or more study databases; several are overlaid.")],
    output: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    label: Annotated[list[str] | None, typer.Option(
        help="Label per study, in order (default: folder/file name).")] = None,
    title: Annotated[str | None, typer.Option(help="Page title.")] = None,
) -> None:
    """Write one self-contained HTML report (opens offline): Pareto fronts, hypervolume,
    predictor quality, the front as a table, settings and machines."""
    from hwnas.report.html import write_report

    written = write_report(studies, output, labels=label or None, title=title)
    console.print(f"report written to {written} ({written.stat().st_size / 1e6:.1f} MB)",
                  highlight=False)

@app.command()
def remeasure(
    study: StudyOption = Path("runs/default/study.db"),
    max_relative_spread: Annotated[float, typer.Option(
        help="A latency figure stored without a quality flag is noisy when its spread "
             "exceeds this fraction of it.")] = 0.25,
) -> None:
    """Measure the front members whose latency is noisy again (kept in the study's
    ``remeasured`` attribute), and say whether the machine was too noisy to rank by
    latency."""
    from hwnas.measure.noise import noise_warning, remeasure_noisy_front
    from hwnas.study import Study

    loaded = Study.load(study)
    done = remeasure_noisy_front(loaded, max_relative_spread=max_relative_spread)
    for number, entry in sorted(done.items()):
        figures = ", ".join(f"{k} {v:.4g} ({entry['quality'][k]})"
                            for k, v in entry["metrics"].items())
        console.print(f"trial {number}: {figures}", highlight=False)
    console.print(f"{len(done)} front member(s) re-measured", highlight=False)
    message = noise_warning(loaded, max_relative_spread=max_relative_spread)
    if message:
        console.print(f"warning: {message}", highlight=False)


def _add_valid_names() -> None:
    """End every command's --help with the names it accepts (hwnas.names: no torch)."""
    from hwnas.names import epilog

    for command in app.registered_commands:
        name = command.name or command.callback.__name__.replace("_", "-")
        command.epilog = command.epilog or epilog(name)


_add_valid_names()

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
