"""The package itself: a light import, a curated public API, the CLI and the examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kerasdigits
from kerasdigits import cli

ROOT = Path(__file__).resolve().parents[1]


def _run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout.strip()


def test_import_does_not_load_tensorflow_keras_or_numpy_heavy_modules() -> None:
    out = _run_python(
        "import sys, kerasdigits; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))"
    )
    assert out == "[]"


def test_loading_a_dataset_does_not_load_tensorflow() -> None:
    out = _run_python(
        "import sys, kerasdigits; ds = kerasdigits.load_dataset('mnist_sample'); "
        "kerasdigits.normalize(ds.test.images); "
        "print(len(ds.train), 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    assert out == "6000 False False"


def test_all_lists_exactly_the_lazy_and_eager_names() -> None:
    eager = {"DatasetError", "KerasDigitsError", "KerasDigitsWarning", "__version__"}
    assert sorted(kerasdigits.__all__) == sorted(eager | set(kerasdigits._LAZY))


def test_every_public_name_resolves() -> None:
    for name in kerasdigits.__all__:
        assert getattr(kerasdigits, name) is not None, name
    assert set(kerasdigits.__all__) <= set(dir(kerasdigits))


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'lod_mnist'"):
        kerasdigits.lod_mnist  # noqa: B018


def test_version_matches_metadata() -> None:
    from importlib.metadata import version

    assert kerasdigits.__version__ == version("kerasdigits")


def test_py_typed_is_shipped() -> None:
    assert (Path(kerasdigits.__file__).parent / "py.typed").is_file()


# ----------------------------------------------------------------------------- CLI


def test_cli_datasets_lists_every_dataset_and_its_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in kerasdigits.list_datasets():
        assert name in out
    assert "bundled with kerasdigits" in out
    assert "not found; would download from http" in out  # mnist is nowhere in the test env


def test_cli_datasets_shows_env_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from kerasdigits.datasets import write_idx

    folder = tmp_path / "mnist"
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(2, np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((1, 28, 28), np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(1, np.uint8))
    monkeypatch.setenv("KERASDIGITS_DATA_DIR", str(tmp_path))
    assert cli.main(["datasets"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("mnist "))
    assert f"KERASDIGITS_DATA_DIR ({folder})" in line


def test_cli_summary_prints_sizes_and_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["summary", "mnist_sample", "--validation-size", "600"]) == 0
    out = capsys.readouterr().out
    assert "train       5,400 examples" in out
    assert "validation    600 examples" in out
    assert "test        1,000 examples" in out
    assert "bundled with kerasdigits" in out


def test_cli_expected_failure_exits_1_with_a_one_line_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["summary", "mnsit"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kerasdigits: error: unknown dataset 'mnsit'. Did you mean ")
    assert "'mnist'" in err.splitlines()[0]
    assert "Traceback" not in err


def test_cli_not_found_lists_places_searched(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["summary", "mnist", "--no-download"]) == 1
    err = capsys.readouterr().err
    assert "dataset 'mnist' not found" in err
    assert "library cache" in err
    assert "KERASDIGITS_DATA_DIR" in err


@pytest.mark.parametrize(
    "argv", [[], ["bogus"], ["summary"], ["summary", "mnist_sample", "--validation-size", "x"]]
)
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert "usage: kerasdigits" in capsys.readouterr().err


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"kerasdigits {kerasdigits.__version__}"


def test_python_dash_m_runs_the_cli() -> None:
    argv = [sys.executable, "-m", "kerasdigits", "summary", "fashion_mnist_sample"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Ankle boot" in result.stdout


# ----------------------------------------------------------------------------- examples


def test_example_load_dataset_quick() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "load_dataset.py"), "--quick"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "x float32(5400, 784) in [0.0, 1.0]" in result.stdout
    assert "first batch images uint8(128, 28, 28), labels uint8(128,)" in result.stdout


def test_no_function_is_longer_than_80_lines_of_code() -> None:
    """Entry points read as a list of named steps: no function body (docstring aside) > 80."""
    import ast

    root = Path(kerasdigits.__file__).parent
    long = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = node.body
            docstring = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                         and isinstance(body[0].value.value, str))
            first = body[1] if docstring and len(body) > 1 else body[0]
            lines = (node.end_lineno or first.lineno) - first.lineno + 1
            if lines > 80:
                long.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({lines})")
    assert not long, long
