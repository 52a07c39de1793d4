"""Frame codec of the trainer protocol: u32 big-endian header length, UTF-8 JSON header, payload.

Also packs matrices into an `epoch` payload (little-endian, row-major, float32/float64 with an
offset/bytes table) and unpacks them again. No torch import here: tensors are recognised by shape.
"""

from __future__ import annotations

import json
import math
import socket
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from .errors import ChannelClosed, ProtocolError

HEADER_LIMIT = 16 * 1024 * 1024
PAYLOAD_LIMIT = 2**31 - 1
_LENGTH = struct.Struct(">I")
_DTYPES: Mapping[str, np.dtype[Any]] = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8")}

Buffer = Union[bytes, bytearray, memoryview]
#: A 2-D numpy array, a 2-D torch tensor, or anything numpy.asarray turns into a 2-D array.
MatrixLike = Any


@dataclass(frozen=True)
class Frame:
    header: dict[str, Any]
    payload: bytes = b""

    @property
    def type(self) -> str:
        return str(self.header["type"])


class NonFiniteMatrix(ValueError):
    """A matrix holds NaN or ±inf: the protocol forbids sending it (the client reports divergence)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"matrix {name!r} has non-finite values")
        self.name = name


@dataclass
class PackedMatrices:
    table: list[dict[str, Any]] = field(default_factory=list)
    parts: list[bytes] = field(default_factory=list)
    size: int = 0


def encode_header(header: Mapping[str, Any]) -> bytes:
    """The length prefix and JSON of a header; NaN/inf are refused (JSON cannot carry them)."""
    if not isinstance(header.get("type"), str):
        raise ValueError("a frame header needs a string field 'type'")
    data = json.dumps(header, allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(data) > HEADER_LIMIT:
        raise ValueError(f"frame header is {len(data)} bytes, over the protocol's 16 MiB")
    return _LENGTH.pack(len(data)) + data


def encode_frame(header: Mapping[str, Any], payload: Buffer = b"") -> bytes:
    """One whole frame as bytes; `header.payload` is set from the payload when there is one."""
    h = dict(header)
    if len(payload) > 0 or "payload" in h:
        h["payload"] = len(payload)
    return encode_header(h) + bytes(payload)


def send_frame(sock: socket.socket, header: Mapping[str, Any], parts: Iterable[Buffer] = ()) -> None:
    """Writes one frame; the payload is the concatenation of `parts` (not copied into one buffer)."""
    chunks = [p for p in parts if len(p) > 0]
    size = sum(len(p) for p in chunks)
    if size > PAYLOAD_LIMIT:
        raise ValueError(f"frame payload is {size} bytes, over the protocol's 2 GiB - 1")
    h = dict(header)
    if size > 0 or "payload" in h:
        h["payload"] = size
    sock.sendall(encode_header(h))
    for chunk in chunks:
        sock.sendall(chunk)


def _read_exact(sock: socket.socket, n: int, what: str) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ChannelClosed(f"the worker closed the channel while the trainer was reading {what}")
        got += k
    return bytes(buf)


def recv_frame(sock: socket.socket) -> Frame:
    """Reads one frame, checking the framing rules (not which type may come when)."""
    (length,) = _LENGTH.unpack(_read_exact(sock, 4, "a frame"))
    if length > HEADER_LIMIT:
        raise ProtocolError(f"frame header length {length} is over the protocol's 16 MiB")
    raw = _read_exact(sock, length, "a frame header")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"frame header is not UTF-8 JSON: {err}") from err
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("frame header is not a JSON object with a string field 'type'")
    size = header.get("payload", 0)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= PAYLOAD_LIMIT:
        raise ProtocolError(f"frame field 'payload' is {size!r}, not an integer in 0 … 2^31 - 1")
    payload = _read_exact(sock, size, "a frame payload") if size else b""
    return Frame(header, payload)


def as_array(value: MatrixLike) -> npt.NDArray[Any]:
    """A host numpy view of a tensor or array-like, without importing torch."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        tensor = value.detach()
        if getattr(tensor, "is_sparse", False):
            tensor = tensor.to_dense()
        if str(tensor.dtype) not in ("torch.float32", "torch.float64"):
            tensor = tensor.float()  # float16, bfloat16, ints: float32 on the wire
        return np.asarray(tensor.cpu().numpy())
    return np.asarray(value)


def pack_matrices(matrices: Mapping[str, MatrixLike]) -> PackedMatrices:
    """The `matrices` table and payload parts, in the mapping's order, back to back.

    float64 stays float64; every other dtype is sent as float32. Raises NonFiniteMatrix on NaN/inf.
    """
    packed = PackedMatrices()
    for name, value in matrices.items():
        array = as_array(value)
        if array.ndim != 2 or 0 in array.shape:
            shape = list(array.shape)
            raise ValueError(f"matrix {name!r} has shape {shape}: the protocol sends non-empty 2-D matrices")
        dtype = _DTYPES["float64"] if array.dtype == np.float64 else _DTYPES["float32"]
        data = np.ascontiguousarray(array, dtype=dtype)
        if not np.isfinite(data).all():
            raise NonFiniteMatrix(name)
        raw = data.tobytes(order="C")
        packed.table.append(
            {
                "name": name,
                "dtype": "float64" if dtype == _DTYPES["float64"] else "float32",
                "shape": [int(data.shape[0]), int(data.shape[1])],
                "offset": packed.size,
                "bytes": len(raw),
            }
        )
        packed.parts.append(raw)
        packed.size += len(raw)
    return packed


def unpack_matrices(header: Mapping[str, Any], payload: bytes) -> dict[str, npt.NDArray[Any]]:
    """The matrices of an `epoch` frame by name, checked against the table (a worker's reading)."""
    out: dict[str, npt.NDArray[Any]] = {}
    for i, entry in enumerate(header.get("matrices") or []):
        where = f"matrices[{i}]"
        dtype = _DTYPES.get(entry.get("dtype"))
        if dtype is None:
            raise ProtocolError(f"{where}.dtype: {entry.get('dtype')!r} is not float32 or float64")
        rows, cols = entry["shape"]
        offset, size = entry["offset"], entry["bytes"]
        if size != rows * cols * dtype.itemsize:
            raise ProtocolError(f"{where}.bytes: {size} is not rows × cols × {dtype.itemsize}")
        if offset < 0 or offset + size > len(payload):
            raise ProtocolError(f"{where}.offset: {offset} + {size} bytes is outside the payload")
        out[str(entry["name"])] = np.frombuffer(payload, dtype=dtype, count=rows * cols, offset=offset).reshape(
            rows, cols
        )
    return out


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
