"""The client over a real channel: tests/trainers/scripted.py as a subprocess on fd 3, driven by
the fake worker in harness.py. Each test names the part of docs/trainer-protocol.md it checks."""

from __future__ import annotations

import json
import signal
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from harness import PYTHON, Frame, Run, TrainerProcess, converse, make_start, run_trainer
from trainers.scripted import CLUSTERS, expected_report

import phasesweep

HERE = Path(__file__).resolve().parent
SCRIPT = [PYTHON, str(HERE / "trainers" / "scripted.py")]


def config(**params: Any) -> dict[str, Any]:
    return {
        "task": {"kind": "clustered-tokens"},
        "train": {"epochs": 5, "lr": 0.01},
        "probes": {"every": 1, "noise_scale": 0.25, "probe_set": 16},
        "params": params,
        "trainer": {"command": ["python3", "scripted.py"]},
        "resources": {},
    }


TIMEOUT = 20.0  # a hung conversation fails the test in seconds, not minutes


def run(epochs: int = 5, seed: int = 11, **kw: Any) -> Run:
    params = kw.pop("params", {})
    return run_trainer(SCRIPT, cwd=HERE, config=config(**params), seed=seed, epochs=epochs, timeout=TIMEOUT, **kw)


def echo(r: Run) -> dict[str, Any]:
    line = next(x for x in r.stdout.splitlines() if x.startswith("ECHO "))
    return json.loads(line[5:])  # type: ignore[no-any-return]


def test_hello_then_start_fields_reach_the_trial(tmp_path: Path) -> None:
    r = run(epochs=4, params={"echo": True})
    assert r.returncode == 0, r.stderr
    assert r.hello is not None
    hello = r.hello.header
    assert hello["protocol"] == 1 and hello["client"] == f"phasesweep-python/{phasesweep.__version__}"
    assert hello["versions"]["numpy"] == np.__version__ and "python" in hello["versions"]
    try:
        assert hello["versions"]["torch"] == metadata.version("torch")
    except metadata.PackageNotFoundError:
        assert "torch" not in hello["versions"]
    e = echo(r)
    assert e["seed"] == 11 and e["epochs"] == 4 and e["first_epoch"] == 0 and e["device"] == "cpu"
    assert e["params"] == {"echo": True} and e["config"] == config(echo=True)
    assert e["probes"] == [0.25, 16] and e["checkpoint"] is None and e["attempt"] == 1
    assert [f.header["epoch"] for f in r.reports] == [0, 1, 2, 3]
    assert r.done is not None and r.done.header == {"type": "done", "status": "completed"}


def test_reports_carry_scalars_and_bit_exact_matrices() -> None:
    r = run(epochs=4, seed=3)
    assert r.returncode == 0, r.stderr
    for frame in r.reports:
        epoch = frame.header["epoch"]
        scalars, matrices = expected_report(3, epoch)
        got = frame.matrices()
        assert sorted(got) == sorted(matrices)
        for name, want in matrices.items():
            want32 = want if want.dtype == np.float64 else want.astype(np.float32)
            assert got[name].dtype == want32.dtype, name
            assert got[name].tobytes() == want32.tobytes(), name
        assert frame.header["payload"] == sum(a.nbytes for a in matrices.values())
        sent = frame.header["scalars"]
        assert {k: sent[k] for k in scalars} == scalars
        assert sent["val_loss"] == (None if epoch % 2 else 0.5)  # NaN goes out as null
        assert sent["not_computed"] is None
        assert ("clusters" in frame.header) == (epoch == 0)  # first report of the attempt only
    assert r.reports[0].header["clusters"] == CLUSTERS


@pytest.mark.parametrize("as_path", [False, True])
def test_checkpoint_reply_sends_the_callbacks_bytes(tmp_path: Path, as_path: bool) -> None:
    start = make_start(config(ckpt_path=as_path), seed=7, epochs=5, workdir=str(tmp_path))
    trainer = TrainerProcess(SCRIPT, cwd=HERE, timeout=TIMEOUT)
    r = converse(trainer, start, policy=lambda e: "checkpoint" if e in (1, 3) else "continue")
    assert r.returncode == 0, r.stderr
    for epoch in (1, 3):
        assert r.checkpoints[epoch] == f"ckpt|7|{epoch}|".encode() + bytes(range(256))
    assert [f.header["epoch"] for f in r.reports] == [0, 1, 2, 3, 4]
    assert r.done is not None and r.done.header["status"] == "completed"
    assert sorted(p.name for p in tmp_path.iterdir()) == (["ckpt-1.bin", "ckpt-3.bin"] if as_path else [])


def test_resume_hands_over_the_checkpoint_and_starts_after_it() -> None:
    blob = b"\x00saved\xff" * 1000
    r = run(epochs=6, first_epoch=3, checkpoint=blob, params={"echo": True})
    assert r.returncode == 0, r.stderr
    e = echo(r)
    assert bytes.fromhex(e["checkpoint"]) == blob and e["checkpoint_epoch"] == 2 and e["first_epoch"] == 3
    assert [f.header["epoch"] for f in r.reports] == [3, 4, 5]
    assert r.reports[0].header["clusters"] == CLUSTERS  # again: first report of this attempt
    assert "embedding_init" not in r.reports[0].matrices()
    assert r.done is not None and r.done.header["status"] == "completed"


@pytest.mark.parametrize("style", ["iter", "loop", "with"])
def test_stop_reply_ends_the_loop_and_exits_0(style: str) -> None:
    r = run(epochs=10, params={"style": style}, policy=lambda e: "stop" if e == 2 else "continue")
    assert r.returncode == 0, r.stderr
    assert [f.header["epoch"] for f in r.reports] == [0, 1, 2]
    assert r.done is None  # nothing after stop (the harness also checks end of stream)
    assert "after-loop state=stopped reason=cancelled" in r.stdout


def test_checkpoint_then_stop_is_a_hand_over() -> None:
    r = run(epochs=10, policy=lambda e: "checkpoint+stop" if e == 4 else "continue")
    assert r.returncode == 0, r.stderr
    assert list(r.checkpoints) == [4] and len(r.reports) == 5 and r.done is None


def test_sigterm_during_an_epoch_stops_at_the_next_report() -> None:
    def later(trainer: TrainerProcess, frame: Frame) -> None:
        if frame.header["epoch"] == 0:  # the reply goes out now; the signal lands in epoch 1
            threading.Timer(0.25, trainer.signal_group, (signal.SIGTERM,)).start()

    r = run(epochs=10, params={"sleep": 0.6}, on_report=later)
    assert r.returncode == 0, r.stderr
    assert [f.header["epoch"] for f in r.reports] == [0]
    assert r.done is None
    assert "after-loop state=stopped reason=SIGTERM" in r.stdout


def test_sigterm_while_waiting_for_a_reply_exits_at_once() -> None:
    def terminate(trainer: TrainerProcess, frame: Frame) -> None:
        trainer.signal_group(signal.SIGTERM)

    t0 = time.monotonic()
    r = run(epochs=10, on_report=terminate, policy=lambda e: "silent")
    assert r.returncode == 0, r.stderr
    assert len(r.reports) == 1 and r.done is None
    assert "after-loop state=stopped reason=SIGTERM" in r.stdout
    assert time.monotonic() - t0 < 20


def test_a_closed_channel_stops_the_trainer() -> None:
    r = run(epochs=10, policy=lambda e: "hangup" if e == 1 else "continue")
    assert r.returncode == 0, r.stderr
    assert len(r.reports) == 2
    assert "after-loop state=stopped reason=channel closed" in r.stdout


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"nan_at": 3}, "loss is nan at epoch 3"),
        ({"inf_at": 3}, "loss is -inf at epoch 3"),
        ({"nan_matrix_at": 3}, "matrix embedding has non-finite values at epoch 3"),
    ],
)
def test_divergence_sends_done_diverged_instead_of_the_report(params: dict[str, Any], reason: str) -> None:
    r = run(epochs=10, params=params)
    assert r.returncode == 0, r.stderr
    assert [f.header["epoch"] for f in r.reports] == [0, 1, 2]
    assert r.done is not None and r.done.header == {"type": "done", "status": "diverged", "reason": reason}
    assert "after-loop state=finished" in r.stdout


def test_an_exception_in_the_with_block_is_sent_as_done_failed() -> None:
    r = run(epochs=10, params={"style": "with", "raise_at": 2})
    assert r.done is not None
    assert r.done.header == {"type": "done", "status": "failed", "reason": "RuntimeError: boom at epoch 2"}
    assert r.returncode == 1 and "RuntimeError: boom at epoch 2" in r.stderr  # the traceback, for the log


def test_outside_phasesweep_the_trainer_says_how_to_run_it() -> None:
    trainer = TrainerProcess(SCRIPT, cwd=HERE, with_channel=False, timeout=TIMEOUT)
    code, _out, err = trainer.wait()
    assert code == 1
    assert "NotUnderPhasesweep: PHASESWEEP_FD is not set" in err and "phasesweep run" in err
