"""The command line hides TensorFlow's native log lines, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kerasdigits._quiet import _pump, is_noise

NOISE = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"I0000 00:00:1796335262.243687   13163 port.cc:153] oneDNN custom operations are on.",
    b"I0000 00:00:1796335262.244147   13163 cudart_stub.cc:31] Could not find cuda drivers",
    b"E0000 00:00:1796335265.738173   13163 cuda_platform.cc:52] failed call to cuInit: INTERNAL",
    b"W0000 00:00:1796335602.342562   21800 tf_tfl_flatbuffer_helpers.cc:364] Ignored output.",
    b"fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32",
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
KEPT = [
    b"kerasdigits: error: run/model.keras: model file not found",
    b"resume: continuing from run/checkpoints/last.keras (epoch 1 of 2)",
    b"Warning: something the user should see",
    b"INFO: our own information",
    b"Epoch 1/2",
    b"43/43 - 1s - 22ms/step - accuracy: 0.7700",
]


@pytest.mark.parametrize("line", NOISE)
def test_native_log_lines_are_noise(line: bytes) -> None:
    assert is_noise(line)


@pytest.mark.parametrize("line", KEPT)
def test_other_lines_are_not(line: bytes) -> None:
    assert not is_noise(line)


def pump(chunks: list[bytes]) -> bytes:
    """Feed ``chunks`` through the filter as separate writes; return what comes out."""
    src_r, src_w = os.pipe()
    dst_r, dst_w = os.pipe()
    thread = threading.Thread(target=_pump, args=(src_r, dst_w))
    thread.start()
    for chunk in chunks:
        os.write(src_w, chunk)
    os.close(src_w)
    thread.join(10)
    os.close(src_r)
    os.close(dst_w)
    out = b""
    while data := os.read(dst_r, 65536):
        out += data
    os.close(dst_r)
    return out


def test_the_filter_drops_noise_and_keeps_the_rest_in_order() -> None:
    lines = [NOISE[0], KEPT[0], NOISE[1], KEPT[1], NOISE[5]]
    text = b"".join(line + b"\n" for line in lines)
    # Split at awkward places: inside a noise line and inside a kept line.
    chunks = [text[:30], text[30:100], text[100:101], text[101:]]
    assert pump(chunks) == KEPT[0] + b"\n" + KEPT[1] + b"\n"


def test_progress_bars_without_newlines_pass_through() -> None:
    chunks = [b"downloading  10%\r", b"downloading  50%\r", b"downloading 100%\n", b"Epoch 1"]
    assert pump(chunks) == b"".join(chunks)


def test_the_cli_is_quiet_and_verbose_shows_the_lines(tmp_path: Path) -> None:
    """In a fresh process, as a user runs it: no native log lines unless --verbose."""
    code = ("import sys, kerasdigits._lazy as l; from kerasdigits.cli import main\n"
            "def cmd(args, out):\n"
            "    l.tensorflow().constant(1.0) + 1\n"
            "    sys.stderr.write('a line of ours\\n')\n"
            "    return 0\n"
            "import kerasdigits.cli as c\n"
            "p = c.build_parser\n"
            "def build():\n"
            "    parser = p()\n"
            "    for action in parser._subparsers._group_actions:\n"
            "        action.choices['datasets'].set_defaults(func=cmd)\n"
            "    return parser\n"
            "c.build_parser = build\n"
            "sys.exit(main(sys.argv[1:]))\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run([sys.executable, "-c", code, "datasets"], capture_output=True,
                           env=env, cwd=tmp_path, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.decode().splitlines() == ["a line of ours"]
    loud = subprocess.run([sys.executable, "-c", code, "--verbose", "datasets"],
                          capture_output=True, env=env, cwd=tmp_path, timeout=300)
    assert loud.returncode == 0, loud.stderr
    assert "a line of ours" in loud.stderr.decode()
    assert any(is_noise(line) for line in loud.stderr.splitlines())
