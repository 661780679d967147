"""The TFLite metadata FlatBuffer writer/reader and the .tflite packing (no conversion here)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasdigits.export import ExportError
from kerasdigits.export._metadata import (
    ASSOCIATED_FILE_TYPES,
    COLOR_SPACES,
    AssociatedFileInfo,
    ModelMetadataInfo,
    TensorMetadataInfo,
    decode_metadata,
    encode_metadata,
)
from kerasdigits.export._pack import (
    model_entries,
    pack_model,
    packed_files,
    schema,
    summarize_model,
)

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
floats32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def tensors(draw: st.DrawFn) -> TensorMetadataInfo:
    content = draw(st.sampled_from([None, "image", "feature"]))
    channels = draw(st.integers(0, 3))
    stats = draw(st.integers(0, 3))
    files = draw(st.lists(
        st.builds(AssociatedFileInfo, name=texts, description=texts,
                  type=st.sampled_from(list(ASSOCIATED_FILE_TYPES)),
                  locale=st.sampled_from(["", "en", "de"])),
        max_size=2,
    ))
    image = content == "image"
    return TensorMetadataInfo(
        name=draw(texts),
        description=draw(texts),
        content=content,
        color_space=draw(st.sampled_from(list(COLOR_SPACES))) if image else None,
        image_size=(draw(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)))
                    if image and draw(st.booleans()) else None),
        mean=tuple(draw(st.lists(floats32, min_size=channels, max_size=channels))),
        std=tuple(draw(st.lists(floats32, min_size=channels, max_size=channels))),
        stats_min=tuple(draw(st.lists(floats32, min_size=stats, max_size=stats))),
        stats_max=tuple(draw(st.lists(floats32, min_size=stats, max_size=stats))),
        associated_files=tuple(files),
    )


@settings(max_examples=60, deadline=None)
@given(
    name=texts, description=texts, version=texts, author=texts, license=texts,
    inputs=st.lists(tensors(), max_size=2), outputs=st.lists(tensors(), max_size=2),
    subgraph=texts,
)
def test_metadata_round_trips(name: str, description: str, version: str, author: str,
                              license: str, inputs: list[TensorMetadataInfo],
                              outputs: list[TensorMetadataInfo], subgraph: str) -> None:
    info = ModelMetadataInfo(name=name, description=description, version=version,
                             author=author, license=license, inputs=tuple(inputs),
                             outputs=tuple(outputs), subgraph_name=subgraph)
    buf = encode_metadata(info)
    assert buf[4:8] == b"M001"
    assert decode_metadata(buf) == info


def _digits_metadata() -> ModelMetadataInfo:
    return ModelMetadataInfo(
        name="digits", description="A digit classifier.", version="3", author="me",
        license="MIT",
        inputs=(TensorMetadataInfo(name="image", description="RGB", content="image",
                                   color_space="RGB", image_size=(28, 28),
                                   mean=(0.0, 0.0, 0.0), std=(255.0, 255.0, 255.0),
                                   stats_min=(0.0, 0.0, 0.0), stats_max=(1.0, 1.0, 1.0)),),
        outputs=(TensorMetadataInfo(name="probabilities", content="feature",
                                    stats_min=(0.0,), stats_max=(1.0,),
                                    associated_files=(AssociatedFileInfo("labels.txt"),)),),
        subgraph_name="digits",
    )


def test_metadata_decodes_with_the_published_schema_reader() -> None:
    """MediaPipe ships code generated from metadata_schema.fbs: it must read our bytes."""
    generated = pytest.importorskip("mediapipe.tasks.metadata.metadata_schema_py_generated")
    buf = encode_metadata(_digits_metadata())
    assert generated.ModelMetadata.ModelMetadataBufferHasIdentifier(buf, 0)
    meta = generated.ModelMetadataT.InitFromPackedBuf(buf, 0)
    assert (meta.name, meta.version, meta.author, meta.license, meta.minParserVersion) == (
        b"digits", b"3", b"me", b"MIT", b"1.0.0")
    tensor = meta.subgraphMetadata[0].inputTensorMetadata[0]
    assert tensor.content.contentPropertiesType == generated.ContentProperties.ImageProperties
    assert tensor.content.contentProperties.colorSpace == generated.ColorSpaceType.RGB
    assert tensor.content.contentProperties.defaultSize.width == 28
    unit = tensor.processUnits[0]
    assert unit.optionsType == generated.ProcessUnitOptions.NormalizationOptions
    assert unit.options.mean.tolist() == [0, 0, 0]
    assert unit.options.std.tolist() == [255, 255, 255]
    assert tensor.stats.max.tolist() == [1, 1, 1]
    out = meta.subgraphMetadata[0].outputTensorMetadata[0]
    assert out.associatedFiles[0].name == b"labels.txt"
    assert out.associatedFiles[0].type == generated.AssociatedFileType.TENSOR_AXIS_LABELS


def test_decode_rejects_other_buffers() -> None:
    with pytest.raises(ExportError, match="file identifier"):
        decode_metadata(b"\x00" * 4 + b"TFL3" + b"\x00" * 16)
    with pytest.raises(ExportError, match="not a TFLite metadata"):
        decode_metadata(b"")


def test_encode_rejects_inconsistent_tables() -> None:
    bad = ModelMetadataInfo(name="x", inputs=(TensorMetadataInfo(name="i", mean=(0.0,)),))
    with pytest.raises(ExportError, match="differ in length"):
        encode_metadata(bad)
    bad_space = ModelMetadataInfo(
        name="x", inputs=(TensorMetadataInfo(name="i", content="image", color_space="BGR"),))
    with pytest.raises(ExportError, match="unknown color space 'BGR'"):
        encode_metadata(bad_space)
    bad_type = ModelMetadataInfo(name="x", outputs=(TensorMetadataInfo(
        name="o", associated_files=(AssociatedFileInfo("l.txt", type="LABELS"),)),))
    with pytest.raises(ExportError, match="unknown associated file type 'LABELS'"):
        encode_metadata(bad_type)


def test_labels_come_from_the_packed_axis_labels_file() -> None:
    meta = _digits_metadata()
    assert meta.labels == ()  # the file is named but not packed
    packed = ModelMetadataInfo(**{**vars(meta), "files": {"labels.txt": b"zero\r\none\n\n"}})
    assert packed.labels == ("zero", "one")


# ------------------------------------------------------------------------------- packing


def _tiny_model() -> bytes:
    """A one-op TFLite model (ADD of the input to itself), built with the schema's API."""
    fb = schema()
    model = fb.ModelT()
    model.version = 3
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.ADD
    model.operatorCodes = [code]
    tensors = []
    for index, name in enumerate(("x", "y")):
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = name, [1, 4], fb.TensorType.FLOAT32, index + 1
        tensors.append(t)
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 0], [1]
    sub = fb.SubGraphT()
    sub.tensors, sub.operators, sub.inputs, sub.outputs = tensors, [op], [0], [1]
    model.subgraphs = [sub]
    model.buffers = [fb.BufferT() for _ in range(3)]
    weights = fb.BufferT()
    weights.data = np.arange(7, dtype=np.uint8)
    model.buffers.append(weights)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_pack_adds_named_buffers_files_and_names() -> None:
    base = _tiny_model()
    out = pack_model(base, entries={"TFLITE_METADATA": b"meta", "other": b"{}"},
                     files={"labels.txt": b"a\nb\n"}, input_name="pixels",
                     output_name="probabilities")
    assert model_entries(out) == {"TFLITE_METADATA": b"meta", "other": b"{}"}
    assert packed_files(out) == {"labels.txt": b"a\nb\n"}
    with zipfile.ZipFile(BytesIO(out)) as archive:
        assert archive.getinfo("labels.txt").compress_type == zipfile.ZIP_STORED
    summary = summarize_model(out)
    assert [t.name for t in summary.inputs] == ["pixels"]
    assert [t.name for t in summary.outputs] == ["probabilities"]
    assert summary.ops == {"ADD": 1}
    assert not summary.custom_ops and not summary.has_variables
    # Re-packing replaces an entry instead of adding a second one, and keeps the files.
    again = pack_model(out, entries={"TFLITE_METADATA": b"new"})
    assert model_entries(again)["TFLITE_METADATA"] == b"new"
    assert list(summarize_model(again).entries) == ["TFLITE_METADATA", "other"]


def test_pack_keeps_buffers_16_byte_aligned() -> None:
    out = pack_model(_tiny_model(), entries={"TFLITE_METADATA": b"x" * 5})
    root = schema().Model.GetRootAs(out, 0)
    for i in range(root.BuffersLength()):
        buffer = root.Buffers(i)
        if buffer.DataLength():
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            assert start % 16 == 0
    assert root.Buffers(3).DataAsNumpy().tolist() == list(range(7))


def test_pack_rejects_non_tflite_bytes() -> None:
    with pytest.raises(ExportError, match="not a TFLite model"):
        pack_model(b"\x00" * 32)
    with pytest.raises(ExportError, match="not a TFLite model"):
        summarize_model(b"PK\x03\x04 not a model")


def test_importing_export_does_not_import_tensorflow() -> None:
    code = ("import sys, kerasdigits.export as e; e.read_metadata; "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------ reading files from elsewhere


def _zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    stream = BytesIO()
    with zipfile.ZipFile(stream, "w", compression=compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return stream.getvalue()


def test_packed_files_refuses_a_member_over_the_limit_before_reading_it() -> None:
    from kerasdigits.export._pack import MAX_PACKED_FILE_BYTES

    size = MAX_PACKED_FILE_BYTES + 1
    model = _tiny_model() + _zip_of({"labels.txt": bytes(size)})
    with pytest.raises(ExportError, match=rf"'labels\.txt' .*{size:,} bytes.*"
                                          rf"{MAX_PACKED_FILE_BYTES:,}"):
        packed_files(model)


def test_packed_files_limits_the_number_and_total_size_of_members(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import kerasdigits.export._pack as pack

    many = _tiny_model() + _zip_of({f"f{i}.txt": b"x" for i in range(pack.MAX_PACKED_FILES + 1)})
    with pytest.raises(ExportError, match=f"{pack.MAX_PACKED_FILES + 1} files.*limit is "
                                          f"{pack.MAX_PACKED_FILES}"):
        packed_files(many)
    monkeypatch.setattr(pack, "MAX_PACKED_TOTAL_BYTES", 100)
    model = _tiny_model() + _zip_of({"a.txt": bytes(60), "b.txt": bytes(60)})
    with pytest.raises(ExportError, match=r"'b\.txt'.* 100 bytes"):
        packed_files(model)


def test_packed_files_refuses_other_compressions_and_encryption() -> None:
    model = _tiny_model() + _zip_of({"labels.txt": b"a\n"}, zipfile.ZIP_BZIP2)
    with pytest.raises(ExportError, match=r"'labels\.txt'.*compression"):
        packed_files(model)
    data = bytearray(model[: len(_tiny_model())] + _zip_of({"labels.txt": b"a\n"}))
    for signature, field in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # general purpose flags
        data[bytes(data).rfind(signature) + field] |= 1
    with pytest.raises(ExportError, match=r"'labels\.txt'.*encrypted"):
        packed_files(bytes(data))


def test_packed_files_turns_a_corrupt_zip_into_export_error() -> None:
    model = bytearray(_tiny_model() + _zip_of({"labels.txt": b"a\nb\n" * 100}))
    start = bytes(model).find(b"PK\x03\x04") + 30 + len("labels.txt")
    model[start: start + 8] = b"\xff" * 8  # garbage deflate stream
    with pytest.raises(ExportError, match="zip"):
        packed_files(bytes(model))


def _file_with_labels(tmp_path: Path, content: bytes) -> Path:
    meta = _digits_metadata()
    out = pack_model(_tiny_model(), entries={"TFLITE_METADATA": encode_metadata(meta)},
                     files={"labels.txt": content})
    path = tmp_path / "labels.tflite"
    path.write_bytes(out)
    return path


def test_read_metadata_limits_labels(tmp_path: Path) -> None:
    from kerasdigits.export import read_metadata
    from kerasdigits.export._metadata import MAX_LABEL_LENGTH, MAX_LABELS

    path = _file_with_labels(tmp_path, b"a\n" * MAX_LABELS)
    assert len(read_metadata(path).labels) == MAX_LABELS
    path = _file_with_labels(tmp_path, b"a\n" * (MAX_LABELS + 1))
    with pytest.raises(ExportError, match=rf"^{path}: .*'labels\.txt'.*{MAX_LABELS:,}"):
        read_metadata(path)
    path = _file_with_labels(tmp_path, b"ok\n" + b"x" * (MAX_LABEL_LENGTH + 1) + b"\n")
    with pytest.raises(ExportError, match=rf"^{path}: .*'labels\.txt'.*line 2.*"
                                          rf"{MAX_LABEL_LENGTH:,}"):
        read_metadata(path)
    path = _file_with_labels(tmp_path, b"\xff\xfe\n")
    with pytest.raises(ExportError, match=rf"^{path}: .*'labels\.txt'.*UTF-8"):
        read_metadata(path)


def test_decode_metadata_limits_its_size_and_shared_tables() -> None:
    from kerasdigits.export._metadata import MAX_METADATA_BYTES

    with pytest.raises(ExportError, match=f"{MAX_METADATA_BYTES:,}"):
        decode_metadata(b"\x00" * 4 + b"M001" + bytes(MAX_METADATA_BYTES))
    # 20,000 output tensors that are all the same table with a 1,000-character name: a
    # 90 KB buffer that would decode to 20 MB of names.
    b = flatbuffers.Builder(1024)
    name = b.CreateString("n" * 1000)
    b.StartObject(7)
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    tensor = b.EndObject()
    b.StartVector(4, 20000, 4)
    for _ in range(20000):
        b.PrependUOffsetTRelative(tensor)
    outputs = b.EndVector()
    b.StartObject(10)
    b.PrependUOffsetTRelativeSlot(3, outputs, 0)
    subgraph = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    b.StartObject(8)
    b.PrependUOffsetTRelativeSlot(3, subgraphs, 0)
    b.Finish(b.EndObject(), file_identifier=b"M001")
    with pytest.raises(ExportError, match="more data than"):
        decode_metadata(bytes(b.Output()))


def _tiny_variant(change: Any) -> bytes:
    fb = schema()
    obj = fb.ModelT.InitFromObj(fb.Model.GetRootAs(_tiny_model(), 0))
    change(obj)
    builder = flatbuffers.Builder(1024)
    builder.Finish(obj.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _external_metadata(obj: Any) -> None:
    entry = schema().MetadataT()
    entry.name, entry.buffer = "far", 3
    obj.buffers[3].data, obj.buffers[3].offset, obj.buffers[3].size = None, 10**6, 10
    obj.metadata = [entry]


def _metadata_entry(buffer: int) -> Any:
    def change(obj: Any) -> None:
        entry = schema().MetadataT()
        entry.name, entry.buffer = "bad", buffer
        obj.metadata = [entry]
    return change


@pytest.mark.parametrize(("change", "message"), [
    (lambda o: setattr(o.subgraphs[0].operators[0], "opcodeIndex", 5), "operator code 5"),
    (lambda o: setattr(o.subgraphs[0].operators[0], "inputs", [0, 9]), "tensor 9"),
    (lambda o: setattr(o.subgraphs[0].operators[0], "outputs", [-2]), "tensor -2"),
    (lambda o: setattr(o.subgraphs[0], "inputs", [7]), "tensor 7"),
    (lambda o: setattr(o.subgraphs[0].tensors[0], "buffer", 99), "buffer 99"),
    (lambda o: setattr(o, "subgraphs", []), "no subgraph"),
    (_metadata_entry(42), "buffer 42"),
    (_external_metadata, "outside the file"),
])
def test_summarize_model_checks_indices_and_offsets(change: Any, message: str) -> None:
    model = _tiny_variant(change)
    with pytest.raises(ExportError, match=message):
        summarize_model(model)
    with pytest.raises(ExportError, match=message):
        model_entries(model)


def test_printable_escapes_controls_and_bidi_overrides() -> None:
    from kerasdigits.export._inspect import printable

    assert printable("plain, ünïcode 数字 ok") == "plain, ünïcode 数字 ok"
    assert printable("a\nb\r\tc\x00\x1b[2J\x7f\x85\x9b") == (
        "a\\nb\\r\\tc\\x00\\x1b[2J\\x7f\\x85\\x9b")
    assert printable("\u202eevil\u202c \u2066x\u2069 \u200f \u2028 \u2029") == (
        "\\u202eevil\\u202c \\u2066x\\u2069 \\u200f \\u2028 \\u2029")


def test_summarize_model_refuses_tables_shared_many_times() -> None:
    """2,000 references to one subgraph of 2,000 operators: 4 million ops from 16 KB."""
    fb = schema()
    b = flatbuffers.Builder(1024)
    fb.OperatorStart(b)
    op = fb.OperatorEnd(b)
    fb.SubGraphStartOperatorsVector(b, 2000)
    for _ in range(2000):
        b.PrependUOffsetTRelative(op)
    operators = b.EndVector()
    fb.SubGraphStart(b)
    fb.SubGraphAddOperators(b, operators)
    graph = fb.SubGraphEnd(b)
    fb.ModelStartSubgraphsVector(b, 2000)
    for _ in range(2000):
        b.PrependUOffsetTRelative(graph)
    graphs = b.EndVector()
    fb.OperatorCodeStart(b)
    code = fb.OperatorCodeEnd(b)
    fb.ModelStartOperatorCodesVector(b, 1)
    b.PrependUOffsetTRelative(code)
    codes = b.EndVector()
    fb.ModelStart(b)
    fb.ModelAddSubgraphs(b, graphs)
    fb.ModelAddOperatorCodes(b, codes)
    b.Finish(fb.ModelEnd(b), file_identifier=b"TFL3")
    with pytest.raises(ExportError, match="references more data than its"):
        summarize_model(bytes(b.Output()))
