"""A fake phasesweep worker: starts a trainer command the way docs/trainer-protocol.md says (fd 3,
environment, new process group) and holds the conversation, checking every frame like a worker.

Its frame codec is written here again, not imported from the client, so a codec bug on one side
cannot hide behind the same bug on the other. It doubles as the reference for a worker's reading.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

CLIENT_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = CLIENT_ROOT.parents[1]
SCALAR_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
V_BY_D = ("embedding", "embedding_init", "embedding_grad")


class Violation(AssertionError):
    """The trainer broke the protocol: what a worker would kill it for."""


@dataclass(frozen=True)
class Frame:
    header: dict[str, Any]
    payload: bytes = b""

    @property
    def type(self) -> str:
        return str(self.header["type"])

    def matrices(self) -> dict[str, npt.NDArray[Any]]:
        out: dict[str, npt.NDArray[Any]] = {}
        for m in self.header.get("matrices", []):
            dtype = {"float32": "<f4", "float64": "<f8"}[m["dtype"]]
            rows, cols = m["shape"]
            out[m["name"]] = np.frombuffer(
                self.payload, dtype=dtype, count=rows * cols, offset=m["offset"]
            ).reshape(rows, cols)
        return out


def read_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks: list[bytes] = []
    left = n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            if left == n and not chunks:
                return None
            raise Violation(f"the trainer closed the channel inside a frame ({n - left} of {n} bytes)")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket) -> Frame | None:
    """One frame, or None at a clean end of stream."""
    prefix = read_exact(sock, 4)
    if prefix is None:
        return None
    (h,) = struct.unpack(">I", prefix)
    if h > 16 * 1024 * 1024:
        raise Violation(f"header length {h} over 16 MiB")
    raw = read_exact(sock, h)
    if raw is None:
        raise Violation("end of stream after a header length")
    header = json.loads(raw.decode("utf-8"))
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise Violation(f"header is not an object with a string type: {raw[:200]!r}")
    p = header.get("payload", 0)
    if not isinstance(p, int) or isinstance(p, bool) or not 0 <= p < 2**31:
        raise Violation(f"payload: {p!r}")
    payload = read_exact(sock, p) if p else b""
    if p and payload is None:
        raise Violation("end of stream before the payload")
    return Frame(header, payload or b"")


def send(sock: socket.socket, header: Mapping[str, Any], payload: bytes = b"") -> None:
    h = dict(header)
    if payload or "payload" in h:
        h["payload"] = len(payload)
    raw = json.dumps(h).encode("utf-8")
    sock.sendall(struct.pack(">I", len(raw)) + raw + payload)


class TrainerProcess:
    """A trainer started like a worker starts one: the channel on fd 3, PHASESWEEP_* set, stdin
    /dev/null, stdout and stderr captured, in its own process group."""

    def __init__(
        self,
        argv: list[str],
        *,
        cwd: Path | str,
        env: Mapping[str, str] | None = None,
        trial_id: str = "t-test",
        attempt: int = 1,
        timeout: float = 120.0,
        with_channel: bool = True,
    ) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PHASESWEEP_")}
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CLIENT_ROOT), full_env.get("PYTHONPATH")]))
        if with_channel:
            full_env.update(
                {
                    "PHASESWEEP_FD": "3",
                    "PHASESWEEP_PROTOCOL": "1",
                    "PHASESWEEP_TRIAL_ID": trial_id,
                    "PHASESWEEP_ATTEMPT": str(attempt),
                }
            )
        full_env.update(env or {})
        self.stdout = tempfile.TemporaryFile()
        self.stderr = tempfile.TemporaryFile()
        self.sock: socket.socket | None = None
        child: socket.socket | None = None
        if with_channel:
            self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            fd = child.fileno()

            def attach() -> None:  # runs in the child between fork and exec
                if fd == 3:
                    os.set_inheritable(3, True)
                else:
                    os.dup2(fd, 3, inheritable=True)

        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=self.stdout,
            stderr=self.stderr,
            preexec_fn=attach if with_channel else None,
            close_fds=not with_channel,  # with preexec dup2 onto 3, close_fds would close it
            start_new_session=True,
        )
        if child is not None:
            child.close()
        self.timeout = timeout

    def recv(self) -> Frame | None:
        assert self.sock is not None
        return recv(self.sock)

    def send(self, header: Mapping[str, Any], payload: bytes = b"") -> None:
        assert self.sock is not None
        send(self.sock, header, payload)

    def signal_group(self, sig: int = signal.SIGTERM) -> None:
        os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self) -> tuple[int, str, str]:
        try:
            code = self.proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        if self.sock is not None:
            self.sock.close()
        out = []
        for f in (self.stdout, self.stderr):
            f.seek(0)
            out.append(f.read().decode("utf-8", "replace"))
            f.close()
        return code, out[0], out[1]


def make_start(
    config: Mapping[str, Any],
    *,
    seed: int,
    epochs: int,
    first_epoch: int = 0,
    checkpoint_epoch: int | None = None,
    attempt: int = 1,
    device: str = "cpu",
    workdir: str = "/tmp",
) -> dict[str, Any]:
    probes = dict(config.get("probes", {}))
    return {
        "type": "start",
        "protocol": 1,
        "sweep_id": "harness",
        "trial_id": "t-test",
        "attempt": attempt,
        "seed": seed,
        "config": dict(config),
        "params": dict(config.get("params", {})),
        "device": device,
        "epochs": epochs,
        "first_epoch": first_epoch,
        "probes": {"noise_scale": probes.get("noise_scale", 0.1), "probe_set": probes.get("probe_set", 64)},
        "checkpoint": None if checkpoint_epoch is None else {"epoch": checkpoint_epoch},
        "workdir": workdir,
        "payload": 0,
    }


#: What to answer an epoch: "continue", "stop", "checkpoint" (then continue), "checkpoint+stop",
#: "silent" (no answer) or "hangup" (close the channel, as a worker that died).
Policy = Callable[[int], str]


@dataclass
class Run:
    hello: Frame | None = None
    reports: list[Frame] = field(default_factory=list)
    checkpoints: dict[int, bytes] = field(default_factory=dict)
    done: Frame | None = None
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""

    def by_epoch(self) -> dict[int, Frame]:
        return {int(f.header["epoch"]): f for f in self.reports}


def check_epoch(frame: Frame, expected: int, shapes: dict[str, tuple[int, int]]) -> None:
    """The checks a worker makes on an `epoch` frame."""
    h = frame.header
    if h.get("epoch") != expected:
        raise Violation(f"epoch: {h.get('epoch')!r}, expected {expected}")
    scalars = h.get("scalars")
    if not isinstance(scalars, dict) or not isinstance(scalars.get("loss"), (int, float)):
        raise Violation(f"epoch {expected}: scalars.loss missing or not a number")
    for name, v in scalars.items():
        if not SCALAR_NAME.match(name):
            raise Violation(f"epoch {expected}: scalars.{name}: bad name")
        if v is not None and (not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise Violation(f"epoch {expected}: scalars.{name}: {v!r}")
    if h.get("payload", 0) != len(frame.payload):
        raise Violation(f"epoch {expected}: payload")
    for i, m in enumerate(h.get("matrices", [])):
        size = {"float32": 4, "float64": 8}.get(m.get("dtype"))
        if size is None:
            raise Violation(f"epoch {expected}: matrices[{i}].dtype: {m.get('dtype')!r}")
        rows, cols = m["shape"]
        if m["bytes"] != rows * cols * size or m["offset"] < 0 or m["offset"] + m["bytes"] > len(frame.payload):
            raise Violation(f"epoch {expected}: matrices[{i}] ({m['name']}): offset/bytes")
    mats = frame.matrices()
    for name, a in mats.items():
        if not np.isfinite(a).all():
            raise Violation(f"epoch {expected}: matrices.{name}: non-finite value")
        if shapes.setdefault(name, a.shape) != a.shape:
            raise Violation(f"epoch {expected}: matrices.{name}: shape {a.shape}, was {shapes[name]}")
    if "embedding" in mats:
        for name in V_BY_D:
            if name in mats and mats[name].shape != mats["embedding"].shape:
                raise Violation(f"epoch {expected}: matrices.{name}: shape differs from embedding")


def converse(
    trainer: TrainerProcess,
    start: Mapping[str, Any],
    *,
    checkpoint: bytes | None = None,
    policy: Policy = lambda _epoch: "continue",
    on_report: Callable[[TrainerProcess, Frame], None] | None = None,
) -> Run:
    """Holds one attempt's conversation to its end and checks it; returns what the trainer sent."""
    run = Run()
    try:
        hello = trainer.recv()
        if hello is None or hello.type != "hello" or hello.header.get("protocol") != 1:
            raise Violation(f"first frame: {hello!r}, expected hello with protocol 1")
        run.hello = hello
        trainer.send(start, checkpoint or b"")
        expected = int(start["first_epoch"])
        shapes: dict[str, tuple[int, int]] = {}
        while True:
            frame = trainer.recv()
            if frame is None:
                break  # exit before done: a failed attempt, unless we said stop
            if frame.type == "done":
                run.done = frame
                if frame.header.get("status") not in ("completed", "diverged", "failed"):
                    raise Violation(f"done.status: {frame.header.get('status')!r}")
                if frame.header["status"] == "completed" and expected != start["epochs"]:
                    raise Violation(f"done completed after epoch {expected - 1} of {start['epochs'] - 1}")
                if trainer.recv() is not None:
                    raise Violation("a frame after done")
                break
            if frame.type != "epoch":
                raise Violation(f"frame out of turn: {frame.type}")
            check_epoch(frame, expected, shapes)
            run.reports.append(frame)
            if on_report is not None:
                on_report(trainer, frame)
            action = policy(expected)
            if action.startswith("checkpoint"):
                trainer.send({"type": "reply", "action": "checkpoint"})
                ck = trainer.recv()
                if ck is None or ck.type != "checkpoint" or ck.header.get("epoch") != expected:
                    raise Violation(f"expected checkpoint for epoch {expected}, got {ck!r}")
                if "path" in ck.header:
                    run.checkpoints[expected] = Path(ck.header["path"]).read_bytes()
                else:
                    run.checkpoints[expected] = ck.payload
                action = "stop" if action == "checkpoint+stop" else "continue"
            if action == "hangup":  # the worker dies: its end of the channel just closes
                assert trainer.sock is not None
                trainer.sock.shutdown(socket.SHUT_RDWR)
                break
            if action == "silent":
                pass  # no reply at all: the trainer is left waiting (SIGTERM tests)
            else:
                trainer.send({"type": "reply", "action": action, **({"reason": "cancelled"} if action == "stop" else {})})
            expected += 1
            if action == "stop":
                if trainer.recv() is not None:
                    raise Violation("a frame after reply stop")
                break
    except BaseException:
        trainer.kill()  # as a worker does on a violation; the test fails at once, not after a timeout
        raise
    finally:
        run.returncode, run.stdout, run.stderr = trainer.wait()
    return run


def run_trainer(
    argv: list[str],
    *,
    cwd: Path | str,
    config: Mapping[str, Any],
    seed: int,
    epochs: int,
    first_epoch: int = 0,
    checkpoint: bytes | None = None,
    policy: Policy = lambda _epoch: "continue",
    on_report: Callable[[TrainerProcess, Frame], None] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Run:
    """Starts `argv` as one attempt and converses with it; a resume when `checkpoint` is given."""
    start = make_start(
        config,
        seed=seed,
        epochs=epochs,
        first_epoch=first_epoch,
        checkpoint_epoch=None if checkpoint is None else first_epoch - 1,
        attempt=1 if checkpoint is None else 2,
    )
    trainer = TrainerProcess(argv, cwd=cwd, env=env, timeout=timeout)
    return converse(trainer, start, checkpoint=checkpoint, policy=policy, on_report=on_report)


PYTHON = sys.executable


def main() -> None:
    """Runs a trainer standalone through this fake worker and prints its timing as JSON:
    python3 clients/python/tests/harness.py --cwd examples/pytorch --config CONFIG.json \\
        --epochs 300 -- python3 train.py"""
    import argparse
    import resource
    import statistics
    import time

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--cwd", default=".")
    ap.add_argument("--config", required=True, help="a trial config as a JSON file or JSON text")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("argv", nargs="+")
    args = ap.parse_args()
    text = Path(args.config).read_text() if Path(args.config).is_file() else args.config
    stamps: list[float] = []
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    run = run_trainer(
        args.argv,
        cwd=args.cwd,
        config=json.loads(text),
        seed=args.seed,
        epochs=args.epochs,
        on_report=lambda _t, _f: stamps.append(time.perf_counter()),
    )
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    print(
        json.dumps(
            {
                "returncode": run.returncode,
                "done": run.done.header if run.done else None,
                "epochs": len(run.reports),
                "wall_s": round(wall, 3),
                "first_report_s": round(stamps[0] - t0, 3) if stamps else None,
                "ms_per_epoch_median": round(1000 * statistics.median(gaps), 2) if gaps else None,
                "trainer_cpu_s": round(
                    cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime, 3
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
