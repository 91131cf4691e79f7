"""A user evaluator for the sharing tests, and a worker process that searches with it.

``evaluate`` takes a little time (``BYO_SLEEP`` seconds, default 0.05), appends the
sub-network it measured to ``$BYO_SHARING_DIR/evaluations.log`` when done (so a test counts
real measurements), and kills its own process (SIGKILL) when the test asks for it: the first
evaluation that takes a file ``$BYO_SHARING_DIR/kill-request*`` (an atomic rename) dies. A
request may hold a number K: it is taken only once K evaluations are in the log, so a test
can place its kills in the search without racing the workers.

``python -m byo_elastic.sharing STUDY N START_AT [--strategy S] [--grace G] [--workers W]``
waits until the wall-clock time ``START_AT`` (so several processes start together), creates
the study or joins it (``exist_ok``), and searches it to ``N`` finished evaluations (on
``W`` Ray workers if given).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import time

from hwnas.measure import Measurement
from hwnas.space import Choice, SearchSpace


def space() -> SearchSpace:
    return SearchSpace([Choice("depth", (1, 2, 3, 4)), Choice("width", (8, 16, 24, 32, 48, 64)),
                        Choice("kernel", (3, 5, 7))])


def _logged(folder: str) -> int:
    try:
        with open(os.path.join(folder, "evaluations.log")) as log:
            return sum(1 for _ in log)
    except FileNotFoundError:
        return 0


def _take_a_kill_request(folder: str) -> None:
    for request in sorted(glob.glob(os.path.join(folder, "kill-request*"))):
        if ".taken." in request:
            continue
        try:
            with open(request) as file:
                after = int(file.read().strip() or 0)
        except FileNotFoundError:
            continue
        if _logged(folder) < after:
            continue
        try:
            os.rename(request, f"{request}.taken.{os.getpid()}")
        except OSError:
            continue
        os.kill(os.getpid(), signal.SIGKILL)


def evaluate(config: dict) -> dict[str, Measurement]:
    folder = os.environ.get("BYO_SHARING_DIR")
    if folder:
        _take_a_kill_request(folder)
    time.sleep(float(os.environ.get("BYO_SLEEP", "0.05")))
    cost = config["depth"] * config["width"] * config["kernel"]
    figures = {"accuracy": Measurement(1.0 - 2.0 ** (-cost / 200.0)),
               "latency": Measurement(cost / 100.0)}
    if folder:
        with open(os.path.join(folder, "evaluations.log"), "a") as log:
            log.write(json.dumps({"config": config, "pid": os.getpid()}, sort_keys=True) + "\n")
    return figures


def evaluate_or_raise(config: dict) -> dict[str, Measurement]:
    """:func:`evaluate`, but the widest sub-networks raise (a user evaluator's bug)."""
    if config["width"] == 64:
        raise ValueError("width 64 is refused")
    return evaluate(config)


def evaluate_or_die(config: dict) -> dict[str, Measurement]:
    """:func:`evaluate`, but the widest sub-networks kill their process each time (as one
    that runs out of memory does)."""
    if config["width"] == 64:
        os.kill(os.getpid(), signal.SIGKILL)
    return evaluate(config)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("study")
    parser.add_argument("n", type=int)
    parser.add_argument("start_at", type=float)
    parser.add_argument("--strategy", default="nsga2")
    parser.add_argument("--grace", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="Ray workers")
    args = parser.parse_args()
    from hwnas.study import Study

    time.sleep(max(0.0, args.start_at - time.time()))
    study = Study.create(args.study, space=space(), objectives=["accuracy", "latency"],
                         metrics=[], evaluator="byo_elastic.sharing:evaluate",
                         strategy=args.strategy, strategy_options={"population_size": 8}
                         if args.strategy == "nsga2" else None, seed=1, exist_ok=True,
                         heartbeat_interval=1, grace_period=args.grace)
    study.optimize(args.n, progress=False, workers=args.workers)


if __name__ == "__main__":
    main()
