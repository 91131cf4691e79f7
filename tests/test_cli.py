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
    result = subprocess.run([*HWNAS, *args], capture_output=True, text=True, timeout=300)
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
    for command in ("quickstart", "train", "search", "show", "evaluate", "export"):
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
                          "inputs of shape")


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
            "--measure-option", "latency.repeats=5", "--measure-option",
            "latency.min_sample_ms=1", "--no-progress"]
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
                              str(bare)), "does not record the dataset", "--dataset")
