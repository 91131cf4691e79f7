"""The CLI end to end, in real subprocesses: errors, and resume after a killed search."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

HWNAS = [sys.executable, "-m", "hwnas.cli"]


def run(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    result = subprocess.run([*HWNAS, *args], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "COLUMNS": "250"})
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ck") / "tiny.pt"
    run("train", "--supernet", "tiny_elastic_cnn", "--dataset", "digits", "--epochs", "1",
        "--out", str(path), "--no-progress", check=True)
    return path


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_on_every_command():
    for command in ("quickstart", "train", "search", "show", "evaluate", "export", "info"):
        result = run(command, "--help", check=True)
        assert "Usage" in result.stdout


def test_unknown_supernet(tmp_path):
    assert_one_line_error(run("train", "--supernet", "elastic_cnm", "--out",
                              str(tmp_path / "x.pt")), "elastic_cnm", "elastic_cnn")


def test_config_outside_the_space(checkpoint):
    config = {"stage0.depth": 7}
    assert_one_line_error(run("evaluate", "--checkpoint", str(checkpoint), "--config",
                              json.dumps(config)), "dimension")
    from hwnas.supernets import load_supernet

    full = load_supernet(checkpoint).space.largest()
    full["stage0.depth"] = 7
    assert_one_line_error(run("evaluate", "--checkpoint", str(checkpoint), "--config",
                              json.dumps(full)), "stage0.depth=7", "allowed values")


def test_missing_and_mismatched_checkpoint(tmp_path, checkpoint):
    assert_one_line_error(run("search", "--study", str(tmp_path / "s.db"), "--checkpoint",
                              str(tmp_path / "nope.pt")), "does not exist", "hwnas train")
    not_a_checkpoint = tmp_path / "random.pt"
    not_a_checkpoint.write_bytes(os.urandom(64))
    assert_one_line_error(run("search", "--study", str(tmp_path / "s.db"), "--checkpoint",
                              str(not_a_checkpoint)), "not an hwnas super-network checkpoint")
    assert_one_line_error(run("search", "--study", str(tmp_path / "s.db"), "--checkpoint",
                              str(checkpoint), "--dataset", "mnist1d"),
                          "samples of shape (1, 8, 8)", "(1, 40)")


def test_checkpoint_with_wrong_weights(tmp_path, checkpoint):
    import torch

    payload = torch.load(checkpoint, weights_only=True)
    payload["name"] = "tiny_elastic_cnn1d"
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    assert_one_line_error(run("evaluate", "--checkpoint", str(bad), "--config", "{}"),
                          "does not fit this super-network")


def test_unknown_objective(tmp_path, checkpoint):
    assert_one_line_error(run("search", "--study", str(tmp_path / "s.db"), "--checkpoint",
                              str(checkpoint), "--objectives", "accuracy,latncy"),
                          "latncy", "did you mean 'latency'")


def test_study_file_that_is_not_a_study(tmp_path):
    fake = tmp_path / "fake.db"
    fake.write_text("not a database")
    assert_one_line_error(run("show", "--study", str(fake)), "not a study")
    assert fake.read_text() == "not a database"


def test_debug_shows_the_traceback(tmp_path):
    result = run("--debug", "show", "--study", str(tmp_path / "missing.db"))
    assert result.returncode != 0 and "Traceback" in result.stderr


def complete_trials(db: Path) -> dict[int, str]:
    if not db.exists():
        return {}
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT trial_id, datetime_complete FROM trials WHERE state='COMPLETE'").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        connection.close()
    return dict(rows)


@pytest.mark.slow
def test_killed_search_resumes_without_losing_or_repeating(tmp_path, checkpoint):
    study = tmp_path / "study.db"
    args = ["search", "--study", str(study), "--checkpoint", str(checkpoint),
            "--n-evaluations", "30", "--strategy-option", "population_size=8",
            "--objective", "accuracy", "--objective", "latency::repeats=5,min_sample_ms=1",
            "--no-progress"]
    process = subprocess.Popen([*HWNAS, *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 240
    while len(complete_trials(study)) < 10 and time.time() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = complete_trials(study)
    assert 10 <= len(before) < 30

    run(*args, check=True)
    from hwnas.study import Study

    loaded = Study.load(study)
    finished = loaded.finished()
    assert len(finished) == 30
    assert len({r.arch_id for r in finished}) == 30
    after = complete_trials(study)
    assert all(after[trial_id] == stamp for trial_id, stamp in before.items())
    shown = run("show", "--study", str(study), check=True)
    assert "Pareto front" in shown.stdout and "hypervolume" in shown.stdout


def test_export_runs_without_hwnas(tmp_path, checkpoint):
    out = tmp_path / "sub.pt"
    run("export", "--checkpoint", str(checkpoint), "--config",
        json.dumps(__import__("hwnas.supernets", fromlist=["x"]).load_supernet(
            checkpoint).space.smallest()), "--out", str(out), check=True)
    code = (f"import torch; m = torch.load({str(out)!r}, weights_only=False); "
            "print(m(torch.zeros(1, 1, 8, 8)).shape)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert "torch.Size([1, 10])" in result.stdout, result.stderr


def test_checkpoint_without_its_dataset_asks_for_one(tmp_path):
    from hwnas.supernets import create_supernet, save_checkpoint

    bare = save_checkpoint(create_supernet("tiny_elastic_cnn"), tmp_path / "bare.pt",
                           "tiny_elastic_cnn", {})
    assert_one_line_error(run("search", "--study", str(tmp_path / "s.db"), "--checkpoint",
                              str(bare)), "does not record the data", "--dataset")


FAST_LATENCY = "repeats=3,warmup=0,min_sample_ms=0.2"


@pytest.mark.slow
def test_two_latency_objectives_from_the_command_line(tmp_path, checkpoint):
    study = tmp_path / "s.db"
    run("search", "--study", str(study), "--checkpoint", str(checkpoint), "--objective",
        "accuracy", "--objective", f"latency@b1:latency:batch_size=1,{FAST_LATENCY}",
        "--objective", f"latency@b32:latency:batch_size=32,threads=2,{FAST_LATENCY}",
        "--metrics", "macs", "--strategy", "random", "--n-evaluations", "4", "--no-progress",
        check=True)
    from hwnas.study import Study

    loaded = Study.load(study)
    assert loaded.spec.objective_keys == ["accuracy", "latency@b1", "latency@b32"]
    assert loaded.spec.evaluation.measure("latency@b32").settings["threads"] == 2
    shown = run("show", "--study", str(study), check=True).stdout
    assert "latency@b1 (ms)" in shown and "latency@b32 (ms)" in shown
    assert "front over accuracy vs latency@b32" in shown

    # resuming with other arguments is refused, naming the field
    for changed, field in ((["--objectives", "accuracy,latency"], "objectives"),
                           (["--objective", "accuracy", "--objective",
                             f"latency@b1:latency:batch_size=2,{FAST_LATENCY}", "--objective",
                             f"latency@b32:latency:batch_size=32,threads=2,{FAST_LATENCY}"],
                            "objective settings"),
                           (["--metrics", "params"], "metrics"),
                           (["--strategy", "nsga2"], "strategy"),
                           (["--strategy-option", "batch_size=3"], "strategy options"),
                           (["--seed", "4"], "seed"),
                           (["--dataset", "mnist1d"], "dataset"),
                           (["--checkpoint", str(tmp_path / "other.pt")], "checkpoint")):
        assert_one_line_error(run("search", "--study", str(study), "--n-evaluations", "5",
                                  *changed), f"created with {field}", "--overwrite")
    # the same arguments resume
    run("search", "--study", str(study), "--checkpoint", str(checkpoint), "--strategy",
        "random", "--n-evaluations", "5", "--no-progress", check=True)
    assert len(Study.load(study).finished()) == 5

    # evaluate re-measures a trial with the study's keys and settings
    again = run("evaluate", "--study", str(study), "--trial", "0", check=True).stdout
    recorded = loaded.result(0)
    for line in again.splitlines():
        if line.startswith(("accuracy:", "macs:")):
            key, value = line.split(":", 1)
            assert float(value.split()[0]) == pytest.approx(recorded.metrics[key], rel=1e-5)
    assert "latency@b32:" in again and "batch_size=32" in again and "threads=2" in again
    assert " ms" in again

    config = json.loads(run("show", "--study", str(study), "--config", "0", check=True).stdout)
    assert config == recorded.config


def test_info_prints_the_space(checkpoint):
    shown = run("info", str(checkpoint), check=True).stdout
    assert "stage0.depth" in shown and "ordered" in shown and "sub-networks" in shown
    assert run("info", "elastic_cnn", check=True).stdout.count("17,") >= 1
    assert_one_line_error(run("info", "elastic_cnm"), "did you mean")


def _run_env(env, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([*HWNAS, *args], capture_output=True, text=True, timeout=300,
                            env={**env, "COLUMNS": "250"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.slow
def test_a_users_super_network_and_data_through_every_command(tmp_path, byo_env):
    """The outside package byo_elastic (an elastic MLP and its own .npz data), by import path
    and by entry point, through train, search, show, evaluate, export and info."""
    sys.path.insert(0, str(Path(__file__).parent / "byo"))
    try:
        from byo_elastic.data import write_npz
    finally:
        sys.path.pop(0)
    data = write_npz(tmp_path / "points.npz")
    checkpoint = tmp_path / "mlp.pt"
    for name in ("byo_elastic.mlp:make_supernet", "byo_mlp"):
        _run_env(byo_env, "train", "--supernet", name, "--data", str(data), "--epochs", "2",
                 "--out", str(checkpoint), "--no-progress")
    study = tmp_path / "mlp.db"
    _run_env(byo_env, "search", "--study", str(study), "--checkpoint", str(checkpoint),
             "--objective", "accuracy", "--objective", f"latency::{FAST_LATENCY}",
             "--strategy", "random", "--n-evaluations", "5", "--no-progress")
    shown = _run_env(byo_env, "show", "--study", str(study)).stdout
    assert "Pareto front" in shown and "accuracy (%)" in shown
    config = _run_env(byo_env, "show", "--study", str(study), "--config", "1").stdout
    assert "depth" in json.loads(config)
    again = _run_env(byo_env, "evaluate", "--study", str(study), "--trial", "1").stdout
    assert "accuracy:" in again and "latency:" in again
    direct = _run_env(byo_env, "evaluate", "--checkpoint", str(checkpoint), "--config",
                      config, "--measure", "accuracy", "--measure", "params").stdout
    assert "accuracy:" in direct and "params:" in direct
    out = tmp_path / "mlp.pt2"
    _run_env(byo_env, "export", "--study", str(study), "--trial", "1", "--out", str(out))
    code = (f"import torch; m = torch.export.load({str(out)!r}).module(); "
            "print(tuple(m(torch.zeros(16, 12)).shape))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert "(16, 3)" in result.stdout, result.stderr
    info = _run_env(byo_env, "info", "byo_elastic.mlp:make_supernet").stdout
    assert "width2" in info and "depth >= 3" in info
    from hwnas.study import Study

    assert Study.load(study).spec.evaluation.data.kind == "npz"


def test_search_a_tabulated_benchmark_and_resume_it(tmp_path):
    study = str(tmp_path / "cells.db")
    result = run("search", "--study", study, "--benchmark", "mnist1d_cells", "--strategy",
                 "linas", "--n-evaluations", "40", "--no-progress", check=True)
    assert "latency@b1" in result.stdout  # the table's own objectives
    from hwnas.study import Study
    from hwnas.tabular import load_benchmark

    space = load_benchmark("mnist1d_cells").space
    finished = Study.load(study).finished()
    assert len({space.arch_id(r.config) for r in finished}) == len(finished) == 40
    assert set(finished[0].metrics) == {"accuracy", "latency@b1", "macs", "params"}
    assert_one_line_error(run("search", "--study", study, "--benchmark", "mnist1d_blocks",
                              "--no-progress"), "created with benchmark mnist1d_cells")
    assert_one_line_error(run("search", "--study", str(tmp_path / "q.db"), "--benchmark",
                              "mnist1d_cells", "--quantization", "--no-progress"),
                          "without --quantization")
    assert_one_line_error(run("search", "--study", str(tmp_path / "u.db"), "--benchmark",
                              "mnist1d_cellz", "--no-progress"), "mnist1d_cells")
