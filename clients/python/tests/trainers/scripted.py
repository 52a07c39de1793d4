"""A numpy-only trainer whose behaviour the test picks through `params` (no torch: starts fast).

Its reports are a pure function of (seed, epoch), recomputed by the tests as `expected_report`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import phasesweep


def expected_report(seed: int, epoch: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    rng = np.random.default_rng([seed, epoch])
    matrices: dict[str, np.ndarray] = {
        "embedding": rng.standard_normal((6, 4)).astype(np.float32),
        "embedding_grad": rng.standard_normal((6, 4)).astype(np.float32),
        "wide": rng.standard_normal((3, 7)),  # float64 stays float64
    }
    if epoch == 0:
        matrices["embedding_init"] = np.zeros((6, 4), dtype=np.float32)
    scalars: dict[str, Any] = {"loss": 1.0 / (epoch + 1), "train_acc": epoch / 10, "user.metric-1": float(seed)}
    return scalars, matrices


CLUSTERS = [0, 1, 2, 0, 1, 2]


def main() -> None:
    trial = phasesweep.connect()
    p = trial.params
    style = p.get("style", "iter")
    if p.get("echo"):
        print(
            "ECHO "
            + json.dumps(
                {
                    "seed": trial.seed,
                    "params": trial.params,
                    "config": trial.config,
                    "epochs": trial.epochs,
                    "first_epoch": trial.first_epoch,
                    "device": trial.device,
                    "attempt": trial.attempt,
                    "trial_id": trial.trial_id,
                    "probes": [trial.probes.noise_scale, trial.probes.probe_set],
                    "checkpoint": None if trial.checkpoint is None else trial.checkpoint.hex(),
                    "checkpoint_epoch": trial.checkpoint_epoch,
                    "workdir": trial.workdir,
                }
            ),
            flush=True,
        )

    last = {"epoch": -1}

    @trial.on_checkpoint
    def checkpoint() -> bytes | Path:
        data = f"ckpt|{trial.seed}|{last['epoch']}|".encode() + bytes(range(256))
        if p.get("ckpt_path"):
            path = Path(trial.workdir or ".") / f"ckpt-{last['epoch']}.bin"
            path.write_bytes(data)
            return path
        return data

    def one_epoch(epoch: int) -> phasesweep.Action:
        if p.get("sleep"):
            time.sleep(float(p["sleep"]))
        if epoch == p.get("raise_at"):
            raise RuntimeError(f"boom at epoch {epoch}")
        scalars: dict[str, Any]
        scalars, matrices = expected_report(trial.seed, epoch)
        scalars = dict(scalars)
        if epoch == p.get("nan_at"):
            scalars["loss"] = float("nan")
        if epoch == p.get("inf_at"):
            scalars["loss"] = float("-inf")
        if epoch == p.get("nan_matrix_at"):
            matrices["embedding"][2, 1] = np.inf
        scalars["val_loss"] = float("nan") if epoch % 2 else 0.5  # non-finite: sent as null
        scalars["not_computed"] = None
        last["epoch"] = epoch
        return trial.report(epoch, scalars, matrices, clusters=np.array(CLUSTERS))

    if style == "iter":
        for epoch in trial:
            one_epoch(epoch)
    elif style == "loop":
        for epoch in range(trial.first_epoch, trial.epochs):
            if one_epoch(epoch) == "stop":
                break
        trial.done()
    elif style == "with":
        with trial:
            for epoch in range(trial.first_epoch, trial.epochs):
                if one_epoch(epoch) == "stop":
                    break
    print(f"after-loop state={trial.state} reason={trial.stop_reason}", flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
