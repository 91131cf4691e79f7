"""Ray workers on a real local Ray runtime (2 CPUs, no dashboard): N evaluations in flight,
a raising evaluation fails only its trial, a killed worker's trial is measured again once,
and ``hwnas search --workers 2`` runs end to end."""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from optuna.trial import TrialState

from hwnas.errors import EvaluationError
from hwnas.study import Study

ray = pytest.importorskip("ray")

BYO = Path(__file__).resolve().parent / "byo"
HWNAS = Path(sys.executable).with_name("hwnas")


@pytest.fixture(scope="module")
def ray_runtime(tmp_path_factory):
    """One local Ray runtime for the module; workers see the outside package and a control
    folder (the evaluator's log and kill requests)."""
    folder = tmp_path_factory.mktemp("ray-control")
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "BYO_SHARING_DIR", "BYO_SLEEP")}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(BYO), saved["PYTHONPATH"] or ""])
    os.environ["BYO_SHARING_DIR"] = str(folder)
    os.environ["BYO_SLEEP"] = "0.2"
    sys.path.insert(0, str(BYO))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=128 * 2**20)
    try:
        yield folder
    finally:
        ray.shutdown()
        sys.path.remove(str(BYO))
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _study(path: Path, strategy: str = "nsga2", evaluator: str = "byo_elastic.sharing:evaluate"):
    from byo_elastic.sharing import space

    return Study.create(path, space=space(), objectives=["accuracy", "latency"], metrics=[],
                        evaluator=evaluator, strategy=strategy,
                        strategy_options={"population_size": 6} if strategy == "nsga2" else None,
                        seed=2, heartbeat_interval=1, grace_period=5)


def _measured(folder: Path) -> collections.Counter:
    log = folder / "evaluations.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return collections.Counter(json.dumps(json.loads(line)["config"], sort_keys=True)
                               for line in lines)


def _states(study: Study) -> collections.Counter:
    trials = study.storage.get_all_trials(study._study_id)
    return collections.Counter(t.state for t in trials)


def test_two_workers_measure_in_parallel_without_repeating_pending_ones(ray_runtime,
                                                                         tmp_path):
    _measured(ray_runtime)
    study = _study(tmp_path / "s.db")
    study.optimize(14, workers=2, progress=False)
    lines = (ray_runtime / "evaluations.log").read_text().splitlines()
    assert len({json.loads(line)["pid"] for line in lines}) == 2, "not two workers"
    finished = study.finished()
    assert len(finished) == 14
    assert len({r.arch_id for r in finished}) == 14
    measured = _measured(ray_runtime)
    assert sum(measured.values()) == 14 and len(measured) == 14
    assert _states(study)[TrialState.RUNNING] == 0
    assert study.seconds["evaluate"] > 0 and study.seconds["driver"] >= 0


def test_a_raising_evaluation_fails_its_trial_and_the_search_goes_on(ray_runtime, tmp_path):
    study = _study(tmp_path / "s.db", strategy="random",
                   evaluator="byo_elastic.sharing:evaluate_or_raise")
    study.optimize(10, workers=2, progress=False)
    results = study.results()
    failed = [r for r in results if not r.ok]
    assert len(study.finished()) == 10
    assert failed and all("ValueError: width 64 is refused" in r.error for r in failed)
    assert all(r.config["width"] == 64 for r in failed)


def test_a_killed_ray_worker_is_replaced_and_its_trial_measured_once(ray_runtime, tmp_path):
    _measured(ray_runtime)
    study = _study(tmp_path / "s.db", strategy="random")
    (ray_runtime / "kill-request").write_text("")
    study.optimize(8, workers=2, progress=False)
    assert not (ray_runtime / "kill-request").exists(), "no worker was killed"
    trials = study.storage.get_all_trials(study._study_id)
    lost = [t for t in trials if t.user_attrs.get("error") == "its worker died mid-evaluation"]
    assert len(lost) == 1 and lost[0].user_attrs["requeued"] is True
    arch_id = lost[0].user_attrs["proposal"]["arch_id"]
    finished = study.finished()
    assert len(finished) == 8 and len({r.arch_id for r in finished}) == 8
    assert [r.arch_id for r in finished].count(arch_id) == 1
    measured = _measured(ray_runtime)
    assert sum(measured.values()) == 8 and len(measured) == 8


def test_a_sub_network_that_kills_its_worker_each_time_fails_after_three_tries(ray_runtime,
                                                                             tmp_path):
    study = _study(tmp_path / "s.db", strategy="random",
                   evaluator="byo_elastic.sharing:evaluate_or_die")
    study.optimize(3, workers=1, progress=False)  # seed 2 proposes widths 24, 16, 64, 32, ...
    trials = study.storage.get_all_trials(study._study_id)
    died = [t for t in trials if t.user_attrs.get("error") == "its worker died mid-evaluation"]
    failed = [r for r in study.results() if not r.ok]
    assert [r.config["width"] for r in failed] == [64]
    assert "its worker died on each of 3 tries" in failed[0].error
    assert [t.params["width"] for t in died] == [64, 64]  # queued again twice, then failed
    assert [r.config["width"] for r in study.finished()] == [24, 16, 32]
    assert _states(study)[TrialState.RUNNING] == 0


def test_workers_that_cannot_import_the_evaluator_stop_the_search_with_the_cause(
        ray_runtime, tmp_path):
    (tmp_path / "only_on_the_driver.py").write_text(textwrap.dedent("""
        from byo_elastic import sharing

        def evaluate(config):
            return sharing.evaluate(config)
    """))
    sys.path.insert(0, str(tmp_path))  # the driver imports it; the workers cannot
    try:
        study = _study(tmp_path / "s.db", strategy="random",
                       evaluator="only_on_the_driver:evaluate")
        with pytest.raises(EvaluationError, match="the Ray workers could not start: .*"
                           "only_on_the_driver.*PYTHONPATH"):
            study.optimize(4, workers=2, progress=False)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("only_on_the_driver", None)
    assert len(study.storage.get_all_trials(study._study_id)) == _states(study)[
        TrialState.WAITING]  # nothing claimed, nothing lost
    assert ray.is_initialized()  # a runtime the caller started is left running


@pytest.mark.parametrize("address", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}"])
def test_a_ray_address_nobody_answers_at_is_one_clear_error(tmp_path, address):
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    command = [str(HWNAS), "search", "--study", str(tmp_path / "s.db"), "--supernet",
               "tiny_elastic_cnn", "--objective", "params", "--objective", "macs",
               "--strategy", "random", "--n-evaluations", "2", "--workers", "2",
               "--ray-address", address.format(port=port), "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "no Ray cluster answers at" in done.stderr + done.stdout
    assert "ray start --head" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_hwnas_search_with_workers_starts_and_stops_its_own_ray(tmp_path):
    study = tmp_path / "s.db"
    command = [str(HWNAS), "search", "--study", str(study), "--supernet", "tiny_elastic_cnn",
               "--objective", "params", "--objective", "macs", "--metric", "model_size",
               "--strategy", "random", "--n-evaluations", "6", "--workers", "2",
               "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    loaded = Study.load(study)
    assert len(loaded.finished()) == 6
    assert _states(loaded)[TrialState.RUNNING] == 0


@pytest.mark.slow
def test_a_killed_ray_driver_loses_nothing_and_a_new_start_completes(tmp_path):
    """kill -9 of the driver while its Ray workers measure: the finished results stay, its
    in-flight trials are queued again by the next start, which completes the search."""
    import time

    import optuna

    study, n = tmp_path / "s.db", 12
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(BYO), os.environ.get(
        "PYTHONPATH", "")]), BYO_SHARING_DIR=str(tmp_path), BYO_SLEEP="0.5")
    command = [sys.executable, "-m", "byo_elastic.sharing", str(study), str(n), "0",
               "--strategy", "random", "--workers", "2"]

    def trials():
        storage = optuna.storages.RDBStorage(f"sqlite:///{study}")
        return storage.get_all_trials(storage.get_study_id_from_name("hwnas"))

    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 200
    while not (study.exists() and sum(t.state == TrialState.COMPLETE for t in trials()) >= 3
               and any(t.state == TrialState.RUNNING for t in trials())):
        assert time.monotonic() < deadline and driver.poll() is None
        time.sleep(0.2)
    driver.kill()
    driver.wait()
    in_flight = [t.number for t in trials() if t.state == TrialState.RUNNING]
    before = {t.number: t.values for t in trials() if t.state == TrialState.COMPLETE}
    assert in_flight
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    after = {t.number: t for t in trials()}
    complete = [t for t in after.values() if t.state == TrialState.COMPLETE]
    assert len(complete) == n and len({t.user_attrs["proposal"]["arch_id"]
                                       for t in complete}) == n
    assert all(after[number].values == values for number, values in before.items())
    assert all(after[number].user_attrs.get("requeued") is True for number in in_flight)
    assert not [t for t in after.values() if t.state == TrialState.RUNNING]


@pytest.mark.slow
def test_scaling_benchmark_quick_writes_its_figures(tmp_path):
    out = tmp_path / "scaling.json"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "scaling.py"
    done = subprocess.run([sys.executable, str(script), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    assert set(figures["workers"]) == {"1", "2"} and figures["speedup_2"] > 0
    assert 0 <= figures["driver_overhead_fraction"] < 1
    assert figures["machine"]["load_average_before"] and figures["machine"]["cpu"]
    assert {r["name"] for r in figures["runs"]} == {"in_process", "ray_1", "ray_2", "plain_1",
                                                    "plain_2"}
    assert set(figures["plain_processes"]) == {"1", "2"} and figures["machine_speedup_2"] > 0


@pytest.mark.slow
def test_a_local_runtime_keeps_its_workers_at_the_drivers_priority(tmp_path):
    script = tmp_path / "nice.py"
    script.write_text(textwrap.dedent("""
        import os
        from hwnas.distributed.ray_workers import RayExecutor

        executor = RayExecutor(workers=1)
        executor.start(lambda config: {})
        try:
            print(os.getpriority(os.PRIO_PROCESS, 0),
                  [os.getpriority(os.PRIO_PROCESS, pid) for pid in executor.actor_pids()])
        finally:
            executor.close()
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    driver, workers = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert workers == f"[{driver}]"  # Ray's default would be the driver's + 15
