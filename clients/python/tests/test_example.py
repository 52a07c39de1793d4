"""examples/pytorch/train.py through the fake worker: same seed → the same reports, bit for bit,
and a run resumed from a checkpoint in a fresh process continues exactly as an uninterrupted one."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from harness import PYTHON, REPO_ROOT, Frame, Run, run_trainer

pytest.importorskip("torch")

EXAMPLE = REPO_ROOT / "examples" / "pytorch"
TRAIN = [PYTHON, "train.py"]
EPOCHS = 10


def config(**train: Any) -> dict[str, Any]:
    return {
        "task": {
            "kind": "clustered-tokens",
            "vocab": 32,
            "clusters": 4,
            "seq_len": 6,
            "train_size": 64,
            "val_size": 32,
            "label_noise": 0.1,
        },
        "model": {"d_model": 8, "heads": 2, "layers": 1, "ffn": 16},
        "train": {
            "epochs": EPOCHS,
            "lr": 0.01,
            "weight_decay": 0.1,
            "weight_decay_start_epoch": 2,
            "noise": 0.1,
            "early_stop_epoch": None,
            "batch_size": None,
            **train,
        },
        "probes": {"every": 1, "noise_scale": 0.1, "probe_set": 16},
        "params": {},
    }


VARIANTS = {"full-batch": config(), "minibatch": config(batch_size=24)}


def train(cfg: dict[str, Any], seed: int = 1, **kw: Any) -> Run:
    r = run_trainer(TRAIN, cwd=EXAMPLE, config=cfg, seed=seed, epochs=EPOCHS, timeout=120, **kw)
    assert r.returncode == 0, r.stderr
    return r


def canonical(frame: Frame) -> tuple[str, bytes]:
    """A report without `clusters` (sent again in the first report of every attempt)."""
    header = {k: v for k, v in frame.header.items() if k != "clusters"}
    return json.dumps(header, sort_keys=True), frame.payload


@pytest.fixture(scope="module")
def uninterrupted() -> dict[str, Run]:
    return {name: train(cfg) for name, cfg in VARIANTS.items()}


def test_a_run_reports_every_probe_matrix_and_learns(uninterrupted: dict[str, Run]) -> None:
    r = uninterrupted["full-batch"]
    assert [f.header["epoch"] for f in r.reports] == list(range(EPOCHS))
    assert r.done is not None and r.done.header["status"] == "completed"
    first, last = r.reports[0], r.reports[-1]
    shapes = {k: v.shape for k, v in first.matrices().items()}
    assert shapes == {
        "embedding": (32, 8),
        "embedding_init": (32, 8),
        "embedding_grad": (32, 8),
        "probe_clean": (16, 8),
        "probe_noisy": (16, 8),
    }
    assert "embedding_init" not in last.matrices()
    assert np.bincount(first.header["clusters"]).tolist() == [8, 8, 8, 8]
    for key in ("loss", "train_acc", "val_loss", "val_acc", "grad_norm_total"):
        assert isinstance(last.header["scalars"][key], float), key
    assert last.header["scalars"]["loss"] < first.header["scalars"]["loss"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_same_seed_gives_the_same_reports_bit_for_bit(uninterrupted: dict[str, Run], variant: str) -> None:
    again = train(VARIANTS[variant])
    assert [canonical(f) for f in again.reports] == [canonical(f) for f in uninterrupted[variant].reports]


def test_another_seed_gives_other_reports(uninterrupted: dict[str, Run]) -> None:
    other = train(VARIANTS["full-batch"], seed=2)
    assert canonical(other.reports[3]) != canonical(uninterrupted["full-batch"].reports[3])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_resumed_run_continues_bit_for_bit(uninterrupted: dict[str, Run], variant: str) -> None:
    k = 4
    first = train(VARIANTS[variant], policy=lambda e: "checkpoint+stop" if e == k else "continue")
    assert [f.header["epoch"] for f in first.reports] == list(range(k + 1))
    resumed = train(VARIANTS[variant], first_epoch=k + 1, checkpoint=first.checkpoints[k])
    assert [f.header["epoch"] for f in resumed.reports] == list(range(k + 1, EPOCHS))
    whole = uninterrupted[variant].reports
    assert [canonical(f) for f in resumed.reports] == [canonical(f) for f in whole[k + 1 :]]
    assert resumed.reports[0].header["clusters"] == whole[0].header["clusters"]


def test_modular_addition_runs() -> None:
    cfg = config()
    cfg["task"] = {"kind": "modular-addition", "modulus": 7, "train_fraction": 0.5}
    r = run_trainer(TRAIN, cwd=EXAMPLE, config=cfg, seed=3, epochs=3, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.done is not None and r.done.header["status"] == "completed"
    assert r.reports[0].matrices()["embedding"].shape == (8, 8) and "clusters" not in r.reports[0].header


# -- the tasks, in-process ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_train", EXAMPLE / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_clustered_tokens_follow_the_documented_rule(example: ModuleType) -> None:
    task = {"kind": "clustered-tokens", "vocab": 30, "clusters": 4, "seq_len": 7, "train_size": 500, "val_size": 300}
    data = example.make_task({**task, "label_noise": 0.0}, 8)
    again = example.make_task({**task, "label_noise": 0.0}, 8)
    assert all(np.array_equal(getattr(data, f), getattr(again, f)) for f in ("x_train", "y_train", "clusters"))
    assert sorted(np.bincount(data.clusters).tolist()) == [7, 7, 8, 8]  # balanced, round-robin
    assert data.x_train.shape == (500, 7) and data.x_val.shape == (300, 7) and data.x_train.max() < 30
    for x, y in ((data.x_train, data.y_train), (data.x_val, data.y_val)):
        for row, label in zip(x, y):
            counts = np.bincount(data.clusters[row], minlength=4)
            assert label == int(np.flatnonzero(counts == counts.max())[0])  # ties to the lowest id
    noisy = example.make_task({**task, "label_noise": 0.5}, 8)
    assert np.array_equal(noisy.x_train, data.x_train) and np.array_equal(noisy.y_val, data.y_val)
    assert 0.2 < np.mean(noisy.y_train != data.y_train) < 0.55  # half redrawn, a quarter to the same
    # a dominant cluster per sequence: its share of tokens is well above 1/4
    share = np.mean([np.bincount(data.clusters[r], minlength=4).max() / 7 for r in data.x_train])
    assert share > 0.5


def test_modular_addition_holds_out_the_other_pairs(example: ModuleType) -> None:
    data = example.make_task({"kind": "modular-addition", "modulus": 11, "train_fraction": 0.3}, 4)
    assert len(data.x_train) == int(0.3 * 121) and len(data.x_train) + len(data.x_val) == 121
    pairs = {(a, b) for a, b, _ in np.concatenate([data.x_train, data.x_val]).tolist()}
    assert len(pairs) == 121 and set(data.x_train[:, 2]) == {11} and data.vocab == 12
    assert np.array_equal(data.y_train, (data.x_train[:, 0] + data.x_train[:, 1]) % 11)
    assert data.clusters is None
