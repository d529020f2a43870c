"""Safetensors files written and read a chunk at a time: checkpoints and exports.

safetensors' own ``save`` and ``load`` move every byte in one C call that holds the GIL,
and with it the event loop: half a second per 256 MB. The format is simple enough to
write and read here: 8 bytes, the header's length (little-endian); the header, JSON
(``__metadata__`` first, then each tensor's dtype, shape and ``data_offsets``), padded
with spaces to a multiple of 8; then each tensor's bytes, C order, little-endian. Each
``write`` and ``readinto`` moves at most ``CHUNK_BYTES`` and releases the GIL for its
system call, as ``hashlib`` does while it hashes a chunk.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

__all__ = [
    "CHUNK_BYTES",
    "CORRUPT",
    "Entry",
    "load",
    "load_checked",
    "prefix",
    "save",
    "write_chunks",
]

CHUNK_BYTES = 8 * 1024 * 1024
CORRUPT = "checkpoint file checksum mismatch"

# The dtypes numpy has, in safetensors' order of alignment: it writes the widest first.
_DTYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(code)
    for name, code in (
        ("BOOL", "?"),
        ("U8", "u1"),
        ("I8", "i1"),
        ("I16", "<i2"),
        ("U16", "<u2"),
        ("F16", "<f2"),
        ("I32", "<i4"),
        ("U32", "<u4"),
        ("F32", "<f4"),
        ("F64", "<f8"),
        ("I64", "<i8"),
        ("U64", "<u8"),
    )
}
_ALIGNMENT = {name: rank for rank, name in enumerate(_DTYPES)}
_BY_KIND = {(dtype.kind, dtype.itemsize): name for name, dtype in _DTYPES.items()}


@dataclass(frozen=True)
class Entry:
    """A tensor as the header describes it; ``dtype`` is safetensors' name (``F32``)."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * _DTYPES[self.dtype].itemsize


def prefix(entries: Sequence[Entry], metadata: Mapping[str, str] | None) -> bytes:
    """The bytes before the tensors': the header's length and the header, the tensors at
    consecutive offsets in the order of ``entries``."""
    header: dict[str, object] = {} if metadata is None else {"__metadata__": dict(metadata)}
    offset = 0
    for entry in entries:
        end = offset + entry.nbytes
        header[entry.name] = {
            "dtype": entry.dtype,
            "shape": list(entry.shape),
            "data_offsets": [offset, end],
        }
        offset = end
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def write_chunks(f: BinaryIO, data: bytes | npt.NDArray[Any], digest: hashlib._Hash) -> int:
    """Write ``data`` (an array: its C-order bytes) and hash it, a chunk at a time; its
    length."""
    view = (
        np.ascontiguousarray(data).reshape(-1).data
        if isinstance(data, np.ndarray)
        else memoryview(data)
    ).cast("B")
    for start in range(0, len(view), CHUNK_BYTES):
        piece = view[start : start + CHUNK_BYTES]
        f.write(piece)
        digest.update(piece)
    return len(view)


def save(
    f: BinaryIO, tensors: Mapping[str, npt.NDArray[Any]], metadata: Mapping[str, str] | None
) -> tuple[int, str]:
    """Write ``tensors`` into ``f`` as ``safetensors.numpy.save`` lays them out (the widest
    dtype first, then by name); (size, sha256)."""
    arrays = {name: _little_endian(arr) for name, arr in tensors.items()}
    entries = sorted(
        (Entry(name, _dtype_name(arr), arr.shape) for name, arr in arrays.items()),
        key=lambda e: (-_ALIGNMENT[e.dtype], e.name),
    )
    digest = hashlib.sha256()
    size = write_chunks(f, prefix(entries, metadata), digest)
    for entry in entries:
        size += write_chunks(f, arrays[entry.name], digest)
    return size, digest.hexdigest()


def load(f: io.BufferedIOBase) -> tuple[dict[str, npt.NDArray[Any]], str]:
    """The tensors of the safetensors file ``f``, each in an array of its own, and the
    file's sha256. ``ValueError`` for a file that is not one, before any tensor is
    allocated."""
    digest = hashlib.sha256()
    size = os.fstat(f.fileno()).st_size
    head = bytearray(8)
    _read(f, memoryview(head), digest)
    (length,) = struct.unpack("<Q", head)
    if length > min(CHUNK_BYTES, size - 8):
        raise ValueError(f"the header's length {length} does not fit the file")
    raw = bytearray(length)
    _read(f, memoryview(raw), digest)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # nested past the parser's depth
        raise ValueError(f"the header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    header.pop("__metadata__", None)
    try:
        placed = sorted((_entry(name, info) for name, info in header.items()), key=lambda p: p[1])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the header describes a tensor badly: {exc!r}") from exc
    offset = 0
    for entry, (start, end) in placed:
        if (start, end) != (offset, offset + entry.nbytes):
            raise ValueError(f"tensor {entry.name} is not where the header says")
        offset = end
    if 8 + length + offset != size:
        raise ValueError(f"the file has {size} bytes, its header says {8 + length + offset}")
    tensors: dict[str, npt.NDArray[Any]] = {}
    for entry, _ in placed:
        arr = np.empty(entry.shape, _DTYPES[entry.dtype])
        _read(f, arr.reshape(-1).data.cast("B"), digest)
        tensors[entry.name] = arr
    return tensors, digest.hexdigest()


def load_checked(path: Path, sha256: str) -> dict[str, npt.NDArray[Any]]:
    """The tensors of the file at ``path``; ``ValueError`` (``CORRUPT``) unless its bytes
    have ``sha256``. A file that is not a safetensors file is not the one written either."""
    with open(path, "rb") as f:
        try:
            tensors, digest = load(f)
        except ValueError as exc:
            raise ValueError(CORRUPT) from exc
    if digest != sha256:
        raise ValueError(CORRUPT)
    return tensors


def _entry(name: str, info: Any) -> tuple[Entry, tuple[int, int]]:
    """The entry of tensor ``name`` and its offsets; ``KeyError`` or ``TypeError`` if
    ``info`` describes none."""
    dtype, shape, (start, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
    if dtype not in _DTYPES:
        raise KeyError(f"{name}: no dtype {dtype}")
    if not all(type(n) is int and n >= 0 for n in (*shape, start, end)):
        raise TypeError(f"{name}: shape and offsets must be whole numbers")
    return Entry(name, dtype, shape), (start, end)


def _read(f: io.BufferedIOBase, into: memoryview, digest: hashlib._Hash) -> None:
    """Fill ``into`` from ``f`` a chunk at a time, and hash it."""
    for start in range(0, len(into), CHUNK_BYTES):
        piece = into[start : start + CHUNK_BYTES]
        got = 0
        while got < len(piece):
            n = f.readinto(piece[got:])
            if not n:
                raise ValueError("the file ends before its header says")
            got += n
        digest.update(piece)


def _little_endian(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C")


def _dtype_name(arr: npt.NDArray[Any]) -> str:
    name = _BY_KIND.get((arr.dtype.kind, arr.dtype.itemsize))
    if name is None:
        raise ValueError(f"safetensors has no dtype for {arr.dtype}")
    return name
