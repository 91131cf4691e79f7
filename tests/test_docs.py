"""The docs stay true: the tutorial runs as written (smaller sizes), each command page
matches the CLI, the optuna-dashboard command the docs give opens the study with named
objectives and parameters, and `--help` lists the valid names without importing torch."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from decision_studies import run_cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: the tutorial as written, run with smaller sizes and budgets any tiny run meets
SMALL = {"--epochs 30": "--epochs 1", "--n-evaluations 200": "--n-evaluations 12",
         "n_evaluations = 60": "n_evaluations = 6", "latency=2.0": "latency=1000",
         "accuracy=0.9": "accuracy=0.0"}
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(text)]


def small(text: str) -> str:
    for large, tiny in SMALL.items():
        text = text.replace(large, tiny)
    return text


@pytest.mark.slow
def test_tutorial_runs_as_written(tmp_path, monkeypatch, capsys):
    text = (DOCS / "tutorial.md").read_text()
    assert all(large in text for large in SMALL), "the tutorial no longer has these sizes"
    monkeypatch.chdir(tmp_path)
    ran = {"sh": 0, "python": 0, "toml": 0}
    for language, body in blocks(text):
        body = small(body)
        if language == "sh":
            for line in (ln for ln in body.splitlines() if ln.strip()):
                words = shlex.split(line)
                assert words[0] == "hwnas", f"the tutorial runs only hwnas commands: {line}"
                code = run_cli(*words[1:], *(["--no-progress"] if words[1] in (
                    "quickstart", "search") and "--print-config" not in words else []))
                output = capsys.readouterr()
                assert code == 0, f"{line}\n{output.out}\n{output.err}"
                ran["sh"] += 1
        elif language == "toml":
            name = body.splitlines()[0].lstrip("# ").strip()
            Path(name).write_text(body)
            ran["toml"] += 1
        elif language == "python":
            exec(compile(body, "docs/tutorial.md", "exec"), {"__name__": "tutorial"})
            ran["python"] += 1
    assert ran == {"sh": 9, "python": 1, "toml": 1}, ran
    for written in ("runs/quickstart/model.onnx", "runs/quickstart/report.html",
                    "runs/linas/study.db", "runs/compare.html"):
        assert Path(written).is_file(), written
    check_dashboard_commands(text, tmp_path)


def dashboard_arguments(text: str) -> list[str]:
    """What ``optuna-dashboard`` is given in ``text`` (a path or URL: the word after it
    that names a file)."""
    words = re.findall(r"optuna-dashboard\s+([^\s`]+)", text)
    return [w for w in words if "/" in w or w.endswith(".db")]


def dashboard_get(app, path: str) -> tuple[str, object]:
    """One GET request to a WSGI app, as optuna-dashboard's web page makes it."""
    answer = {}

    def start(status, headers, exc_info=None):
        answer["status"] = status

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
               "SERVER_NAME": "localhost", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
               "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http"}
    body = b"".join(app(environ, start))
    return answer["status"], json.loads(body)


def check_dashboard_commands(text: str, folder: Path) -> None:
    """Every `optuna-dashboard X` in ``text`` opens the study (run from ``folder``) with the
    objectives named and each gene a parameter, as the dashboard's own code reads it."""
    dashboard = pytest.importorskip("optuna_dashboard")
    from optuna_dashboard._storage_url import get_storage

    from hwnas.study import Study

    commands = dashboard_arguments(text)
    assert commands
    for argument in commands:
        storage = get_storage(argument)
        app = dashboard.wsgi(storage)
        status, studies = dashboard_get(app, "/api/studies")
        assert status.startswith("200"), status
        summary = studies["study_summaries"][0]
        status, detail = dashboard_get(app, f"/api/studies/{summary['study_id']}")
        path = folder / argument.removeprefix("sqlite:///")
        spec = Study.load(path).spec
        assert detail["objective_names"] == spec.objective_keys
        genes = {p["name"] for p in detail["union_search_space"]}
        assert genes and genes <= set(spec.space.names), genes
        status, importances = dashboard_get(
            app, f"/api/studies/{summary['study_id']}/param_importances")
        assert status.startswith("200") and importances["param_importances"][0]


def test_the_docs_give_the_dashboard_a_storage_url():
    """A bare path is what optuna-dashboard refuses; every mention in the docs and the
    README must be a storage URL."""
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        for argument in dashboard_arguments(page.read_text()):
            assert argument.startswith("sqlite:///"), f"{page.name}: optuna-dashboard {argument}"


def command_help(name: str) -> str:
    from typer.testing import CliRunner

    from hwnas.cli import app

    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "250"},
                                terminal_width=250)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_has_a_page_that_matches_its_help():
    from hwnas.docs_pages import commands, generated_part, option_names, options_block

    found = commands()
    pages = {p.stem for p in (DOCS / "commands").glob("*.md")}
    assert pages == set(found), f"pages without a command or commands without a page: " \
                                f"{pages ^ set(found)}"
    for name, command in found.items():
        text = (DOCS / "commands" / f"{name}.md").read_text()
        assert generated_part(text) == options_block(command), (
            f"docs/commands/{name}.md is out of date: run "
            "`.venv/bin/python -m hwnas.docs_pages docs/commands`")
        shown = command_help(name)
        for option in option_names(command):
            assert option in shown and option in text, (name, option)
        # the examples use only options the command has
        for _, body in blocks(text):
            for line in body.splitlines():
                words = shlex.split(line.split(">")[0]) if line.startswith("hwnas") else []
                if len(words) > 1 and words[1] == name:
                    unknown = {w.split("=")[0] for w in words if w.startswith("--")} - \
                        option_names(command) - {"--help"}
                    assert not unknown, f"docs/commands/{name}.md: {line}: {unknown}"


def test_help_lists_the_valid_names():
    from hwnas.names import NAMES, live_names

    assert live_names() == NAMES, "hwnas.names.NAMES is stale: run `python -m hwnas.names`"
    search = command_help("search")
    for strategy, options in NAMES["strategies"].items():
        assert strategy in search and options[0].split("=")[0] in search
    for name in NAMES["measures"] + NAMES["data sets"] + NAMES["super-networks"]:
        assert name in search, name
    train = command_help("train")
    assert all(m in train for m in NAMES["training methods"])
    assert all(b in command_help("info") for b in NAMES["benchmarks"])


def test_help_does_not_import_torch():
    script = ("import sys\nfrom hwnas.cli import main\n"
              "from hwnas.docs_pages import commands\n"
              "for name in commands():\n"
              "    try:\n        main([name, '--help'])\n"
              "    except SystemExit as stop:\n        assert not stop.code, name\n"
              "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "NO TORCH"


def test_reading_commands_do_not_import_torch(tmp_path):
    from decision_studies import benchmark_studies

    linas, _ = benchmark_studies(tmp_path, n_evaluations=12)
    from hwnas.study import Study

    # a front member measured again (as a search does for noisy latencies): reading applies it
    study = Study.load(linas)
    member = study.pareto_front()[0]
    study.storage.set_study_user_attr(study._study_id, "remeasured", {str(member.number): {
        "metrics": {"latency": member.metrics["latency"]}, "spreads": {"latency": 0.0},
        "quality": {"latency": "ok"}}})
    script = ("import sys\nfrom hwnas.cli import main\n"
              "try:\n    main(sys.argv[1:])\nexcept SystemExit as stop:\n"
              "    assert not stop.code, stop.code\n"
              "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')\n")
    for command in (["show", "--study", str(linas)], ["show", "--study", str(linas), "--csv",
                                                      str(tmp_path / "f.csv")],
                    ["pick", str(linas), "--max", "latency=1000"],
                    ["report", str(linas), "--output", str(tmp_path / "r.html")],
                    ["info", str(linas)]):
        result = subprocess.run([sys.executable, "-c", script, *command], capture_output=True,
                                text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == "NO TORCH", command
