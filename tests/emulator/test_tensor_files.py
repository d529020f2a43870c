"""Checkpoint and export files, written and read a chunk at a time: safetensors' bytes,
safetensors' files read back, and no write or read moving more than a chunk."""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import struct
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pytest
import safetensors
import safetensors.numpy

from tests.emulator.artifact_support import export
from tests.support.emulator import Api, batch, datum
from weaver_facade.emulator import _export, _store, _tensorfile
from weaver_facade.emulator._base_models import BASE_MODELS
from weaver_facade.emulator._tensorfile import CHUNK_BYTES
from weaver_facade.emulator._trainer import AdamParams, Datum, Trainer

Arrays = dict[str, npt.NDArray[Any]]

# Every dtype the module writes, and the shapes and byte orders numpy may hand it.
EVERY_DTYPE: Arrays = {
    "bool": np.array([[True, False], [False, True]]),
    "u8": np.arange(5, dtype=np.uint8),
    "i8": np.arange(-3, 3, dtype=np.int8),
    "i16": np.arange(4, dtype=np.int16),
    "u16": np.arange(4, dtype=np.uint16),
    "f16": np.linspace(0, 1, 3, dtype=np.float16),
    "i32": np.arange(-2, 4, dtype=np.int32).reshape(2, 3),
    "u32": np.arange(4, dtype=np.uint32),
    "f32": np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2),
    "f64": np.array(2.5),  # no dimension at all
    "i64": np.array([7], dtype=np.int64),
    "u64": np.arange(2, dtype=np.uint64),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "big-endian": np.arange(3, dtype=">i4"),
}


def trained(mode: str) -> Arrays:
    """A weaver-tiny trainer's checkpoint tensors after a step: float32 weights and Adam
    moments, the int64 step."""
    trainer = Trainer(BASE_MODELS["weaver-tiny"], mode, 4 if mode == "lora" else None, 3)
    tokens = np.arange(12, dtype=np.int64)
    trainer.forward_backward([Datum(tokens, (tokens * 7 + 1) % 256, np.ones(12))])
    trainer.optim_step(AdamParams(0.05, 0.9, 0.95, 1e-8, 0.01, 1.0))
    return trainer.state_tensors(include_optimizer=True)


TENSORS = {"every-dtype": EVERY_DTYPE, "lora": trained("lora"), "full_ft": trained("full_ft")}


def saved(tensors: Arrays, metadata: dict[str, str] | None) -> tuple[bytes, int, str]:
    buffer = io.BytesIO()
    size, sha = _tensorfile.save(buffer, tensors, metadata)
    return buffer.getvalue(), size, sha


def parts(data: bytes) -> tuple[int, dict[str, Any], list[str], bytes]:
    """(header length, header, tensor names in header order, the bytes after the header)."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    names = [name for name in header if name != "__metadata__"]
    return length, header, names, data[8 + length :]


def same_arrays(got: Arrays, expected: Arrays) -> None:
    assert sorted(got) == sorted(expected)
    for name, arr in expected.items():
        assert (got[name].dtype, got[name].shape) == (arr.dtype, arr.shape), name
        assert got[name].tobytes() == arr.tobytes(), name


@pytest.mark.parametrize("metadata", [None, {}, {"format": "pt"}], ids=["none", "empty", "one"])
@pytest.mark.parametrize("name", sorted(TENSORS))
def test_the_bytes_are_those_safetensors_writes(name: str, metadata: dict[str, str] | None) -> None:
    tensors = TENSORS[name]
    data, size, sha = saved(tensors, metadata)
    expected = safetensors.numpy.save(tensors, metadata=metadata)
    assert data == expected
    assert (size, sha) == (len(expected), hashlib.sha256(expected).hexdigest())


async def test_a_checkpoint_is_laid_out_as_safetensors_lays_it_out(
    api: Api, data_dir: Path
) -> None:
    """With the emulator's metadata, whose keys safetensors writes in an order of its own
    (a hash map's), the header is the same JSON and the rest the same bytes."""
    model_id = await api.model(mode="full_ft")
    await api.step(model_id, batch())
    ckpt = await api.save(model_id, "weight_and_optimizer")
    path = data_dir / "checkpoints" / f"{ckpt['id']}.safetensors"
    with safetensors.safe_open(path, framework="numpy") as f:
        metadata = f.metadata()
    assert metadata["checkpoint_id"] == ckpt["id"]
    assert metadata["optimizer_step"] == "1"
    ours = parts(path.read_bytes())
    assert ours == parts(
        safetensors.numpy.save(safetensors.numpy.load_file(path), metadata=metadata)
    )


@pytest.mark.parametrize("name", sorted(TENSORS))
def test_a_file_safetensors_wrote_reads_back_the_same(name: str, tmp_path: Path) -> None:
    path = tmp_path / "t.safetensors"
    safetensors.numpy.save_file(TENSORS[name], path, metadata={"format": "pt", "k": "v"})
    with open(path, "rb") as f:
        got, sha = _tensorfile.load(f)
    same_arrays(got, safetensors.numpy.load_file(path))
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()


def _file(header: dict[str, Any], data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


_F32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
_MALFORMED = {
    "truncated": (_file({"a": _F32}, bytes(7)), "its header says"),
    "trailing byte": (_file({"a": _F32}, bytes(9)), "its header says"),
    "header past the end": (struct.pack("<Q", 100) + b"{}", "does not fit the file"),
    "header not JSON": (struct.pack("<Q", 5) + b"{nope", "not JSON"),
    "header a list": (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    # Deeper than json's parser goes: its RecursionError is no ValueError.
    "header nested too deep": (struct.pack("<Q", 10**6) + b"[" * 500_000 + b"]" * 500_000, "JSON"),
    "unknown dtype": (_file({"a": {**_F32, "dtype": "F99"}}, bytes(8)), "no dtype F99"),
    "shape not numbers": (_file({"a": {**_F32, "shape": ["2"]}}, bytes(8)), "whole numbers"),
    "no offsets": (_file({"a": {"dtype": "F32", "shape": [2]}}, bytes(8)), "data_offsets"),
    "a gap": (_file({"a": {**_F32, "data_offsets": [4, 12]}}, bytes(12)), "not where"),
    "overlap": (_file({"a": _F32, "b": _F32}, bytes(8)), "not where"),
    "offsets beside the shape": (_file({"a": {**_F32, "shape": [3]}}, bytes(8)), "not where"),
    # Refused before numpy is asked for a terabyte.
    "huge shape": (
        _file({"a": {**_F32, "shape": [2**38], "data_offsets": [0, 2**40]}}, b""),
        "its header says",
    ),
}


@pytest.mark.parametrize(("data", "words"), list(_MALFORMED.values()), ids=list(_MALFORMED))
def test_a_file_that_is_no_safetensors_file_is_refused(
    data: bytes, words: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with open(path, "rb") as f, pytest.raises(ValueError, match=words):
        _tensorfile.load(f)


class _Writer(io.BufferedWriter):
    def __init__(self, path: Path) -> None:
        super().__init__(io.FileIO(path, "wb"))
        self.moved: list[int] = []

    def write(self, data: Any) -> int:
        self.moved.append(memoryview(data).nbytes)
        return super().write(data)


class _Reader(io.BufferedReader):
    def __init__(self, path: Path) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self.moved: list[int] = []

    def readinto(self, buffer: Any) -> int:
        self.moved.append(memoryview(buffer).nbytes)
        return super().readinto(buffer)


def test_no_write_or_read_moves_more_than_a_chunk(tmp_path: Path) -> None:
    big = np.arange(CHUNK_BYTES // 2 * 5, dtype=np.int16)  # two and a half chunks
    tensors = {**EVERY_DTYPE, "big": big, "bigger": big.astype(np.float32)}
    path = tmp_path / "big.safetensors"
    with _Writer(path) as writer:
        size, _ = _tensorfile.save(writer, tensors, {"format": "pt"})
    assert sum(writer.moved) == size == path.stat().st_size
    assert max(writer.moved) <= CHUNK_BYTES
    with _Reader(path) as reader:
        got, _ = _tensorfile.load(reader)
    assert sum(reader.moved) == size  # every byte went through readinto
    assert max(reader.moved) <= CHUNK_BYTES
    same_arrays(got, safetensors.numpy.load_file(path))


class _Spy:
    """A file of the emulator's, whose writes and reads it counts; checked as it closes."""

    def __init__(self, file: Any, spies: list[_Spy]) -> None:
        self.file, self.name = file, str(file.name)
        self.moved: list[int] = []
        self.size = -1  # until it closes
        spies.append(self)

    def write(self, data: Any) -> int:
        self.moved.append(memoryview(data).nbytes)
        return int(self.file.write(data))

    def readinto(self, buffer: Any) -> int:
        self.moved.append(memoryview(buffer).nbytes)
        return int(self.file.readinto(buffer))

    def read(self, size: int = -1) -> bytes:
        data = bytes(self.file.read(size))
        self.moved.append(len(data))
        return data

    def close(self) -> None:
        self.file.flush()
        self.size = os.fstat(self.file.fileno()).st_size
        self.file.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def test_the_emulator_moves_no_more_than_a_chunk_at_a_time(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The save, the load and both exports of a checkpoint whose tensors are larger than a
    chunk: each of their files' bytes went through the file a chunk at most at a time (one
    write of the whole file, one read of it, held the event loop for seconds)."""
    spies: list[_Spy] = []

    def spied(*args: Any, **kwargs: Any) -> _Spy:
        return _Spy(builtins.open(*args, **kwargs), spies)

    # A rank of 16 makes LoRA's B (16 x 151936 float32) and its moments over a chunk each.
    model_id = await api.model(base_model="weaver-large-vocab", rank=16)
    await api.step(model_id, [datum([0, 151935, 77_777], [151935, 77_777, 5])])
    for module in (_store, _export, _tensorfile):
        monkeypatch.setattr(module, "open", spied, raising=False)
    ckpt = await api.save(model_id, "weight_and_optimizer")
    await api.load(model_id, ckpt["path"], include_optimizer=True)
    for merged in (False, True):
        await api.done(await export(api, ckpt["id"], merge_adapter=merged))
    monkeypatch.undo()

    for spy in spies:
        assert max(spy.moved, default=0) <= CHUNK_BYTES, spy.name
        assert sum(spy.moved) == spy.size, spy.name  # nothing went around the spy
    checkpoint = f"{ckpt['id']}.safetensors"
    opened = [Path(s.name).name for s in spies]
    assert opened.count(f"{checkpoint}.tmp") == 1  # the save
    assert opened.count(checkpoint) == 3  # the load and both exports
    assert {"adapter_model.safetensors", "model.safetensors"} <= set(opened)
    assert max(m for s in spies for m in s.moved) > CHUNK_BYTES // 2


@pytest.mark.parametrize("damage", ["flipped", "truncated", "nested"])
async def test_a_damaged_checkpoint_is_corrupt_to_a_load_and_an_export(
    api: Api, data_dir: Path, damage: str
) -> None:
    """A checkpoint file damaged on disk (a byte changed, cut short, or a header nested
    deeper than json parses) fails a load and an export with `checkpoint_corrupt`, where
    an export of a file cut short, and both of the nested header, failed `internal`."""
    model_id = await api.model()
    await api.step(model_id, batch())
    ckpt = await api.save(model_id, "weight_and_optimizer")
    path = data_dir / "checkpoints" / f"{ckpt['id']}.safetensors"
    data = bytearray(path.read_bytes())
    if damage == "flipped":
        data[-1] ^= 1
    elif damage == "truncated":
        del data[-1]
    else:
        data[:] = _MALFORMED["header nested too deep"][0]
    path.write_bytes(bytes(data))
    load = await api.ok(
        "POST",
        f"/models/{model_id}/load",
        202,
        json={"path": ckpt["path"], "include_optimizer": True},
    )
    for op in (load, await export(api, ckpt["id"])):
        final = await api.wait(op)
        assert (final["status"], final["error_code"]) == ("error", "checkpoint_corrupt"), final
        assert final["error_message"] == "checkpoint file checksum mismatch"
