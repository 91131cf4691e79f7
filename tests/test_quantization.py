"""Issue 14: the per-layer quantization policy, searched with the architecture and measured
on real INT8 ONNX Runtime models. No test asserts a speed-up (INT8 speed depends on the CPU)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from hwnas.data import load_dataset
from hwnas.errors import EvaluationError, InvalidConfigError
from hwnas.evaluation import Pipeline
from hwnas.measure import Metric, create_measure
from hwnas.measure.measures import session_predictions
from hwnas.measure.onnx import onnx_session
from hwnas.quantization import (
    QUANTIZED_METRICS,
    QUANTIZED_OBJECTIVES,
    QuantizeTransform,
    describe_policy,
    map_modules,
    map_nodes,
    policy_genes,
    policy_layers,
    policy_space,
    quantized_nodes,
    weight_nodes,
)
from hwnas.quantization.ort import calibration_feeds
from hwnas.space import Choice, SearchSpace
from hwnas.study import Study
from hwnas.supernets import create_supernet
from hwnas.workflow import export_subnetwork, run_search, train_supernet

AGREEMENT = 0.95  # share of a fixed validation batch where INT8 and fp32 predict the same
LOGIT_ERROR = 0.15  # mean |INT8 - fp32| logit error, as a share of the fp32 logits' std


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits):
    """elastic_cnn trained one epoch on digits (about 95% accurate: real predictions)."""
    path = tmp_path_factory.mktemp("q") / "cnn.pt"
    train_supernet(path, supernet="elastic_cnn", dataset="digits", epochs=1, progress=False)
    from hwnas.supernets import load_supernet

    return path, load_supernet(path).eval()


def pipeline_of(supernet, data, measures=("onnx_size",)):
    transform = QuantizeTransform(calibration_samples=64)
    return Pipeline(supernet, [Metric.named(m) for m in measures], data, transform=transform)


def composed(supernet, architecture, policy):
    space = policy_space(supernet)
    genes = policy_genes(space)
    values = policy if isinstance(policy, dict) else dict.fromkeys(genes, policy)
    return space, {**architecture, **{g: values.get(g, "int8") for g in genes}}


def test_genes_follow_the_depth_genes_and_leave_the_architecture_space_unchanged():
    net = create_supernet("tiny_elastic_cnn")
    before = net.space.to_dict()
    space = policy_space(net)
    assert net.space.to_dict() == before
    assert space.names[:len(net.space)] == net.space.names
    genes = policy_genes(space)
    assert genes == ["quant.stem.0", "quant.stages.0.0.conv", "quant.stages.0.1.conv",
                     "quant.stages.1.0.conv", "quant.stages.1.1.conv", "quant.classifier"]
    assert space["quant.stages.1.1.conv"].active_if == ("stage1.depth", 2)
    shallow = {**net.space.largest(), "stage1.depth": 1}
    _, first = composed(net, shallow, "int8")
    second = {**first, "quant.stages.1.1.conv": "fp32"}  # a removed layer's gene
    assert space.arch_id(first) == space.arch_id(second)
    assert space.arch_id(first) != space.arch_id({**first, "quant.stem.0": "fp32"})
    assert describe_policy(space, second) == "5/5 int8"
    assert describe_policy(net.space, net.space.largest()) is None
    assert [layer.gene for layer in policy_layers(create_supernet("tiny_ofa_mobilenet_v3"))]


def test_a_cell_supernets_genes_and_network_hook():
    """Unordered choices: every edge's convolutions get a gene (found by the random probes:
    a convolution runs only when a path through its edge reaches the output), and the
    joined space keeps the architecture space's hook, so dead edges do not make another
    network."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "tabular"))
    from cells import EDGES, CellSupernet

    net = CellSupernet(widths=(4, 4, 4), input_length=8)
    space = policy_space(net)
    assert space.canonicalize == net.space.canonicalize
    genes = policy_genes(space)
    convs = {f"quant.edges.{stage}.{i}_{j}.{op}.1" for stage in range(3) for i, j in EDGES
             for op in ("conv3", "conv5")}
    assert convs <= set(genes)
    live = {name: "zero" for name in net.space.names} | {"edge0_3": "conv3"}
    dead = live | {"edge0_1": "conv5"}  # node 1 feeds no path to the output
    _, first = composed(net, live, "int8")
    _, second = composed(net, dead, "int8")
    assert net.space.arch_id(live) == net.space.arch_id(dead)
    assert space.canonical(first) == space.canonical(second)
    assert space.arch_id(first) == space.arch_id(second)
    assert space.arch_id(first) != space.arch_id({**first, "quant.edges.0.0_3.conv3.1": "fp32"})


@pytest.mark.parametrize(("family", "method"), [
    ("tiny_elastic_cnn", "static"), ("tiny_elastic_cnn1d", "static"),
    ("tiny_ofa_mobilenet_v3", "static"), ("tiny_elastic_transformer", "dynamic")])
def test_a_gene_at_fp32_leaves_exactly_its_nodes_unquantized(family, method):
    net = create_supernet(family).eval()
    pipeline = pipeline_of(net, _random_data(net.input_shape))
    architecture = net.space.largest()
    space, all_int8 = composed(net, architecture, "int8")
    _, all_fp32 = composed(net, architecture, "fp32")
    module = pipeline.prepared(all_int8)
    modules = map_modules(net, architecture, module, pipeline.transform.layers(net),
                          pipeline.context.example_inputs)
    assert pipeline.transform.method_for(module, modules) == method
    fp32 = onnx.load_from_string(pipeline.artifacts(all_fp32).onnx)
    nodes = map_nodes(fp32, modules)
    assert quantized_nodes(fp32) == set()
    assert weight_nodes(fp32) == {name for names in nodes.values() for name in names}
    every = onnx.load_from_string(pipeline.artifacts(all_int8).onnx)
    assert quantized_nodes(every) == weight_nodes(every)
    assert len(quantized_nodes(every)) == len(weight_nodes(fp32))
    genes = policy_genes(space)
    step = 1 if family == "tiny_elastic_cnn" else max(1, len(genes) // 2)  # every gene once
    for gene in genes[::step]:
        model = onnx.load_from_string(pipeline.artifacts({**all_int8, gene: "fp32"}).onnx)
        assert weight_nodes(model) - quantized_nodes(model) == set(nodes[gene]), gene


def test_quantized_predictions_agree_with_fp32(trained, digits):
    _, net = trained
    pipeline = pipeline_of(net, digits)
    architecture = net.space.largest()
    _, fp32 = composed(net, architecture, "fp32")
    _, int8 = composed(net, architecture, "int8")
    x = digits.val_x[:256]
    with torch.no_grad():
        reference = pipeline.prepared(fp32)(x)
    session = onnx_session(pipeline.artifacts(int8).onnx)
    logits = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    agreement = float((logits.argmax(1) == reference.argmax(1)).float().mean())
    error = float((logits - reference).abs().mean() / reference.std())
    assert agreement >= AGREEMENT, agreement
    assert error <= LOGIT_ERROR, error
    fp32_session = onnx_session(pipeline.artifacts(fp32).onnx)  # all fp32: the ONNX model
    assert torch.equal(session_predictions(fp32_session, x), reference.argmax(1))


def test_the_file_shrinks_as_more_layers_go_int8(digits):
    net = create_supernet("elastic_cnn").eval()
    pipeline = pipeline_of(net, digits)
    space, fp32 = composed(net, net.space.largest(), "fp32")
    weights = {f"quant.{path}": module.weight.numel() for path, module in net.named_modules()
               if isinstance(module, (nn.Conv2d, nn.Linear))}
    biggest = sorted(policy_genes(space), key=lambda g: -weights[g])[:4]
    sizes, config = [], dict(fp32)
    size = create_measure("onnx_size")
    for gene in [None, *biggest]:
        if gene is not None:
            config[gene] = "int8"
        sizes.append(size(pipeline.artifacts(config).onnx, pipeline.context).value)
    assert all(a > b for a, b in zip(sizes, sizes[1:])), sizes
    assert sizes[-1] < 0.5 * sizes[0]


def test_one_evaluation_quantizes_once_and_measures_the_quantized_model(digits):
    net = create_supernet("tiny_elastic_cnn").eval()
    transform = QuantizeTransform(calibration_samples=32)
    figures = [*QUANTIZED_OBJECTIVES, *QUANTIZED_METRICS]
    from hwnas.measure.objectives import as_metric

    pipeline = Pipeline(net, [as_metric(f) for f in figures], digits, transform=transform)
    space, config = composed(net, net.space.largest(), {"quant.stem.0": "fp32"})
    measured = pipeline(config)
    assert transform.quantizations == 1
    assert measured["int8_layers"].value == 5
    assert measured["onnx_size"].value == len(pipeline.artifacts(config).onnx)
    assert transform.quantizations == 1  # cached per sub-network + policy
    with pytest.raises(InvalidConfigError, match="leaves only"):  # fp32 torch latency: refused
        Pipeline(net, [Metric.named("latency")], digits, transform=transform)


FAST_LATENCY = "latency:latency:backend=onnxruntime,warmup=1,repeats=3,min_sample_ms=0.2"
STRATEGY_OPTIONS = {"random": None, "nsga2": {"population_size": 4},
                    "linas": {"initial_population": 4, "batch_size": 2, "inner_population": 8,
                              "inner_generations": 2}}


@pytest.mark.parametrize("strategy", sorted(STRATEGY_OPTIONS))
def test_joint_search_through_the_api(tmp_path, strategy):
    study = run_search(tmp_path / "q.db", supernet="tiny_elastic_cnn", dataset="digits",
                       objectives=[QUANTIZED_OBJECTIVES[0], FAST_LATENCY], strategy=strategy,
                       strategy_options=STRATEGY_OPTIONS[strategy], n_evaluations=6,
                       progress=False, quantization=True)
    finished = study.finished()
    assert len(finished) == 6
    assert all(any(k.startswith("quant.") for k in r.config) for r in finished)
    frame = study.to_dataframe()
    assert frame["policy"].str.fullmatch(r"\d+/\d+ int8").all()
    assert (frame["int8_layers"] == frame["policy"].str.split("/").str[0].astype(float)).all()
    from hwnas.report import front_table

    assert "policy" in [c.header for c in front_table(study).columns]


def hwnas_cli(*args: str) -> None:
    """Run an ``hwnas`` command in this process (a subprocess would spend most of the
    test importing torch)."""
    from hwnas.cli import main

    try:
        main(list(args))
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise AssertionError(f"hwnas {' '.join(args)} exited with {exit_.code}") from None


def test_cli_search_and_export_as_measured(tmp_path, digits, capsys):
    db, out = tmp_path / "q.db", tmp_path / "best.onnx"
    hwnas_cli("search", "--quantization", "--supernet", "tiny_elastic_cnn", "--dataset",
              "digits", "--study", str(db), "--strategy", "random", "--n-evaluations", "3",
              "--no-progress")
    printed = capsys.readouterr().out
    assert "policy" in printed and "int8" in printed
    study = Study.load(db)
    best = max(study.finished(), key=lambda r: r.metrics["accuracy"])
    hwnas_cli("export", "--study", str(db), "--trial", str(best.number), "--out", str(out))
    printed = capsys.readouterr().out
    assert "verified accuracy" in printed and "OK" in printed and "MISMATCH" not in printed
    assert out.stat().st_size == best.metrics["onnx_size"]
    model = onnx.load(str(out))
    assert len(quantized_nodes(model)) == best.metrics["int8_layers"]
    predicted = session_predictions(onnx_session(out.read_bytes()), digits.val_x)
    accuracy = float((predicted == digits.val_y).float().mean())
    assert accuracy == pytest.approx(best.metrics["accuracy"])
    with pytest.raises(InvalidConfigError, match=".onnx"):
        export_subnetwork(tmp_path / "best.pt2", study=db, trial=best.number)


def test_export_from_a_checkpoint_quantized_as_a_study_measures_it(tmp_path, trained, digits):
    path, net = trained
    db = tmp_path / "q.db"
    study = run_search(db, checkpoint=path, quantization=True, strategy="random",
                       metrics=["onnx_size", "int8_layers"], n_evaluations=2, progress=False,
                       objectives=["accuracy:accuracy:backend=onnxruntime", FAST_LATENCY])
    for result in study.finished():
        out = tmp_path / f"trial{result.number}.onnx"
        hwnas_cli("export", "--checkpoint", str(path), "--config", json.dumps(result.config),
                  "--quantization", "--out", str(out))
        assert out.stat().st_size == result.metrics["onnx_size"]
        assert len(quantized_nodes(onnx.load(str(out)))) == result.metrics["int8_layers"]
        predicted = session_predictions(onnx_session(out.read_bytes()), digits.val_x)
        accuracy = float((predicted == digits.val_y).float().mean())
        assert accuracy == pytest.approx(result.metrics["accuracy"])
    full = tmp_path / "full.onnx"  # an architecture-only config: every layer INT8
    export_subnetwork(full, net.space.largest(), checkpoint=path, quantization=True)
    assert len(quantized_nodes(onnx.load(str(full)))) == len(policy_genes(policy_space(net)))
    with pytest.raises(InvalidConfigError, match="--quantization"):
        export_subnetwork(tmp_path / "x.onnx", study.finished()[0].config, checkpoint=path)
    plain = run_search(tmp_path / "plain.db", checkpoint=path, strategy="random",
                       objectives=["accuracy"], n_evaluations=1, progress=False)
    with pytest.raises(InvalidConfigError, match="without quantization"):
        export_subnetwork(tmp_path / "y.onnx", study=tmp_path / "plain.db",
                          trial=plain.finished()[0].number, quantization=True)


# -- bad input ---------------------------------------------------------------------------------
def test_a_policy_naming_a_missing_layer_is_one_clear_error(digits):
    net = create_supernet("tiny_elastic_cnn").eval()
    pipeline = pipeline_of(net, digits)
    _, config = composed(net, net.space.largest(), "int8")
    with pytest.raises(InvalidConfigError, match="quant.stages.9.conv.*does not have"):
        pipeline({**config, "quant.stages.9.conv": "int8"})
    with pytest.raises(InvalidConfigError, match="one of"):
        pipeline({**config, "quant.stem.0": "int4"})


def test_an_empty_calibration_set_is_one_clear_error():
    with pytest.raises(InvalidConfigError, match="calibration set is empty"):
        calibration_feeds(torch.zeros(0, 1, 8, 8), 16, 8, 0)
    with pytest.raises(InvalidConfigError, match="calibration_samples >= 1"):
        QuantizeTransform(calibration_samples=0)


class _Unexportable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.linalg.svd(x.reshape(-1, 2, 2)).S.repeat(1, 2))


class _Supernet(nn.Module):
    """A bring-your-own super-network: ``scale`` 1 runs ``good``, 2 runs ``bad``."""

    input_shape = (4,)

    def __init__(self, good: nn.Module, bad: nn.Module) -> None:
        super().__init__()
        self.good, self.bad = good, bad
        self.space = SearchSpace([Choice("scale", (1, 2))])
        self.active_config = {"scale": 1}

    def activate(self, config):
        self.active_config = dict(config)

    def extract(self, config):
        return self.good if config["scale"] == 1 else self.bad

    def forward(self, x):
        return self.extract(self.active_config)(x)


def test_an_unexportable_model_fails_its_trial_and_the_study_keeps_what_was_measured(tmp_path):
    net = _Supernet(nn.Sequential(nn.Linear(4, 3)), _Unexportable())
    study = Study.create(tmp_path / "q.db", supernet=net, data=_random_data((4,)),
                         transform=QuantizeTransform(), objectives=["onnx_size"], metrics=(),
                         strategy="random")
    with pytest.raises(EvaluationError, match="ONNX exporter cannot handle"):
        study.evaluator()({"scale": 2, "quant.good.0": "int8", "quant.bad.linear": "int8"})
    study.optimize(4, progress=False, max_consecutive_failures=10)
    results = study.results()
    assert {r.config["scale"] for r in results if r.ok} == {1}
    failed = [r for r in results if not r.ok]
    assert failed and all("ONNX exporter cannot handle" in r.error for r in failed)


def test_no_policy_dimensions_with_quantization_is_one_clear_error(tmp_path):
    net = _Supernet(nn.Sequential(nn.ReLU()), nn.Sequential(nn.ReLU()))
    with pytest.raises(InvalidConfigError, match="offers no policy dimensions"):
        Study.create(tmp_path / "q.db", supernet=net, data=_random_data((4,)),
                     transform=QuantizeTransform(), objectives=["onnx_size"], metrics=())
    assert not (tmp_path / "q.db").exists()


def _random_data(shape):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((96, *shape), generator=generator)
    y = torch.randint(0, 3, (96,), generator=generator)
    from hwnas.data import as_data_splits

    return as_data_splits(((x[:64], y[:64]), (x[64:], y[64:])))


def test_calibration_is_a_fixed_seeded_subset_of_the_training_split():
    x = torch.arange(100, dtype=torch.float32).reshape(100, 1)
    first = calibration_feeds(x, 10, 4, seed=3)
    again = calibration_feeds(x, 10, 4, seed=3)
    other = calibration_feeds(x, 10, 4, seed=4)
    values = np.concatenate([f["input"] for f in first]).ravel()
    assert [f["input"].shape[0] for f in first] == [4, 4, 2]
    assert np.array_equal(values, np.concatenate([f["input"] for f in again]).ravel())
    assert not np.array_equal(values, np.concatenate([f["input"] for f in other]).ravel())
    assert len(set(values)) == 10 and set(values) <= set(range(100))
    assert json.loads(json.dumps(QuantizeTransform().settings()))["calibration_seed"] == 0


def test_the_benchmark_runs_on_a_tiny_task(digits):
    """Smoke test of benchmarks/quantization.py (its figures' shape, not their values)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "quantization.py"
    spec = importlib.util.spec_from_file_location("quantization_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.LATENCY = FAST_LATENCY
    bench.FIGURES[1] = FAST_LATENCY
    task = bench.Task("digits", create_supernet("tiny_elastic_cnn"), digits)
    result = bench.summarize_task(bench.run_task(task, seeds=range(1), budget=4))
    assert set(result["int8_baseline"]) >= {"accuracy", "latency", "onnx_size", "test_accuracy"}
    best = result["seeds"][0]["best_at_iso_accuracy"]
    assert best["eligible"] >= 1  # the starting design holds the reference itself
    assert -100 <= best["test_accuracy_loss_pp"] <= 100  # held-out accuracy, measured beside
    assert result["best_at_iso_accuracy"]["latency_speedup"]["seeds"] <= 1
    assert result["seeds"][0]["joint_evaluations"] == 4
    assert result["mixed_strictly_beats_uniform_int8_somewhere"] in (0, 1)
