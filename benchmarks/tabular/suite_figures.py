"""Print the true-front figures of every packaged table, task by task (JSON lines).

    .venv/bin/python benchmarks/tabular/suite_figures.py

Per task: front size, the range of every objective over the table and over the front, the
table-worst reference point, the front's hypervolume, and the share of it that the single
most accurate sub-network holds alone (a front where that share is near 1 is trivial:
measuring the best network first wins).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_oneshot_table import front_figures  # noqa: E402

from hwnas.tabular import BENCHMARKS, load_benchmark  # noqa: E402


def main() -> None:
    for name in BENCHMARKS.names():
        bench = load_benchmark(name)
        for task, objectives in bench.tasks.items():
            print(json.dumps({"table": name, "task": task, **front_figures(bench, objectives)}))


if __name__ == "__main__":
    main()
