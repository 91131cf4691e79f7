"""The same search as the README's CLI commands, through hwnas's Python API: train the
user's super-network (``signal_net.py``) on the user's data (``make_data.py``), search
accuracy against MACs and latency, print the front, export the most accurate front
member to ONNX and check ONNX Runtime against PyTorch.

    python search_api.py [--out runs/api] [--epochs 15] [--evaluations 60]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # so that "signal_net:make_supernet" imports from anywhere

import numpy as np  # noqa: E402
import optuna  # noqa: E402
import torch  # noqa: E402
from make_data import write_npz  # noqa: E402

import hwnas  # noqa: E402

SUPERNET = "signal_net:make_supernet"


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/api"))
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--evaluations", type=int, default=60)
    parser.add_argument("--method", default="sandwich",
                        help="training method: sandwich, progressive, sorted, instatune")
    parser.add_argument("--latency", action=argparse.BooleanOptionalAction, default=True,
                        help="also minimise latency at batch 1 (torch, one thread)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    data = write_npz(args.out / "data.npz")

    report = hwnas.train_supernet(args.out / "supernet.pt", supernet=SUPERNET, data=data,
                                  epochs=args.epochs, method=args.method, progress=False)
    print(f"trained with {report.method} in {report.seconds:.1f} s: test accuracy largest "
          f"{report.test_accuracy_largest:.3f}, smallest {report.test_accuracy_smallest:.3f}")

    objectives = ["accuracy", "macs"] + (["latency@b1:latency:batch_size=1"]
                                         if args.latency else [])
    study = hwnas.Study.create(args.out / "study.db", checkpoint=args.out / "supernet.pt",
                               objectives=objectives, strategy="nsga2",
                               strategy_options={"population_size": 12}, seed=0,
                               overwrite=True)
    study.optimize(args.evaluations, progress=False)
    front = study.pareto_front()
    for result in front:
        figures = ", ".join(f"{k} {result.metrics[k]:.4g}" for k in study.spec.objective_keys)
        print(f"trial {result.number}: {figures}")
    print(f"hypervolume {study.hypervolume():.4g} over {len(study.finished())} sub-networks")

    best = max(front, key=lambda r: r.metrics["accuracy"])
    onnx_file = hwnas.export_subnetwork(args.out / "best.onnx", study=args.out / "study.db",
                                        trial=best.number)
    program = hwnas.export_subnetwork(args.out / "best.pt2", study=args.out / "study.db",
                                      trial=best.number)
    import onnxruntime as ort

    x = torch.from_numpy(np.load(data)["test_x"][:16])
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        expected = torch.export.load(program).module()(x).numpy()
    difference = float(np.abs(got - expected).max())
    print(f"exported trial {best.number} (accuracy {best.metrics['accuracy']:.3f}) to "
          f"{onnx_file}; ONNX Runtime vs PyTorch: max difference {difference:.2e}")
    return {"accuracy": best.metrics["accuracy"], "onnx_difference": difference,
            "front_size": float(len(front)), "hypervolume": study.hypervolume()}


if __name__ == "__main__":
    main(sys.argv[1:])
