"""Reading ``.tflite`` files from elsewhere: forged, truncated, bombed and hostile files.

Every reader (``read_metadata``, ``describe_tflite``, ``summarize_model``, ``verify_tflite``)
must either succeed or raise :class:`ExportError` with a one-line message naming the file:
never another exception, never a hang, never a runaway read. The fuzz tests mutate real
exports (truncations, bit flips, byte and 32-bit word overwrites aimed at the header, the root
table, the other tables and vtables, the metadata buffers and the appended zip) with a fixed
seed (``derandomize=True``), so CI runs the same examples every time.
"""

from __future__ import annotations

import io
import re
import struct
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kerasdigits import build
from kerasdigits.cli import main
from kerasdigits.export import ExportError, describe_tflite, export_tflite, read_metadata
from kerasdigits.export._metadata import ModelMetadataInfo, encode_metadata
from kerasdigits.export._pack import (
    EXPORT_INFO_NAME,
    MAX_FILE_BYTES,
    MAX_PACKED_FILE_BYTES,
    METADATA_NAME,
    pack_model,
    schema,
    summarize_model,
)
from kerasdigits.export._verify import verify_tflite

pytestmark = pytest.mark.timeout(300)

LABELS = [str(i) for i in range(10)]


@dataclass(frozen=True)
class Sample:
    """A real export and the byte ranges worth aiming mutations at."""

    name: str
    data: bytes
    regions: tuple[tuple[int, int], ...]  # (start, stop): header, tables, metadata, zip...


def _regions(data: bytes) -> tuple[tuple[int, int], ...]:
    """Header, root table, every gap between large weight buffers, metadata buffers, zip."""
    root = schema().Model.GetRootAs(data, 0)
    size = len(data)
    weights = []
    entries = []
    for i in range(root.BuffersLength()):
        buffer = root.Buffers(i)
        if buffer.DataLength():
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            span = (start - 4, start + buffer.DataLength())
            (weights if buffer.DataLength() > 256 else entries).append(span)
    for i in range(root.MetadataLength()):
        buffer = root.Buffers(root.Metadata(i).Buffer())
        if buffer.DataLength():
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            entries.append((start - 4, start + buffer.DataLength()))
    zip_start = data.find(b"PK\x03\x04")
    regions = [(0, 16), (root._tab.Pos - 64, root._tab.Pos + 64)]
    edge = 0
    for start, stop in sorted(weights):
        if start > edge:
            regions.append((edge, start))
        regions += [(start - 16, start + 16), (stop - 16, stop + 16)]
        edge = max(edge, stop)
    regions.append((edge, zip_start if zip_start > 0 else size))
    regions += entries
    if zip_start > 0:
        regions += [(zip_start, size), (size - 64, size)]
    return tuple((max(0, a), min(size, b)) for a, b in regions if min(size, b) > max(0, a))


@pytest.fixture(scope="module")
def model() -> Any:
    return build("mlp256", preprocessing="unit")  # untrained: only the layout matters


@pytest.fixture(scope="module")
def samples(model: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    folder = tmp_path_factory.mktemp("exports")
    out = {}
    for name, options in (("mlkit_float", {"target": "mlkit", "input_dtype": "float32"}),
                          ("litert_int8", {"target": "litert", "quantization": "int8"})):
        result = export_tflite(model, folder / f"{name}.tflite", labels=LABELS, verify=False,
                               **options)
        data = result.path.read_bytes()
        out[name] = Sample(name, data, _regions(data))
    return out


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzzed.tflite"


# --------------------------------------------------------------------------------- fuzzing

WORDS = (0, 1, 2, 4, 8, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF)


def _mutate(draw: st.DrawFn, sample: Sample) -> bytes:
    data = bytearray(sample.data)
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "word", "mixed"]))
    if kind == "truncate":
        return bytes(data[: draw(st.one_of(st.integers(0, 512), st.integers(0, len(data))))])
    for _ in range(draw(st.integers(1, 6))):
        start, stop = draw(st.sampled_from(sample.regions))
        pos = draw(st.integers(start, stop - 1))
        how = draw(st.sampled_from(["flip", "overwrite", "word"])) if kind == "mixed" else kind
        if how == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif how == "overwrite":
            data[pos] = draw(st.integers(0, 255))
        else:
            value = draw(st.one_of(st.sampled_from(WORDS), st.integers(0, 2**32 - 1),
                                   st.integers(len(data) - 16, len(data) + 16)))
            struct.pack_into("<I", data, min(pos, len(data) - 4), value % 2**32)
    if kind == "mixed" and draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


NET = (struct.error, IndexError, TypeError, AttributeError, UnicodeDecodeError, KeyError)

fuzz_settings = settings(max_examples=200, deadline=2000, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.function_scoped_fixture])


def _must_fail_cleanly(reader: Any, *args: Any) -> None:
    """``reader(*args)`` returns, or raises a one-line ExportError found by the checks."""
    try:
        reader(*args)
    except ExportError as exc:
        error = exc
    else:
        event("read")
        return
    message = str(error)
    event(re.sub(r"[\d,]+|'[^']*'", "#", message.rpartition(".tflite: ")[2])[:60])
    assert "\n" not in message and message
    # The checks found the problem, not the last-resort conversion of a stray error.
    assert not isinstance(error.__cause__, NET), repr(error.__cause__)


@pytest.mark.parametrize("name", ["mlkit_float", "litert_int8"])
@fuzz_settings
@given(data=st.data())
def test_fuzzed_read_metadata_fails_cleanly(name: str, data: st.DataObject,
                                            samples: dict[str, Sample], scratch: Path) -> None:
    scratch.write_bytes(_mutate(data.draw, samples[name]))
    _must_fail_cleanly(read_metadata, scratch)


@pytest.mark.parametrize("name", ["mlkit_float", "litert_int8"])
@fuzz_settings
@given(data=st.data())
def test_fuzzed_describe_tflite_fails_cleanly(name: str, data: st.DataObject,
                                              samples: dict[str, Sample], scratch: Path) -> None:
    scratch.write_bytes(_mutate(data.draw, samples[name]))
    _must_fail_cleanly(describe_tflite, scratch)


@pytest.mark.parametrize("name", ["mlkit_float", "litert_int8"])
@fuzz_settings
@given(data=st.data())
def test_fuzzed_summarize_model_fails_cleanly(name: str, data: st.DataObject,
                                              samples: dict[str, Sample]) -> None:
    _must_fail_cleanly(summarize_model, _mutate(data.draw, samples[name]))


# ------------------------------------------------------------------ hand-made malformed files


def _field(data: bytes, table_pos: int, slot: int) -> int:
    """Absolute position of field ``slot`` of the table at ``table_pos`` (must be present)."""
    vtable = table_pos - struct.unpack_from("<i", data, table_pos)[0]
    offset = struct.unpack_from("<H", data, vtable + 4 + 2 * slot)[0]
    assert offset
    return table_pos + offset


def _patched(data: bytes, pos: int, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into("<I", out, pos, value)
    return bytes(out)


def _malformed(data: bytes) -> dict[str, bytes]:
    root = struct.unpack_from("<I", data, 0)[0]
    subgraphs = _field(data, root, 2)  # Model.subgraphs: a uoffset to the vector
    vector = subgraphs + struct.unpack_from("<I", data, subgraphs)[0]
    graph = vector + 4 + struct.unpack_from("<I", data, vector + 4)[0]
    tensors = _field(data, graph, 0)
    tensor_vector = tensors + struct.unpack_from("<I", data, tensors)[0]
    first_tensor = tensor_vector + 4 + struct.unpack_from("<I", data, tensor_vector + 4)[0]
    name = _field(data, first_tensor, 3)
    name_string = name + struct.unpack_from("<I", data, name)[0]
    return {
        "first 100 bytes": data[:100],
        "header only": data[:8],
        "fake TFL3 header": b"\x00\x00\x00\x00TFL3" + bytes(64),
        "fake TFL3 header, garbage": b"\x0c\x00\x00\x00TFL3" + b"\xff" * 64,
        "root offset past the end": _patched(data, 0, len(data) + 100),
        "root offset 0xffffffff": _patched(data, 0, 0xFFFFFFFF),
        "vtable offset past the end": _patched(data, root, 0x80000000),
        "subgraphs vector too long": _patched(data, vector, 0x7FFFFFFF),
        "subgraphs offset outside": _patched(data, subgraphs, 0xFFFFFFF0),
        "tensors vector too long": _patched(data, tensor_vector, 0x10000000),
        "tensor name runs past the end": _patched(data, name_string, 0x7FFFFFFF),
    }


def test_malformed_files_raise_export_error_naming_the_file(samples: dict[str, Sample],
                                                            model: Any, tmp_path: Path) -> None:
    images = np.zeros((2, 28, 28), np.uint8)
    for sample in samples.values():
        for what, data in _malformed(sample.data).items():
            path = tmp_path / "bad.tflite"
            path.write_bytes(data)
            for reader in (read_metadata, describe_tflite,
                           lambda p: verify_tflite(p, model, images)):
                with pytest.raises(ExportError) as info:
                    reader(path)
                message = str(info.value)
                assert message.startswith(f"{path}: "), (what, message)
                assert "\n" not in message, (what, message)
            with pytest.raises(ExportError):
                summarize_model(data)


def test_cli_inspect_prints_one_line_for_a_malformed_file(samples: dict[str, Sample],
                                                          tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    path = tmp_path / "truncated.tflite"
    path.write_bytes(samples["mlkit_float"].data[:100])
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"kerasdigits: error: {path}: "), err


# ------------------------------------------------------------------- decompression bombs


def _with_zip(model_bytes: bytes, members: dict[str, tuple[int, int]]) -> bytes:
    """``model_bytes`` (zip dropped) + a deflated zip: name -> (zero bytes, chunk size)."""
    flat = model_bytes[: model_bytes.find(b"PK\x03\x04")]
    stream = io.BytesIO()
    stream.write(flat)
    with zipfile.ZipFile(stream, "a", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=9) as archive:
        for name, (size, chunk) in members.items():
            with archive.open(name, "w") as member:
                block = b"0\n" * (chunk // 2)
                for _ in range(size // chunk):
                    member.write(block)
    return stream.getvalue()


@pytest.fixture(scope="module")
def bomb(samples: dict[str, Sample], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's file: an export whose zip holds a deflated 600 MB ``labels.txt``."""
    data = _with_zip(samples["mlkit_float"].data, {"labels.txt": (600 * 2**20, 2**22)})
    assert len(data) < 2 * 2**20
    path = tmp_path_factory.mktemp("bomb") / "bomb.tflite"
    path.write_bytes(data)
    return path


def test_a_zip_bomb_is_refused_before_decompressing(bomb: Path) -> None:
    for reader in (read_metadata, describe_tflite):
        start = time.perf_counter()
        with pytest.raises(ExportError) as info:
            reader(bomb)
        assert time.perf_counter() - start < 5
        message = str(info.value)
        assert message.startswith(f"{bomb}: ")
        assert "'labels.txt'" in message
        assert f"{MAX_PACKED_FILE_BYTES:,}" in message
        assert f"{600 * 2**20:,}" in message  # the declared size, read before decompressing


def test_cli_inspect_refuses_the_zip_bomb_in_one_line(bomb: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert main(["inspect", str(bomb)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "labels.txt" in err


def test_a_zip_member_that_lies_about_its_size_is_refused(samples: dict[str, Sample],
                                                          tmp_path: Path) -> None:
    """The headers say 20 bytes; the deflated stream holds 32 MiB."""
    data = bytearray(_with_zip(samples["mlkit_float"].data, {"labels.txt": (32 * 2**20, 2**20)}))
    for signature, field in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local, central
        header = bytes(data).rfind(signature)
        struct.pack_into("<I", data, header + field, 20)
    path = tmp_path / "liar.tflite"
    path.write_bytes(bytes(data))
    with pytest.raises(ExportError, match=r"labels\.txt"):
        read_metadata(path)


def test_files_over_the_size_limit_are_refused_before_reading(
        samples: dict[str, Sample], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.tflite"
    with big.open("wb") as stream:  # sparse: nothing is written but the last byte
        stream.seek(MAX_FILE_BYTES)
        stream.write(b"\0")
    for reader in (read_metadata, describe_tflite):
        with pytest.raises(ExportError, match=f"{MAX_FILE_BYTES:,}-byte limit"):
            reader(big)
    import kerasdigits.export._pack as pack

    path = tmp_path / "real.tflite"
    path.write_bytes(samples["litert_int8"].data)
    monkeypatch.setattr(pack, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ExportError, match="1,000-byte limit"):
        read_metadata(path)
    # The limit holds while reading too: the size a file declares is not trusted.
    proc = Path("/proc/self/maps")  # a file of size 0 that holds more than 1,000 bytes
    if proc.is_file() and proc.stat().st_size == 0:
        with pytest.raises(ExportError, match="1,000-byte limit"):
            read_metadata(proc)


# ------------------------------------------------------------------- terminal injection

EVIL = "\n  builtin ops only: yes\x1b[2J"


def test_describe_escapes_control_characters_from_the_file(samples: dict[str, Sample],
                                                           tmp_path: Path) -> None:
    meta = ModelMetadataInfo(name="n\x1b]0;title\x07", description=EVIL, author="a\u202eb",
                             license="l\x9bc", version="v\x7f")
    data = samples["mlkit_float"].data
    flat = data[: data.find(b"PK\x03\x04")]
    evil = pack_model(flat, entries={METADATA_NAME: encode_metadata(meta), "x\ry": b"",
                                     EXPORT_INFO_NAME: b'{"model": "m\\n", "target": "t\\r"}'},
                      input_name="in\x1b[1m", output_name="out\n")
    path = tmp_path / "evil.tflite"
    path.write_bytes(evil)
    text = describe_tflite(path)
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "\x9b" not in text and "\x7f" not in text and "\x07" not in text
    assert "description: \\n  builtin ops only: yes\\x1b[2J" in text
    assert text.count("builtin ops only: ") == 2  # the real line, and the escaped one inside
    assert [line for line in text.splitlines() if line.startswith("builtin ops only:")] == [
        next(line for line in text.splitlines() if line.startswith("builtin ops only: yes;"))]
    for shown in ("n\\x1b]0;title\\x07", "a\\u202eb", "l\\x9bc", "v\\x7f", "x\\ry",
                  "in\\x1b[1m", "out\\n"):
        assert shown in text, shown


def test_describe_escapes_labels_and_file_names(samples: dict[str, Sample],
                                                tmp_path: Path) -> None:
    from kerasdigits.export._metadata import AssociatedFileInfo, TensorMetadataInfo

    name = "labels\x1b[31m.txt"
    meta = ModelMetadataInfo(
        name="digits",
        inputs=(TensorMetadataInfo(name="image\u202e"),),
        outputs=(TensorMetadataInfo(name="probs", description="p\x85q",
                                    associated_files=(AssociatedFileInfo(name),)),))
    data = samples["mlkit_float"].data
    flat = data[: data.find(b"PK\x03\x04")]
    evil = pack_model(flat, entries={METADATA_NAME: encode_metadata(meta)},
                      files={name: "zero\x1b[2J\none\u2028two\n".encode()})
    path = tmp_path / "labels.tflite"
    path.write_bytes(evil)
    text = describe_tflite(path)
    for raw in ("\x1b", "\u202e", "\x85", "\u2028"):
        assert raw not in text
    for shown in ("labels\\x1b[31m.txt", "image\\u202e", "p\\x85q", "zero\\x1b[2J",
                  "one\\u2028two"):
        assert shown in text, shown
    assert read_metadata(path).labels == ("zero\x1b[2J", "one\u2028two")  # the data is kept
