"""A search's configuration from a TOML file: ``hwnas search --config search.toml``.

Every key of the file is one of :data:`KEYS` (a misspelt key is refused with the close
matches and the allowed ones); values are checked by type. Flags given on the command line
override the file, flags left out do not; ``hwnas search --print-config`` writes the
effective configuration (file, then flags, then the defaults) as TOML. Relative paths in
the file are relative to the file's folder. An example::

    study = "study.db"
    checkpoint = "supernet.pt"        # or: supernet = "tiny_elastic_cnn"
    dataset = "digits"
    objectives = ["accuracy", "latency@b1:latency:batch_size=1"]
    metrics = ["macs", "params"]
    strategy = "nsga2"
    n_evaluations = 100
    seed = 0
    constraints = ["latency@b1<=2.0"]

    [strategy_options]
    population_size = 20

An objective or metric is text ``KEY[:KIND[:K=V,...]]`` or a table
``{key = "latency@b1", kind = "latency", batch_size = 1, backend = "onnxruntime"}``.

>>> validate({"strategy": "random", "n_evaluations": 5}, "x.toml")["n_evaluations"]
5
>>> validate({"n_evaluation": 5}, "x.toml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
hwnas.errors.InvalidConfigError: x.toml: unknown key 'n_evaluation'; did you mean ...
"""

from __future__ import annotations

import difflib
import inspect
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnas.errors import InvalidConfigError


@dataclass(frozen=True)
class Key:
    """One configuration key: what it holds, the ``run_search`` argument it sets."""

    kind: str          # path, text, int, bool, figures, texts, options, numbers
    parameter: str     # run_search's keyword
    help: str


SOURCES = ("checkpoint", "supernet", "benchmark")
"""The keys naming what is searched; one of them per study."""

KEYS: dict[str, Key] = {
    "study": Key("path", "study_path", "study database (SQLite file)"),
    "checkpoint": Key("path", "checkpoint", "trained super-network (hwnas train)"),
    "supernet": Key("text", "supernet", "or an untrained super-network by name"),
    "benchmark": Key("text", "benchmark", "or a tabulated benchmark by name"),
    "dataset": Key("text", "dataset", "registered data set"),
    "data": Key("path", "data", "your data: an .npz file"),
    "objectives": Key("figures", "objectives", "objectives KEY[:KIND[:K=V,...]] or tables"),
    "metrics": Key("figures", "metrics", "also recorded figures, like objectives"),
    "strategy": Key("text", "strategy", "search strategy (nsga2, random, linas)"),
    "strategy_options": Key("options", "strategy_options", "the strategy's options"),
    "n_evaluations": Key("int", "n_evaluations", "finished evaluations the study holds"),
    "seed": Key("int", "seed", "search seed"),
    "overwrite": Key("bool", "overwrite", "replace an existing study"),
    "retry_failed": Key("bool", "retry_failed", "measure failed evaluations again"),
    "max_failures": Key("int", "max_consecutive_failures", "stop after this many failures "
                                                           "in a row"),
    "constraints": Key("texts", "constraints", "constraints KEY<=V / KEY>=V"),
    "quantization": Key("bool", "quantization", "search the INT8/fp32 policy too"),
    "count_infeasible": Key("bool", "count_infeasible", "infeasible evaluations count "
                                                        "towards n_evaluations"),
    "workers": Key("int", "workers", "evaluation workers"),
    "threads": Key("int", "threads", "thread budget of every evaluation stage"),
    "ray_address": Key("text", "ray_address", "Ray cluster to join instead of starting one"),
    "reference_point": Key("numbers", "reference_point", "hypervolume reference point, "
                                                         "objective key -> value"),
}
#: command-line option names that differ from the file's keys
CLI_NAMES = {"objective": "objectives", "metric": "metrics", "strategy_option": "strategy_options",
             "constraint": "constraints"}
#: command-line options that are not configuration
NOT_CONFIG = ("config", "config_file", "print_config", "progress")


def _fail(source: str, message: str) -> InvalidConfigError:
    return InvalidConfigError(f"{source}: {message}")


def _figure_text(item: Any, key: str, source: str) -> str:
    """A figure as the text ``KEY[:KIND[:K=V,...]]`` from text or a table."""
    if isinstance(item, str) and item.strip():
        return item.strip()
    if isinstance(item, Mapping):
        table = dict(item)
        name = table.pop("key", None)
        if not isinstance(name, str) or not name:
            raise _fail(source, f"each table in {key!r} needs key = \"...\", got {item!r}")
        kind = table.pop("kind", None)
        if kind is None:
            if table:
                raise _fail(source, f"{key!r}: {name!r} has settings {sorted(table)} but no "
                                    "kind = \"...\"")
            return name
        settings = ",".join(f"{k}={json.dumps(v)}" for k, v in table.items())
        return f"{name}:{kind}" + (f":{settings}" if settings else "")
    raise _fail(source, f"{key!r} holds text KEY[:KIND[:K=V,...]] or tables with key and "
                        f"kind; got {item!r}")


def _check(name: str, value: Any, source: str, base: Path | None) -> Any:
    kind = KEYS[name].kind
    if kind in ("path", "text"):
        if not isinstance(value, str) or not value:
            raise _fail(source, f"{name!r} must be text, got {value!r}")
        if kind == "path" and base is not None and not Path(value).is_absolute() \
                and "://" not in value:
            return str(base / value)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(source, f"{name!r} must be an integer, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _fail(source, f"{name!r} must be true or false, got {value!r}")
        return value
    if kind == "figures":
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not value:
            raise _fail(source, f"{name!r} must be a non-empty list, got {value!r}")
        return [_figure_text(item, name, source) for item in value]
    if kind == "texts":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _fail(source, f"{name!r} must be a list of text, got {value!r}")
        return list(value)
    if kind == "options":
        if not isinstance(value, Mapping):
            raise _fail(source, f"{name!r} must be a table of options, got {value!r}")
        return dict(value)
    if kind == "numbers":
        if not isinstance(value, Mapping) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in value.values()):
            raise _fail(source, f"{name!r} must be a table of numbers by objective key, e.g. "
                                f"{{accuracy = 0.0, latency = 5.0}}; got {value!r}")
        return {k: float(v) for k, v in value.items()}
    raise AssertionError(f"unknown key kind {kind!r}")  # pragma: no cover


def validate(values: Mapping[str, Any], source: str, base: Path | None = None
             ) -> dict[str, Any]:
    """``values`` checked against :data:`KEYS` (paths made relative to ``base``)."""
    checked = {}
    for name, value in values.items():
        if name not in KEYS:
            close = difflib.get_close_matches(name, list(KEYS), n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "."
            raise _fail(source, f"unknown key {name!r}{hint} Allowed keys: "
                                f"{', '.join(sorted(KEYS))}")
        checked[name] = _check(name, value, source, base)
    given_sources = [name for name in SOURCES if name in checked]
    if len(given_sources) > 1:
        raise _fail(source, f"give one of {', '.join(SOURCES)}, not {' and '.join(given_sources)}")
    return checked


def read_config(path: str | Path) -> dict[str, Any]:
    """The validated keys of a TOML configuration file."""
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise InvalidConfigError(f"configuration file {str(path)!r} does not exist")
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise InvalidConfigError(f"{path}: not valid TOML ({error})") from None
    return validate(values, str(path), base=path.parent)


def _options(pairs: list[str]) -> dict[str, Any]:
    from hwnas.measure.objectives import parse_options

    options: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair or pair.startswith("="):
            raise InvalidConfigError(f"expected KEY=VALUE, got {pair!r}")
        options.update(parse_options(pair))
    return options


def from_command_line(given: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration keys set by the flags the user gave (``given``: option name ->
    value as the CLI parsed it; only options given on the command line)."""
    values: dict[str, Any] = {}
    for option, value in given.items():
        if option in NOT_CONFIG or value is None:
            continue
        name = CLI_NAMES.get(option, option)
        if name not in KEYS:
            raise InvalidConfigError(f"the option --{option.replace('_', '-')} has no "
                                     "configuration key; add it to hwnas.config_file.KEYS")
        if KEYS[name].kind == "figures":
            items = value if isinstance(value, list) else \
                [v.strip() for v in str(value).split(",") if v.strip()]
            value = values.get(name, []) + list(items)
        elif KEYS[name].kind == "options" and isinstance(value, list):
            value = _options(value)
        elif KEYS[name].kind == "numbers" and isinstance(value, str):
            value = parse_numbers(value)
        elif KEYS[name].kind == "path":
            value = str(value)
        values[name] = value
    return validate(values, "command line")


def parse_numbers(text: str) -> dict[str, float]:
    """``"accuracy=0.0,latency=5"`` as ``{"accuracy": 0.0, "latency": 5.0}``."""
    numbers = {}
    for pair in (p for p in text.split(",") if p.strip()):
        key, sep, value = pair.partition("=")
        try:
            numbers[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise InvalidConfigError(f"expected KEY=NUMBER,... e.g. accuracy=0.0,latency=5; "
                                     f"got {text!r}")
    return numbers


def defaults(function: Callable[..., Any]) -> dict[str, Any]:
    """The configuration keys' defaults as ``function`` (``run_search``) declares them."""
    parameters = inspect.signature(function).parameters
    values = {}
    for name, key in KEYS.items():
        parameter = parameters.get(key.parameter)
        if parameter is not None and parameter.default is not inspect.Parameter.empty \
                and parameter.default is not None:
            values[name] = parameter.default
    return values


def effective(file_values: Mapping[str, Any], flag_values: Mapping[str, Any],
              function: Callable[..., Any], fallback: Mapping[str, Any] | None = None
              ) -> dict[str, Any]:
    """Defaults (``function``'s, then ``fallback``: the command's own), then the file, then
    the flags the user gave."""
    merged = {**defaults(function), **(fallback or {}), **file_values, **flag_values}
    for name, key in KEYS.items():
        if key.kind == "options" and name in file_values and name in flag_values:
            merged[name] = {**file_values[name], **flag_values[name]}
    if any(name in flag_values for name in SOURCES):  # a source flag replaces the file's
        for name in SOURCES:
            if name in file_values and name not in flag_values:
                merged.pop(name)
    return merged


def to_arguments(config: Mapping[str, Any], function: Callable[..., Any]) -> dict[str, Any]:
    """``config`` as keyword arguments of ``function``; a key the function does not take
    (a feature this installation lacks) is refused rather than dropped."""
    parameters = inspect.signature(function).parameters
    arguments = {}
    for name, value in config.items():
        parameter = KEYS[name].parameter
        if parameter not in parameters:
            raise InvalidConfigError(f"the key {name!r} is not supported by this hwnas "
                                     f"({function.__name__} takes no {parameter!r}); remove it")
        arguments[parameter] = value
    if "study_path" not in arguments:
        raise InvalidConfigError("the configuration names no study: set study = \"...\" in "
                                 "the file or pass --study")
    return arguments


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise InvalidConfigError(f"cannot write {value!r} as TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def to_toml(config: Mapping[str, Any]) -> str:
    """``config`` as TOML text that :func:`read_config` reads back (in :data:`KEYS` order).

    >>> print(to_toml({"seed": 1, "strategy_options": {"population_size": 20}}), end="")
    seed = 1
    <BLANKLINE>
    [strategy_options]
    population_size = 20
    """
    lines, tables = [], []
    for name in KEYS:
        if name not in config or config[name] is None:
            continue
        value = config[name]
        if KEYS[name].kind == "options":
            tables.append(f"\n[{name}]")
            tables += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()]
        else:
            lines.append(f"{name} = {_toml_value(value)}")
    return "\n".join(lines + tables) + "\n"
