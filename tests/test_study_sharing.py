"""Several real processes searching one SQLite study: started together on a new study,
joining one, killed (-9), frozen (SIGSTOP) past the heartbeat's grace period, and the
``hwnas search`` command run twice at once. Each ends with exactly the requested number of
distinct finished sub-networks, none measured twice, and no trial left RUNNING."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hwnas.study import Study

BYO = Path(__file__).resolve().parent / "byo"
HWNAS = Path(sys.executable).with_name("hwnas")


def _env(folder: Path, sleep: float = 0.05) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join([str(BYO), env.get("PYTHONPATH", "")]),
               BYO_SHARING_DIR=str(folder), BYO_SLEEP=str(sleep), OMP_NUM_THREADS="1")
    return env


def _workers(study: Path, n: int, count: int, env: dict[str, str], strategy: str = "nsga2",
             lead: float = 4.0) -> list[subprocess.Popen]:
    """``count`` worker processes that all start searching at the same wall-clock moment."""
    start_at = time.time() + lead
    return [subprocess.Popen([sys.executable, "-m", "byo_elastic.sharing", str(study), str(n),
                              str(start_at), "--strategy", strategy], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(count)]


def _finish(processes: list[subprocess.Popen], timeout: float = 240) -> list[str]:
    outputs = []
    for process in processes:
        out, _ = process.communicate(timeout=timeout)
        assert process.returncode == 0, out
        outputs.append(out)
    return outputs


def _trials(study: Path) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.RDBStorage(f"sqlite:///{study}")
    return storage.get_all_trials(storage.get_study_id_from_name("hwnas"))


def _complete(study: Path) -> int:
    return sum(t.state == TrialState.COMPLETE for t in _trials(study))


def _measured(folder: Path) -> collections.Counter:
    log = folder / "evaluations.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return collections.Counter(json.dumps(json.loads(line)["config"], sort_keys=True)
                               for line in lines)


def _check(study: Path, folder: Path, n: int, duplicates_allowed: int = 0) -> None:
    trials = _trials(study)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == n
    arch_ids = [t.user_attrs["proposal"]["arch_id"] for t in complete]
    assert len(set(arch_ids)) == n, "a sub-network finished twice"
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    measured = _measured(folder)
    assert sum(count - 1 for count in measured.values()) <= duplicates_allowed
    assert all(t.params for t in complete), "every gene is an Optuna parameter"


@pytest.mark.parametrize("count", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_processes_started_together_create_and_share_one_new_study(tmp_path, count):
    study = tmp_path / "s.db"
    _finish(_workers(study, 20, count, _env(tmp_path)))
    _check(study, tmp_path, 20)
    assert len(_measured(tmp_path)) == 20
    assert not list(tmp_path.glob(".*creating*")), "a temporary study file was left behind"
    loaded = Study.load(study)
    assert len(loaded.finished()) == 20
    metric_names = optuna.load_study(study_name="hwnas", storage=f"sqlite:///{study}")
    assert metric_names.metric_names == ["accuracy", "latency"]


@pytest.mark.slow
def test_processes_joining_an_existing_study_finish_its_total(tmp_path):
    study = tmp_path / "s.db"
    _finish(_workers(study, 6, 1, _env(tmp_path), lead=0.0))
    assert _complete(study) == 6
    _finish(_workers(study, 20, 3, _env(tmp_path)))
    _check(study, tmp_path, 20)


def _wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def _running_trial_of(study: Path, pid: int) -> int | None:
    for trial in _trials(study):
        if trial.state == TrialState.RUNNING and \
                trial.system_attrs.get("worker", "").endswith(f":{pid}"):
            return trial.number
    return None


def _requeued_and_finished(study: Path, pid: int) -> list[int]:
    """The trials the worker ``pid`` left RUNNING that were failed, queued again and then
    finished by another worker."""
    trials = _trials(study)
    finished = {t.user_attrs["proposal"]["arch_id"] for t in trials
                if t.state == TrialState.COMPLETE}
    return [t.number for t in trials
            if t.state == TrialState.FAIL and t.system_attrs.get("worker", "").endswith(
                f":{pid}") and t.user_attrs.get("requeued") is True
            and t.user_attrs["proposal"]["arch_id"] in finished]


def _killed_by_request(folder: Path, request: str, workers: list[subprocess.Popen]
                       ) -> subprocess.Popen:
    """The worker that took ``request`` (its pid is in the taken file's name), once dead."""
    _wait_for(lambda: list(folder.glob(f"{request}.taken.*")))
    pid = int(next(folder.glob(f"{request}.taken.*")).name.rsplit(".", 1)[1])
    killed = next(w for w in workers if w.pid == pid)
    killed.wait(timeout=60)
    return killed


def test_a_killed_worker_and_a_killed_driver_lose_nothing(tmp_path):
    """SIGKILL of one of two workers mid-evaluation (after 3 finished): the other re-queues
    its trial and goes on; then SIGKILL of the remaining one, mid-search (after 8), and a new
    start completes the search, keeping every finished result. Each kill is placed by the
    count of finished evaluations, not by the test's timing, so a slow test cannot miss it."""
    study, n = tmp_path / "s.db", 16
    env = _env(tmp_path, sleep=0.3)
    (tmp_path / "kill-request-1").write_text("3")
    (tmp_path / "kill-request-2").write_text("8")
    workers = _workers(study, n, 2, env, strategy="random")
    killed = _killed_by_request(tmp_path, "kill-request-1", workers)
    assert killed.returncode == -signal.SIGKILL
    survivor = _killed_by_request(tmp_path, "kill-request-2", workers)
    assert survivor is not killed and survivor.returncode == -signal.SIGKILL
    left_running = _running_trial_of(study, survivor.pid)
    assert left_running is not None, "the survivor died mid-evaluation"
    before = {t.number: t.values for t in _trials(study) if t.state == TrialState.COMPLETE}
    assert 8 <= len(before) < n
    _finish(_workers(study, n, 1, env, strategy="random", lead=0.0))
    after = {t.number: t.values for t in _trials(study) if t.state == TrialState.COMPLETE}
    assert all(after[number] == values for number, values in before.items())
    assert len(_requeued_and_finished(study, killed.pid)) == 1
    assert _requeued_and_finished(study, survivor.pid) == [left_running]
    _check(study, tmp_path, n)


def test_a_frozen_worker_is_failed_by_heartbeat_and_its_late_result_dropped(tmp_path):
    """A worker that stops beating (SIGSTOP: its pid stays alive) has its trial failed by
    the running worker after the grace period and queued again; resumed, it finds the
    trial finished and exits without a crash."""
    study, n = tmp_path / "s.db", 14
    frozen, runner = _workers(study, n, 2, _env(tmp_path, sleep=0.4), strategy="random")
    _wait_for(lambda: study.exists() and _complete(study) >= 2)

    _wait_for(lambda: _running_trial_of(study, frozen.pid) is not None)
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        _wait_for(lambda: any(t.system_attrs.get("retry_history") for t in _trials(study)))
        _finish([runner])
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    _finish([frozen])
    stale = [t for t in _trials(study) if t.state == TrialState.FAIL]
    assert stale and all(t.system_attrs.get("worker", "").endswith(f":{frozen.pid}")
                         for t in stale)
    _check(study, tmp_path, n, duplicates_allowed=len(stale))
    assert len(Study.load(study).results()) == n  # the stale trial is hidden by its retry


@pytest.mark.slow
def test_two_hwnas_search_commands_at_once_on_a_new_study(tmp_path):
    study = tmp_path / "s.db"
    command = [str(HWNAS), "search", "--study", str(study), "--supernet", "tiny_elastic_cnn",
               "--objective", "params", "--objective", "macs", "--metric", "model_size",
               "--strategy", "random", "--n-evaluations", "8", "--no-progress"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for _ in range(2)]
    _finish(processes)
    trials = _trials(study)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 8
    assert len({t.user_attrs["proposal"]["arch_id"] for t in complete}) == 8
    assert not [t for t in trials if t.state == TrialState.RUNNING]
