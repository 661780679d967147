"""The CLI's models, train, evaluate and predict commands: outputs, files and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kerasdigits import cli, load_dataset


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    code = cli.main(["train", "mlp2x512", "--dataset", "mnist_sample", "--epochs", "1",
                     "--out", str(out), "--seed", "0"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def digit_pngs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, int]]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("pngs")
    test = load_dataset("mnist_sample").test
    files = []
    for i in range(8):
        # A phone-photo-like picture: big, dark ink on light paper, RGB, off-centre.
        canvas = np.full((120, 90), 235, np.uint8)
        big = np.asarray(Image.fromarray(test.images[i]).resize((70, 70), Image.BILINEAR))
        canvas[30:100, 5:75] = 235 - (big.astype(np.int32) * 235 // 255)
        path = folder / f"digit{i}.png"
        Image.fromarray(np.stack([canvas] * 3, axis=-1)).save(path)
        files.append((path, int(test.labels[i])))
    return files


def test_train_writes_model_history_and_evaluation(run_dir: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert (run_dir / "model.keras").is_file()
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == 1 and "val_accuracy" in history
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert 0.5 < evaluation["accuracy"] <= 1.0
    assert evaluation["num_examples"] == 1000
    assert np.asarray(evaluation["confusion_matrix"]).sum() == 1000
    assert (run_dir / "checkpoints" / "last.keras").is_file()
    from PIL import Image

    for name in ("history.png", "predictions.png", "confusion.png"):
        with Image.open(run_dir / name) as png:
            pixels = np.asarray(png.convert("L"), dtype=np.float64)
        assert pixels.std() > 5, name  # a real picture, not a blank canvas


def test_evaluate_command_prints_the_table(run_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    expected = json.loads((run_dir / "evaluation.json").read_text())["accuracy"]
    assert cli.main(["evaluate", str(run_dir / "model.keras"), "--dataset", "mnist_sample"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"accuracy {expected:.4f}")
    assert "confusion matrix" in out


def test_predict_command_on_photos(run_dir: Path, digit_pngs: list[tuple[Path, int]],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["predict", str(run_dir / "model.keras"), *(str(p) for p, _ in digit_pngs)]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(digit_pngs)
    right = 0
    for line, (path, label) in zip(lines, digit_pngs, strict=True):
        name, _, rest = line.partition(": ")
        assert name == str(path)
        predicted, prob = rest.split(" (p=")
        assert 0.0 <= float(prob.rstrip(")")) <= 1.0
        right += int(predicted) == label
    assert right >= 6  # one epoch of training; to_mnist makes the photos look like MNIST


def test_predict_no_preprocess_feeds_28x28_pixels(run_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from kerasdigits import load_model, predict

    image = load_dataset("mnist_sample").test.images[3]
    path = tmp_path / "raw.png"
    Image.fromarray(image).save(path)
    assert cli.main(["predict", str(run_dir / "model.keras"), str(path), "--no-preprocess"]) == 0
    label, _ = predict(load_model(run_dir / "model.keras"), image)
    assert capsys.readouterr().out.startswith(f"{path}: {int(label)} (p=")


def test_predict_class_names_from_dataset(run_dir: Path, digit_pngs: list[tuple[Path, int]],
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    # A model saved with plain Keras has no class names: --dataset names them.
    import keras

    import kerasdigits

    plain = tmp_path / "plain.keras"
    keras.saving.save_model(kerasdigits.load_model(run_dir / "model.keras"), plain)
    argv = ["predict", str(plain), str(digit_pngs[0][0]), "--dataset", "fashion_mnist"]
    assert cli.main(argv) == 0
    fashion = load_dataset("fashion_mnist_sample").class_names
    assert capsys.readouterr().out.split(": ", 1)[1].split(" (p=")[0] in fashion


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "mlp2x521", "--dataset", "mnist_sample"], "Did you mean one of 'mlp2x512'"),
        (["train", "mlp256", "--dataset", "mnsit_sample"], "unknown dataset 'mnsit_sample'"),
        (["evaluate", "missing.keras", "--dataset", "mnist_sample"], "model file not found"),
    ],
)
def test_expected_failures_exit_1_with_one_line(argv: list[str], message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("kerasdigits: error: ")
    assert message in err.splitlines()[0]
    assert "Traceback" not in err


def test_predict_bad_image_file(run_dir: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert cli.main(["predict", str(run_dir / "model.keras"), str(bad)]) == 1
    assert f"{bad}: not a picture Pillow can read" in capsys.readouterr().err
    assert cli.main(["predict", str(run_dir / "model.keras"), str(tmp_path / "nope.png")]) == 1
    assert "no such file" in capsys.readouterr().err
    # A blank picture, a decompression bomb: one line naming the file.
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    assert cli.main(["predict", str(run_dir / "model.keras"), str(blank)]) == 1
    err = capsys.readouterr().err
    assert f"{blank} has no ink" in err and len(err.strip().splitlines()) == 1
    huge = tmp_path / "huge.png"
    Image.new("1", (20_000, 20_000), 1).save(huge)
    assert cli.main(["predict", str(run_dir / "model.keras"), str(huge)]) == 1
    err = capsys.readouterr().err
    assert str(huge) in err and "pixels" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["train"], ["train", "mlp256", "--epochs", "x"],
                                  ["predict", "m.keras"], ["models", "--tag"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_models_command_lists_the_zoo(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models", "mlp*"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert set(rows) == {"mlp256", "mlp2x512", "mlp512"}
    assert "669,706" in rows["mlp2x512"]
    assert "203,530" in rows["mlp256"]
    assert "mnist 97.70%" in rows["mlp256"]


def test_models_command_unknown_pattern_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["models", "resnet*"]) == 2
    assert "no model matches 'resnet*'" in capsys.readouterr().err


def test_console_script_quick_start(tmp_path: Path) -> None:
    """The README's quick start, as a user runs it: the installed `kerasdigits` command."""
    exe = Path(sys.executable).with_name("kerasdigits")
    if not exe.exists():
        pytest.fail(f"console script not installed next to {sys.executable}")
    result = subprocess.run(
        [str(exe), "train", "mlp2x512", "--dataset", "mnist_sample", "--epochs", "1", "--out",
         str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    assert (tmp_path / "run" / "model.keras").is_file()


def test_export_and_inspect_commands(run_dir: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from kerasdigits.export import read_metadata

    out = tmp_path / "digits.tflite"
    argv = ["export", str(run_dir / "model.keras"), str(out), "--target", "mlkit",
            "--quantize", "int8", "--input-dtype", "uint8", "--verify", "200"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out} (")
    assert "input  image: uint8 [1, 28, 28, 3]" in printed
    assert read_metadata(out).labels == tuple(str(i) for i in range(10))
    assert cli.main(["inspect", str(out)]) == 0
    described = capsys.readouterr().out
    assert "builtin ops only: yes" in described
    assert "labels (10): 0, 1, 2" in described


def test_export_bad_path_fails_cleanly(run_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "model.tfl"
    assert cli.main(["export", str(run_dir / "model.keras"), str(target)]) == 1
    assert ".tflite" in capsys.readouterr().err
    assert not target.exists()


def test_train_with_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "mlp256", "--dataset", "mnist_sample", "--epochs", "1", "--out",
            str(tmp_path / "run"), "--export", str(tmp_path / "m.tflite"), "--preset", "quick"]
    assert cli.main(argv) == 0
    assert (tmp_path / "m.tflite").stat().st_size > 100_000
    assert "for litert, quantization none" in capsys.readouterr().out


def test_train_with_mirrored_strategy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "mlp256", "--dataset", "mnist_sample", "--epochs", "1", "--out",
            str(tmp_path / "run"), "--strategy", "mirrored", "--preset", "quick"]
    assert cli.main(argv) == 0
    assert (tmp_path / "run" / "model.keras").is_file()
    assert "test accuracy" in capsys.readouterr().out


def test_collective_timeout_needs_multi_worker(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "mlp256", "--dataset", "mnist_sample", "--out", str(tmp_path),
            "--collective-timeout", "5"]
    assert cli.main(argv) == 2
    assert "--collective-timeout needs --strategy multi_worker" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "mlp256", "--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["train", "mlp256", "--batch-size", "-3"], "--batch-size: must be at least 1"),
        (["train", "mlp256", "--preset", "defualt"], "Did you mean 'default'"),
        (["train", "mlp256", "--validation", "1.5"], "a fraction must be between 0 and 1"),
        (["train", "mlp256", "--validation", "0"], "a count must be at least 1"),
        (["train", "mlp256", "--dataset", "mnist_sample", "--export", "out.txt"],
         "must end in '.tflite'"),
        (["train", "mlp256", "--resume", "--overwrite"], "pass one of them"),
    ],
)
def test_bad_training_options_exit_2_before_any_work(argv: list[str], message: str,
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*argv, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (tmp_path / "r").exists()  # rejected before training, nothing written


def test_a_fresh_run_into_a_used_out_is_refused(run_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()
              and p.name != ".kerasdigits.lock"}
    argv = ["train", "mlp2x512", "--dataset", "mnist_sample", "--epochs", "1", "--out",
            str(run_dir)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "holds an earlier run (model.keras" in err and "--resume" in err
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()
             and p.name != ".kerasdigits.lock"}
    assert after == before


def test_out_that_is_a_file_or_cannot_be_created_is_named(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    argv = ["train", "mlp256", "--dataset", "mnist_sample", "--epochs", "1", "--out"]
    assert cli.main([*argv, str(afile)]) == 1
    assert f"--out {afile}: is a file, not a folder" in capsys.readouterr().err
    # A folder that cannot be created (a file stands in its path; permissions do not stop
    # root, who runs CI).
    assert cli.main([*argv, str(afile / "sub")]) == 1
    assert f"--out {afile / 'sub'}: cannot create the folder: Not a directory" in (
        capsys.readouterr().err)


def test_no_verify_trains_on_your_own_idx_files(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from kerasdigits.datasets import write_idx

    ds = load_dataset("mnist_sample")
    own = tmp_path / "data" / "mnist"
    own.mkdir(parents=True)
    write_idx(own / "train-images-idx3-ubyte.gz", 255 - ds.train.images[:500])
    write_idx(own / "train-labels-idx1-ubyte.gz", ds.train.labels[:500])
    write_idx(own / "t10k-images-idx3-ubyte.gz", 255 - ds.test.images[:100])
    write_idx(own / "t10k-labels-idx1-ubyte.gz", ds.test.labels[:100])
    argv = ["train", "mlp256", "--dataset", "mnist", "--data-dir", str(own.parent),
            "--epochs", "1", "--preset", "quick", "--out", str(tmp_path / "r")]
    assert cli.main(argv) == 1  # the checksums are not MNIST's
    assert "sha256" in capsys.readouterr().err
    assert cli.main([*argv, "--no-verify"]) == 0
    assert (tmp_path / "r" / "model.keras").is_file()


def _run_datasets_as(monkeypatch: pytest.MonkeyPatch, func: object) -> None:
    """Make ``kerasdigits datasets`` run ``func(args, out)`` (to test how errors are shown)."""
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        action.choices["datasets"].set_defaults(func=func)  # type: ignore[index]


def test_a_bug_deep_inside_a_dependency_shows_its_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Our own checks give one line; a ValueError from inside NumPy is a bug: traceback."""
    import numpy as np

    def broken(args: object, out: object) -> int:
        np.linalg.inv(np.zeros((2, 3)))  # LinAlgError, a ValueError raised inside NumPy
        return 0

    _run_datasets_as(monkeypatch, broken)
    assert cli.main(["datasets"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "unexpected error inside numpy" in err
    # A check of ours (a ValueError raised in kerasdigits code) stays one line.
    assert cli.main(["summary", "mnist_sample", "--validation-size", "0.999999"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("kerasdigits: error: ")
    # --debug shows the traceback of any error.
    assert cli.main(["--debug", "evaluate", "missing.keras"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_an_error_of_no_expected_type_gets_a_traceback_and_a_report_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """TensorFlow's run-time errors (``OpError``) are neither ValueError nor OSError."""
    import tensorflow as tf

    def broken(args: object, out: object) -> int:
        tf.reshape(tf.zeros(5), (2, -1))  # InvalidArgumentError, an OpError
        return 0

    _run_datasets_as(monkeypatch, broken)
    assert cli.main(["datasets"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "InvalidArgumentError" in err
    assert err.rstrip().endswith("kerasdigits: an unexpected error inside tensorflow; please "
                                 "report it with the traceback above")


def test_the_out_folder_is_locked_whatever_the_preset(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from kerasdigits.training._rundir import lock_run

    with lock_run(tmp_path / "r"):
        argv = ["train", "mlp256", "--dataset", "mnist_sample", "--epochs", "1", "--preset",
                "quick", "--overwrite", "--out", str(tmp_path / "r")]
        assert cli.main(argv) == 1
    assert "in use by another training run" in capsys.readouterr().err
    assert not (tmp_path / "r" / "model.keras").exists()


def test_resume_of_a_run_without_checkpoints_is_refused(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    out = tmp_path / "q"
    argv = ["train", "mlp256", "--dataset", "mnist_sample", "--epochs", "1", "--preset",
            "quick", "--out", str(out)]
    assert cli.main(argv) == 0
    before = (out / "model.keras").read_bytes()
    assert cli.main([*argv[:5], "2", *argv[6:], "--resume"]) == 1
    assert "no checkpoints to continue from" in capsys.readouterr().err
    assert (out / "model.keras").read_bytes() == before


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999", "x"])
def test_a_bad_seed_is_a_usage_error(seed: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "mlp256", "--seed", seed, "--out", str(tmp_path / "r")]) == 2
    assert "--seed" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_evaluate_and_predict_follow_the_models_own_dataset(
        tmp_path: Path, digit_pngs: list[tuple[Path, int]],
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f"
    assert cli.main(["train", "mlp256", "--dataset", "fashion_mnist_sample", "--epochs", "1",
                     "--preset", "quick", "--out", str(out)]) == 0
    capsys.readouterr()
    # No --dataset: the Fashion test split (offline), not MNIST.
    assert cli.main(["evaluate", str(out / "model.keras")]) == 0
    assert "T-shirt/top" in capsys.readouterr().out
    png = str(digit_pngs[0][0])
    assert cli.main(["predict", str(out / "model.keras"), png, "--dataset", "mnist"]) == 1
    assert "trained with the classes T-shirt/top" in capsys.readouterr().err


def test_our_warnings_are_one_line_and_others_keep_their_format(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    from kerasdigits import KerasDigitsWarning

    def warns(args: object, out: object) -> int:
        warnings.warn("a mirrored 2 is not a 2", KerasDigitsWarning, stacklevel=1)
        warnings.warn("something from elsewhere", UserWarning, stacklevel=1)
        return 0

    _run_datasets_as(monkeypatch, warns)
    with warnings.catch_warnings(record=True) as caught:  # where others' warnings go
        warnings.simplefilter("always")
        shown = warnings.showwarning
        assert cli.main(["datasets"]) == 0
        assert capsys.readouterr().err == "kerasdigits: warning: a mirrored 2 is not a 2\n"
        assert [(w.category, str(w.message)) for w in caught] == [
            (UserWarning, "something from elsewhere")]
        assert warnings.showwarning is shown  # put back after the command
        assert cli.main(["--debug", "datasets"]) == 0  # --debug: every warning as Python shows it
        assert capsys.readouterr().err == ""
        assert [w.category for w in caught[1:]] == [KerasDigitsWarning, UserWarning]
