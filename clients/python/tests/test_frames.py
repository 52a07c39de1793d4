"""The frame codec against hand-built bytes, and the Trial's local checks, in-process."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator, Mapping

import numpy as np
import pytest

import phasesweep
from phasesweep.frames import (
    NonFiniteMatrix,
    encode_frame,
    pack_matrices,
    recv_frame,
    send_frame,
    unpack_matrices,
)


def test_frame_layout_is_big_endian_length_json_payload() -> None:
    raw = encode_frame({"type": "checkpoint", "epoch": 3}, b"\x00\x01\x02")
    (h,) = struct.unpack(">I", raw[:4])
    assert raw[:4] == h.to_bytes(4, "big")
    assert json.loads(raw[4 : 4 + h].decode()) == {"type": "checkpoint", "epoch": 3, "payload": 3}
    assert raw[4 + h :] == b"\x00\x01\x02"


def test_headers_refuse_nan_and_need_a_type() -> None:
    with pytest.raises(ValueError):
        encode_frame({"type": "epoch", "scalars": {"loss": float("nan")}})
    with pytest.raises(ValueError):
        encode_frame({"epoch": 1})


def test_matrices_are_little_endian_row_major_back_to_back() -> None:
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    b = np.arange(4, dtype=np.float64).reshape(4, 1) / 3
    c = np.array([[0.5, -1.5]], dtype=np.float16)  # sent as float32
    packed = pack_matrices({"a": a, "b": b.T, "c": c})
    assert packed.table == [
        {"name": "a", "dtype": "float32", "shape": [2, 3], "offset": 0, "bytes": 24},
        {"name": "b", "dtype": "float64", "shape": [1, 4], "offset": 24, "bytes": 32},
        {"name": "c", "dtype": "float32", "shape": [1, 2], "offset": 56, "bytes": 8},
    ]
    payload = b"".join(packed.parts)
    assert packed.size == len(payload) == 64
    assert payload[:24] == struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    assert payload[24:56] == struct.pack("<4d", *(b[:, 0]))  # the transposed view, row-major
    out = unpack_matrices({"matrices": packed.table}, payload)
    assert out["a"].dtype == np.float32 and np.array_equal(out["a"], a)
    assert out["b"].dtype == np.float64 and np.array_equal(out["b"], b.T)
    assert np.array_equal(out["c"], c.astype(np.float32))


def test_torch_tensors_are_packed_like_arrays() -> None:
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).T  # non-contiguous
    w = torch.nn.Parameter(torch.ones(2, 2, dtype=torch.bfloat16))
    packed = pack_matrices({"t": t, "w": w})
    payload = b"".join(packed.parts)
    assert payload[:24] == struct.pack("<6f", 0, 3, 1, 4, 2, 5)
    assert packed.table[1]["dtype"] == "float32" and payload[24:] == struct.pack("<4f", 1, 1, 1, 1)


def test_non_finite_and_non_2d_matrices_are_refused() -> None:
    with pytest.raises(NonFiniteMatrix) as err:
        pack_matrices({"ok": np.ones((2, 2)), "embedding": np.array([[1.0, np.nan]])})
    assert err.value.name == "embedding"
    with pytest.raises(ValueError, match="2-D"):
        pack_matrices({"v": np.ones(3)})
    with pytest.raises(ValueError, match="non-empty"):
        pack_matrices({"e": np.ones((0, 3))})


@pytest.fixture()
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    yield a, b
    a.close()
    b.close()


def test_recv_frame_reads_what_send_frame_wrote(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    send_frame(a, {"type": "epoch", "epoch": 0}, [b"ab", b"", memoryview(b"cd")])
    frame = recv_frame(b)
    assert frame.header == {"type": "epoch", "epoch": 0, "payload": 4} and frame.payload == b"abcd"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (struct.pack(">I", 16 * 1024 * 1024 + 1), "16 MiB"),
        (struct.pack(">I", 5) + b"nope!", "JSON"),
        (struct.pack(">I", 2) + b"[]", "string field 'type'"),
        (struct.pack(">I", 29) + b'{"type":"reply","payload":-1}', "payload"),
    ],
)
def test_malformed_frames_are_protocol_errors(
    pair: tuple[socket.socket, socket.socket], raw: bytes, message: str
) -> None:
    a, b = pair
    a.sendall(raw)
    with pytest.raises(phasesweep.ProtocolError, match=message):
        recv_frame(b)


def test_a_closed_channel_is_reported(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(struct.pack(">I", 10) + b'{"ty')
    a.close()
    with pytest.raises(phasesweep.ChannelClosed):
        recv_frame(b)


# -- Trial in-process: the worker's frames are queued before the trainer reads them ---------------

START = {
    "type": "start",
    "protocol": 1,
    "sweep_id": "s",
    "trial_id": "t",
    "attempt": 1,
    "seed": 5,
    "config": {"params": {"h": 1}, "probes": {"noise_scale": 0.2, "probe_set": 8}},
    "params": {"h": 1},
    "device": "cpu",
    "epochs": 3,
    "first_epoch": 0,
    "probes": {"noise_scale": 0.2, "probe_set": 8},
    "checkpoint": None,
    "workdir": "/tmp",
    "payload": 0,
}


def connect_to(
    monkeypatch: pytest.MonkeyPatch, *frames: Mapping[str, object]
) -> tuple[phasesweep.Trial, socket.socket]:
    worker, trainer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    for f in frames:
        worker.sendall(encode_frame(f))
    worker.shutdown(socket.SHUT_WR)  # past the queued frames the trainer reads EOF, never hangs
    monkeypatch.setenv("PHASESWEEP_FD", str(trainer.detach()))
    return phasesweep.connect(handle_sigterm=False), worker


def test_trial_exposes_start(monkeypatch: pytest.MonkeyPatch) -> None:
    trial, worker = connect_to(monkeypatch, START)
    assert (trial.seed, trial.epochs, trial.first_epoch, trial.device) == (5, 3, 0, "cpu")
    assert trial.params == {"h": 1} and trial.probes == phasesweep.ProbeSettings(0.2, 8)
    assert trial.checkpoint is None and trial.state == "running"
    assert trial.seed_for("data") == phasesweep.derive_seed(5, "data") != trial.seed_for("init")
    hello = recv_frame(worker)
    assert hello.header["type"] == "hello" and hello.header["protocol"] == 1
    worker.close()


def test_local_mistakes_are_caught_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {"type": "reply", "action": "continue"}
    trial, worker = connect_to(monkeypatch, START, reply)
    with pytest.raises(ValueError, match="next epoch to report is 0"):
        trial.report(1, {"loss": 1.0})
    with pytest.raises(ValueError, match="'loss'"):
        trial.report(0, {"acc": 1.0})
    with pytest.raises(ValueError, match="scalar name"):
        trial.report(0, {"loss": 1.0, "bad name": 2.0})
    with pytest.raises(ValueError, match="the worker computes it"):
        trial.report(0, {"loss": 1.0, "eff_rank": 2.0})
    with pytest.raises(ValueError, match="one or the other"):
        trial.report(0, {"loss": 1.0, "grad_norm": 2.0}, {"embedding_grad": np.ones((2, 2))})
    with pytest.raises(RuntimeError, match="not reported"):
        trial.done()
    assert trial.report(0, {"loss": 1.0}, {"embedding": np.ones((2, 2))}) == "continue"
    with pytest.raises(ValueError, match="shapes must not change"):
        trial.report(1, {"loss": 1.0}, {"embedding": np.ones((3, 2))})
    recv_frame(worker)  # hello
    sent = recv_frame(worker)
    assert sent.header["epoch"] == 0 and sent.header["scalars"] == {"loss": 1.0}
    worker.close()


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        ({"type": "reply", "action": "restart"}, phasesweep.ProtocolError, "reply.action"),
        ({"type": "start"}, phasesweep.ProtocolError, "expected a 'reply'"),
        ({"type": "reply", "action": "checkpoint"}, phasesweep.PhasesweepError, "on_checkpoint"),
    ],
)
def test_bad_replies_raise(
    monkeypatch: pytest.MonkeyPatch, reply: dict[str, object], error: type[Exception], message: str
) -> None:
    trial, worker = connect_to(monkeypatch, START, reply)
    with pytest.raises(error, match=message):
        trial.report(0, {"loss": 0.5})
    worker.close()


def test_start_of_another_protocol_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(phasesweep.ProtocolError, match="protocol"):
        connect_to(monkeypatch, {**START, "protocol": 2})


def test_no_phasesweep_fd_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHASESWEEP_FD", raising=False)
    with pytest.raises(phasesweep.NotUnderPhasesweep, match="PHASESWEEP_FD is not set.*phasesweep run"):
        phasesweep.connect()
    monkeypatch.setenv("PHASESWEEP_FD", "three")
    with pytest.raises(phasesweep.NotUnderPhasesweep, match="not an open socket"):
        phasesweep.connect()
