"""The valid names each command takes, for its ``--help``, without importing torch.

The registries live in modules that import torch, and ``hwnas CMD --help`` must stay fast
and torch-free, so :data:`NAMES` is a snapshot of them; ``tests/test_docs.py`` checks it
against the live registries (:func:`live_names`); ``python -m hwnas.names`` rewrites it
after something is registered. Super-networks that installed packages
register (entry points) are read live, without importing them.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

# BEGIN NAMES (written by `python -m hwnas.names`)
#: kind -> names; strategies and training methods with their options (name=default)
NAMES: dict[str, Any] = {
    'super-networks':
        ['cnn1d_bench', 'elastic_cnn', 'elastic_cnn1d', 'elastic_transformer', 'hf_model',
         'ofa_mobilenet_v3', 'ofa_resnet50', 'tiny_cnn1d_bench', 'tiny_elastic_cnn',
         'tiny_elastic_cnn1d', 'tiny_elastic_transformer', 'tiny_hf_model', 'tiny_hf_vit',
         'tiny_ofa_mobilenet_v3', 'tiny_ofa_resnet50'],
    'training methods':
        {'instatune': ['n_random=1', 'temperature=5.0'],
         'progressive': ['n_subnets=4', 'phase_fractions=(0.25, 0.15, 0.25, 0.35)',
                         'kd_ratio=1.0', 'distill_temperature=1.0', 'reorder=True',
                         'later_lr_scale=0.3'],
         'sandwich': ['n_random=2', 'distill_temperature=1.0'],
         'sorted': ['levels=8', 'n_subnets=4']},
    'optimizers':
        ['adamw', 'sgd'],
    'data sets':
        ['digits', 'mnist1d'],
    'measures':
        ['accuracy', 'int8_layers', 'latency', 'latency_table', 'macs', 'model_size',
         'onnx_size', 'params'],
    'strategies':
        {'linas': ['initial_population=20', 'batch_size=10', 'inner_population=50',
                   'inner_generations=10', "predictor='auto'", 'reselect_growth=2.0',
                   "encodings=('typed',)", 'trust_tau=(0.3, 0.7)', 'min_exploit=0.2',
                   'min_explore=0.1', 'infeasible_share=0.05'],
         'nsga2': ['population_size=20', 'crossover_eta=3.0', 'mutation_eta=3.0'],
         'random': ['batch_size=10']},
    'predictors':
        ['gbt', 'ridge', 'svr'],
    'benchmarks':
        ['mnist1d_blocks', 'mnist1d_cells', 'mnist1d_cnn1d'],
}
# END NAMES

#: which kinds each command's help lists
COMMAND_KINDS: dict[str, tuple[str, ...]] = {
    "train": ("super-networks", "data sets", "training methods", "optimizers"),
    "search": ("super-networks", "data sets", "measures", "strategies"),
    "evaluate": ("data sets", "measures"),
    "info": ("super-networks", "benchmarks"),
    "list": tuple(NAMES),
}
#: what a command takes instead of registry names
COMMAND_NOTES: dict[str, str] = {
    "show": "Keys: the study's objectives and metrics (hwnas show --study STUDY lists "
            "them).",
    "pick": "Keys: the study's objectives and metrics, e.g. --max latency@b1=2.0 "
            "--min accuracy=0.95.",
    "report": "Keys: the study's objectives; several studies are overlaid by shared keys.",
    "export": "Formats by suffix: .pt2 (torch.export), .onnx, .pt (pickled module).",
    "search": "Objective KEY[:KIND[:K=V,...]] where KIND is a measure; constraints "
              "KEY<=V or KEY>=V on any measured key.",
}


def _options(factory: Any) -> list[str]:
    parameters = inspect.signature(factory).parameters.values()
    return [f"{p.name}={p.default!r}" for p in parameters
            if p.default is not inspect.Parameter.empty and p.name != "self"]


def live_names() -> dict[str, Any]:
    """The same table from the live registries (imports torch)."""
    from hwnas.strategies import STRATEGIES
    from hwnas.training import TRAINING_METHODS
    from hwnas.workflow import registered_plugins

    listing = {kind: [name for name, _ in entries]
               for kind, entries in registered_plugins().items()}
    installed = set(_installed_supernets())
    listing["super-networks"] = [n for n in listing["super-networks"] if n not in installed]
    listing["strategies"] = {n: _options(STRATEGIES.get(n)) for n in STRATEGIES.names()}
    listing["training methods"] = {n: _options(TRAINING_METHODS.get(n))
                                   for n in TRAINING_METHODS.names()}
    return listing


def _installed_supernets() -> list[str]:
    from importlib.metadata import entry_points

    return sorted(entry.name for entry in entry_points(group="hwnas.supernets"))


def _shown(kind: str) -> str:
    names = NAMES[kind]
    if isinstance(names, dict):
        return "; ".join(f"{n} ({', '.join(o)})" if o else n for n, o in names.items())
    if kind == "super-networks":
        names = names + [f"{n} (installed)" for n in _installed_supernets() if n not in names]
    return ", ".join(names)


def epilog(command: str) -> str | None:
    """The lines ``hwnas COMMAND --help`` ends with: the valid names it takes."""
    lines = [f"Valid {kind}: {_shown(kind)}." for kind in COMMAND_KINDS.get(command, ())]
    if command in COMMAND_NOTES:
        lines.append(COMMAND_NOTES[command])
    return "\n\n".join(lines) or None


def snapshot_text(names: dict[str, Any]) -> str:
    """``names`` as the NAMES assignment of this file (lines under 100 characters)."""
    import pprint
    import textwrap

    lines = ["#: kind -> names; strategies and training methods with their options "
             "(name=default)", "NAMES: dict[str, Any] = {"]
    for kind, value in names.items():
        text = textwrap.indent(pprint.pformat(value, width=88, compact=True), " " * 8)
        lines.append(f"    {kind!r}:\n{text},")
    return "\n".join(lines + ["}"]) + "\n"


def write_snapshot() -> Path:
    """Rewrite NAMES in this file from the live registries."""
    path = Path(__file__)
    text = path.read_text()
    begin = text.index("# BEGIN NAMES")
    begin = text.index("\n", begin) + 1
    end = text.index("# END NAMES")
    path.write_text(text[:begin] + snapshot_text(live_names()) + text[end:])
    return path


def main() -> None:  # pragma: no cover - a maintenance helper
    print(f"rewrote NAMES in {write_snapshot()}")


if __name__ == "__main__":  # pragma: no cover
    main()
