"""The trainer side of the phasesweep trainer protocol (docs/trainer-protocol.md), version 1.

`connect()` says hello on the channel the worker passed (PHASESWEEP_FD) and returns the `Trial`
from the worker's `start`; `Trial.report()` sends one epoch and follows the reply.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import re
import select
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from types import FrameType, TracebackType
from typing import Any, Literal, SupportsFloat, Union

import numpy as np

from . import __version__
from .errors import ChannelClosed, NotUnderPhasesweep, PhasesweepError, ProtocolError
from .frames import Frame, MatrixLike, NonFiniteMatrix, as_array, pack_matrices, recv_frame, send_frame

PROTOCOL_VERSION = 1

Action = Literal["continue", "stop"]
Status = Literal["completed", "diverged", "failed"]
#: running: reports go out. stopped: the worker (or SIGTERM) ended it, nothing more is sent.
#: finished: `done` was sent.
State = Literal["running", "stopped", "finished"]
#: What a checkpoint callback returns: the bytes themselves, or a file holding them.
CheckpointData = Union[bytes, bytearray, memoryview, "os.PathLike[str]"]
#: A scalar value: a float, int, numpy scalar or 0-d tensor; None means "not computed".
Scalar = Union[SupportsFloat, None]
#: The latent cluster of each embedding row: a sequence of ints, an int array or tensor.
ClustersLike = Any

_SCALAR_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: Probes the worker computes from the matrices: not accepted as scalars.
WORKER_PROBES = frozenset(
    "emb_norm drift rel_drift stability mean_pairwise_cos top5_sv_share eff_rank spectral_entropy "
    "stable_rank grad_drift_ratio cka_prev noise_sensitivity cluster_purity".split()
)
#: The worker ended the conversation without a word (it died, or closed the channel).
_GONE = (ChannelClosed, BrokenPipeError, ConnectionResetError)


@dataclass(frozen=True)
class ProbeSettings:
    """`start.probes`: the std of the probe-set noise and the probe-set size."""

    noise_scale: float
    probe_set: int


class _Interrupted(Exception):
    """SIGTERM while waiting for the worker's reply: the worker wants the trainer gone."""


#: While waiting for a reply, how often to look at the SIGTERM flag (seconds).
_SIGTERM_POLL_S = 0.2


class Trial:
    """One attempt of one trial, as the worker's `start` describes it.

    Use `for epoch in trial:` (it ends when the worker says stop, on divergence or SIGTERM, and
    sends `done completed` after the last epoch) or `report()` with your own loop and `done()`.
    As a context manager, an exception escaping the block is sent as `done failed` first.
    """

    def __init__(self, sock: socket.socket, start: Frame) -> None:
        h = start.header
        try:
            self.protocol: int = int(h["protocol"])
            self.sweep_id: str = str(h["sweep_id"])
            self.trial_id: str = str(h["trial_id"])
            self.attempt: int = int(h["attempt"])
            self.seed: int = int(h["seed"])
            self.config: dict[str, Any] = dict(h["config"])
            self.params: dict[str, Any] = dict(h.get("params") or self.config.get("params") or {})
            self.device: str = str(h.get("device", "cpu"))
            self.epochs: int = int(h["epochs"])
            self.first_epoch: int = int(h["first_epoch"])
            probes = h.get("probes") or self.config.get("probes") or {}
            self.probes = ProbeSettings(float(probes.get("noise_scale", 0.1)), int(probes.get("probe_set", 64)))
            self.workdir: str | None = h.get("workdir")
        except (KeyError, TypeError, ValueError) as err:
            raise ProtocolError(f"start: missing or malformed field: {err}") from err
        if self.protocol != PROTOCOL_VERSION:
            raise ProtocolError(f"start.protocol: {self.protocol}, this client speaks {PROTOCOL_VERSION}")
        ckpt = h.get("checkpoint")
        #: The checkpoint's bytes on resume (`first_epoch` is then its epoch + 1), else None.
        self.checkpoint: bytes | None = start.payload if ckpt is not None else None
        self.checkpoint_epoch: int | None = int(ckpt["epoch"]) if ckpt is not None else None
        #: The raw `start` header, for fields this client does not name.
        self.start: dict[str, Any] = h
        #: Why the trial stopped (`reply.reason`, or "SIGTERM"), once `state` is "stopped".
        self.stop_reason: str | None = None
        self._sock = sock
        self._state: State = "running"
        self._next_epoch = self.first_epoch
        self._on_checkpoint: Callable[[], CheckpointData] | None = None
        self._shapes: dict[str, tuple[int, int]] = {}
        self._clusters_sent = False
        self._sigterm = False

    # -- state -----------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def next_epoch(self) -> int:
        """The epoch the next `report()` must carry."""
        return self._next_epoch

    def __repr__(self) -> str:
        return (
            f"Trial({self.trial_id!r}, seed={self.seed}, epochs {self.first_epoch}…{self.epochs - 1}, "
            f"device={self.device!r}, state={self._state!r})"
        )

    def seed_for(self, purpose: str) -> int:
        """`derive_seed(trial.seed, purpose)`: one generator's seed, derived from the trial seed."""
        return derive_seed(self.seed, purpose)

    def on_checkpoint(self, fn: Callable[[], CheckpointData]) -> Callable[[], CheckpointData]:
        """Registers what a `checkpoint` reply calls: it returns the state after the epoch just
        reported, as bytes or as the path of a file holding them. Usable as a decorator."""
        self._on_checkpoint = fn
        return fn

    # -- the conversation ------------------------------------------------------------------

    def report(
        self,
        epoch: int,
        scalars: Mapping[str, Scalar],
        matrices: Mapping[str, MatrixLike] | None = None,
        clusters: ClustersLike | None = None,
    ) -> Action:
        """Sends epoch `epoch` (after its optimiser step) and follows the worker's reply.

        A `checkpoint` reply is answered from the `on_checkpoint` callback before returning.
        Returns "stop" when the loop must end: the worker said stop, the loss (or a matrix) is
        not finite (then `done diverged` is sent instead of the report), SIGTERM arrived (then
        nothing is sent), or the channel closed (the worker is gone). Scalars other than `loss`
        that are NaN/inf go out as null.
        """
        self._require_running("report")
        if epoch != self._next_epoch:
            raise ValueError(f"report(epoch={epoch}): the next epoch to report is {self._next_epoch}")
        if self._sigterm:
            return self._stop("SIGTERM")
        if "loss" not in scalars or scalars["loss"] is None:
            raise ValueError(f"report(epoch={epoch}): scalars need 'loss' (the epoch's training loss)")
        values: dict[str, float | None] = {}
        for name, value in scalars.items():
            if not isinstance(name, str) or not _SCALAR_NAME.match(name):
                raise ValueError(f"scalar name {name!r}: use 1-64 characters from A-Z a-z 0-9 _ . -")
            if name in WORKER_PROBES:
                raise ValueError(f"scalar {name!r}: the worker computes it from the matrices; do not send it")
            values[name] = None if value is None else float(value)
        loss = values["loss"]
        assert loss is not None
        if not math.isfinite(loss):
            return self._diverge(f"loss is {_spell(loss)} at epoch {epoch}")
        values = {k: (v if v is None or math.isfinite(v) else None) for k, v in values.items()}
        try:
            packed = pack_matrices(matrices or {})
        except NonFiniteMatrix as err:
            return self._diverge(f"matrix {err.name} has non-finite values at epoch {epoch}")
        if values.get("grad_norm") is not None and "embedding_grad" in (matrices or {}):
            raise ValueError("scalar 'grad_norm' and matrix 'embedding_grad': send one or the other")
        for entry in packed.table:
            shape = (entry["shape"][0], entry["shape"][1])
            if self._shapes.setdefault(entry["name"], shape) != shape:
                raise ValueError(
                    f"matrix {entry['name']!r} has shape {list(shape)} at epoch {epoch}, "
                    f"{list(self._shapes[entry['name']])} before: shapes must not change"
                )
        header: dict[str, Any] = {"type": "epoch", "epoch": epoch, "scalars": values}
        if packed.table:
            header["matrices"] = packed.table
        if clusters is not None and not self._clusters_sent:
            header["clusters"] = [int(c) for c in as_array(clusters).reshape(-1)]
            self._clusters_sent = True
        header["payload"] = packed.size
        try:
            send_frame(self._sock, header, packed.parts)
        except _GONE:
            return self._stop("channel closed")
        self._next_epoch = epoch + 1
        return self._follow_reply(epoch)

    def done(self, status: Status = "completed", reason: str | None = None) -> None:
        """Sends the last frame. Does nothing once the trial has stopped or finished."""
        if self._state != "running":
            return
        if status == "completed" and self._next_epoch < self.epochs:
            raise RuntimeError(
                f"done('completed') with epochs {self._next_epoch}…{self.epochs - 1} not reported; "
                "report every epoch, or send done('failed', reason)"
            )
        header: dict[str, Any] = {"type": "done", "status": status}
        if reason is not None:
            header["reason"] = reason
        self._state = "finished"
        try:
            send_frame(self._sock, header)
        except _GONE:
            pass  # nobody is listening any more

    def __iter__(self) -> Iterator[int]:
        while self._state == "running" and self._next_epoch < self.epochs:
            if self._sigterm:
                self._stop("SIGTERM")
                return
            epoch = self._next_epoch
            yield epoch
            if self._state == "running" and self._next_epoch == epoch:
                raise RuntimeError(f"epoch {epoch} was not reported: call trial.report({epoch}, …) in the loop")
        if self._state == "running":
            self.done("completed")

    def __enter__(self) -> Trial:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._state != "running":
            return
        if exc is not None:
            if isinstance(exc, Exception):
                self._try_done("failed", f"{type(exc).__name__}: {exc}"[:2000])
            return
        if self._next_epoch >= self.epochs:
            self.done("completed")
        else:
            self._try_done("failed", f"the training loop ended before epoch {self._next_epoch} was reported")

    # -- internals -------------------------------------------------------------------------

    def _require_running(self, what: str) -> None:
        if self._state != "running":
            raise RuntimeError(f"{what}(): the trial is {self._state} ({self.stop_reason or 'done sent'})")

    def _stop(self, reason: str | None) -> Action:
        self._state = "stopped"
        self.stop_reason = reason
        return "stop"

    def _diverge(self, reason: str) -> Action:
        self.done("diverged", reason)
        return "stop"

    def _try_done(self, status: Status, reason: str) -> None:
        try:
            self.done(status, reason)
        except OSError:
            pass  # the worker sees the exit instead

    def _recv_reply(self) -> tuple[Literal["continue", "checkpoint", "stop"], str | None]:
        # A worker that sent SIGTERM may never answer: poll, so the flag is seen without a race
        # between the signal and the blocking read.
        while not select.select([self._sock], [], [], _SIGTERM_POLL_S)[0]:
            if self._sigterm:
                raise _Interrupted()
        frame = recv_frame(self._sock)
        if frame.type != "reply":
            raise ProtocolError(f"expected a 'reply' frame, got {frame.type!r}")
        action = frame.header.get("action")
        if action not in ("continue", "checkpoint", "stop"):
            raise ProtocolError(f"reply.action: {action!r} is not continue, checkpoint or stop")
        reason = frame.header.get("reason")
        return action, (str(reason) if reason is not None else None)

    def _follow_reply(self, epoch: int) -> Action:
        try:
            action, reason = self._recv_reply()
            if action == "checkpoint":
                self._send_checkpoint(epoch)
                action, reason = self._recv_reply()
                if action == "checkpoint":
                    raise ProtocolError("reply.action: 'checkpoint' right after a checkpoint frame")
        except _Interrupted:
            return self._stop("SIGTERM")
        except _GONE:
            return self._stop("channel closed")
        if action == "stop":
            return self._stop(reason)
        return self._stop("SIGTERM") if self._sigterm else "continue"

    def _send_checkpoint(self, epoch: int) -> None:
        if self._on_checkpoint is None:
            raise PhasesweepError(
                "the worker asked for a checkpoint but none can be made: register one with "
                "trial.on_checkpoint(lambda: phasesweep.torch.save_state(model, optimizer))"
            )
        data = self._on_checkpoint()
        if isinstance(data, (bytes, bytearray, memoryview)):
            send_frame(self._sock, {"type": "checkpoint", "epoch": epoch}, [data])
        elif isinstance(data, os.PathLike):
            path = os.path.abspath(os.fspath(data))
            send_frame(self._sock, {"type": "checkpoint", "epoch": epoch, "path": path})
        else:
            raise TypeError(f"the checkpoint callback returned {type(data).__name__}: return bytes or a Path")

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._sigterm = True


def derive_seed(seed: int, purpose: str) -> int:
    """A seed for one purpose ("data", "init", "probe-noise", …) from the trial seed: streams that
    never share draws, the same on every run. 63 bits, fit for torch and numpy generators."""
    digest = hashlib.sha256(f"phasesweep/{seed}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _spell(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def library_versions() -> dict[str, str]:
    """What `hello.versions` records: python, numpy, and torch (with CUDA) when installed."""
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    torch = sys.modules.get("torch")
    if torch is not None:
        versions["torch"] = str(torch.__version__)
        cuda = getattr(getattr(torch, "version", None), "cuda", None)
        if cuda:
            versions["cuda"] = str(cuda)
    else:
        try:
            versions["torch"] = metadata.version("torch")
        except metadata.PackageNotFoundError:
            pass
    return versions


def connect(*, handle_sigterm: bool = True, versions: Mapping[str, str] | None = None) -> Trial:
    """Says hello to the worker on PHASESWEEP_FD and returns the trial from its `start`.

    `handle_sigterm`: catch SIGTERM (when its handler is still the default and this is the main
    thread) to stop at the next report. `versions`: extra entries for `hello.versions`.
    """
    raw = os.environ.get("PHASESWEEP_FD")
    if raw is None or raw == "":
        raise NotUnderPhasesweep(
            "PHASESWEEP_FD is not set: this script is a phasesweep trainer and talks to a phasesweep "
            "worker over the file descriptor the worker passes. Run it through a sweep spec "
            "(base.trainer.command) with `phasesweep run SPEC.yaml`, not on its own."
        )
    proto = os.environ.get("PHASESWEEP_PROTOCOL", str(PROTOCOL_VERSION))
    if proto != str(PROTOCOL_VERSION):
        raise NotUnderPhasesweep(f"PHASESWEEP_PROTOCOL={proto}: this client speaks version {PROTOCOL_VERSION}")
    try:
        fd = int(raw)
        sock = socket.socket(fileno=fd)
    except (ValueError, OSError) as err:
        raise NotUnderPhasesweep(f"PHASESWEEP_FD={raw} is not an open socket: {err}") from err
    sock.setblocking(True)
    hello = {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "client": f"phasesweep-python/{__version__}",
        "versions": {**library_versions(), **(versions or {})},
    }
    send_frame(sock, hello)
    start = recv_frame(sock)
    if start.type != "start":
        raise ProtocolError(f"expected 'start' after hello, got {start.type!r}")
    trial = Trial(sock, start)
    if (
        handle_sigterm
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, trial._on_sigterm)
    return trial
