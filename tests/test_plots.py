"""kerasdigits.plots: rendered with Agg and checked for real properties of the figures."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("PIL")

from matplotlib.colors import same_color
from matplotlib.figure import Figure
from PIL import Image

from kerasdigits import KerasDigitsError, load_dataset, plots
from kerasdigits.datasets import Dataset, Split
from kerasdigits.plots import MissingExtraError
from kerasdigits.plots._history import BEST_EPOCH_GID
from kerasdigits.training import Evaluation, evaluation_from_probabilities

HISTORY = {
    "loss": [0.9, 0.5, 0.4, 0.45],
    "accuracy": [0.70, 0.80, 0.85, 0.86],
    "val_loss": [1.0, 0.6, 0.55, 0.7],
    "val_accuracy": [0.68, 0.79, 0.81, 0.80],
}


def _run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout.strip()


def assert_png_not_blank(path: Path) -> None:
    assert path.is_file()
    with Image.open(path) as image:
        assert image.format == "PNG"
        gray = np.asarray(image.convert("L"), dtype=np.float64)
    assert gray.shape[0] > 100 and gray.shape[1] > 100
    assert len(np.unique(gray)) > 2, "the picture is a single colour"
    assert gray.std() > 5.0, "the picture is (nearly) blank"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    return load_dataset("mnist_sample")


@pytest.fixture(scope="module")
def fashion() -> Dataset:
    return load_dataset("fashion_mnist_sample")


def _evaluation(true: list[int], predicted: list[int], names: tuple[str, ...]) -> Evaluation:
    probs = np.eye(len(names))[predicted]
    return evaluation_from_probabilities(probs, np.array(true), names)


# ----------------------------------------------------------------------------- import and extra


def test_importing_plots_does_not_import_matplotlib_until_a_plot_is_made() -> None:
    out = _run_python(
        "import sys, numpy as np, kerasdigits\n"
        "import kerasdigits.plots as p\n"
        "print('matplotlib' in sys.modules)\n"
        "p.print_pixels(np.zeros((2, 2), np.uint8), file=open(__import__('os').devnull, 'w'))\n"
        "print('matplotlib' in sys.modules)\n"
        "fig = p.show_samples(kerasdigits.load_dataset('mnist_sample'), n=4)\n"
        "print('matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules,\n"
        "      'tensorflow' in sys.modules, type(fig).__name__)\n"
    )
    assert out.splitlines() == ["False", "False", "True False False Figure"]


def test_a_plot_without_matplotlib_names_the_extra_in_a_fresh_interpreter() -> None:
    out = _run_python(
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if it were not installed\n"
        "import kerasdigits\n"
        "from kerasdigits.plots import plot_history\n"
        "try:\n"
        "    plot_history({'loss': [1.0]})\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, isinstance(exc, kerasdigits.KerasDigitsError))\n"
        "    print(exc)\n"
    )
    kind, message = out.split("\n", 1)
    assert kind == "MissingExtraError True"
    assert 'pip install "kerasdigits[plots]"' in message
    assert "matplotlib" in message


def test_every_plot_raises_missing_extra_error_without_matplotlib(
        monkeypatch: pytest.MonkeyPatch, mnist: Dataset, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    evaluation = _evaluation([0, 1], [0, 1], ("0", "1"))
    calls: list[Any] = [
        lambda: plots.show_samples(mnist, save=tmp_path / "a.png"),
        lambda: plots.plot_history(HISTORY),
        lambda: plots.show_predictions(None, mnist.test, predictions=mnist.test.labels),
        lambda: plots.plot_confusion_matrix(evaluation),
        lambda: plots.save_training_figures(HISTORY, None, None, evaluation, tmp_path / "run"),
    ]
    for call in calls:
        with pytest.raises(MissingExtraError, match=r'pip install "kerasdigits\[plots\]"') as info:
            call()
        assert isinstance(info.value, ImportError)
        assert isinstance(info.value, KerasDigitsError)
        assert info.value.extra == "plots"
    assert list(tmp_path.iterdir()) == []  # nothing was written
    # The text dump needs no matplotlib.
    assert plots.print_pixels(np.zeros((1, 1), np.uint8), file=io.StringIO()) == "  0"


# ----------------------------------------------------------------------------- show_samples


def test_show_samples_grid_titles_and_png(mnist: Dataset, tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "samples.png"
    fig = plots.show_samples(mnist, save=path)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 25
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [str(int(v)) for v in mnist.train.labels[:25]]
    first = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(first, mnist.train.images[0])
    assert_png_not_blank(path)
    assert _leftovers(path.parent) == []


def test_show_samples_uses_class_names_indices_and_n(fashion: Dataset) -> None:
    fig = plots.show_samples(fashion, n=10)
    assert len(fig.axes) == 10
    assert [ax.get_title() for ax in fig.axes] == [
        fashion.class_names[int(v)] for v in fashion.train.labels[:10]]

    fig = plots.show_samples(fashion.test, n=4, indices=[5, 7, 9, 11, 13, -1])
    assert len(fig.axes) == 4  # the first n of the indices
    assert [ax.get_title() for ax in fig.axes] == [
        str(int(fashion.test.labels[i])) for i in (5, 7, 9, 11)]

    fig = plots.show_samples(fashion.test, n=2, indices=[0, -1], class_names=fashion.class_names)
    assert fig.axes[1].get_title() == fashion.class_names[int(fashion.test.labels[-1])]


def test_show_samples_rejects_bad_arguments(mnist: Dataset) -> None:
    with pytest.raises(ValueError, match="positive int"):
        plots.show_samples(mnist, n=0)
    with pytest.raises(IndexError, match="out of range"):
        plots.show_samples(mnist.test, indices=[len(mnist.test)])
    with pytest.raises(ValueError, match="empty"):
        plots.show_samples(mnist.test.take(np.arange(0)))
    with pytest.raises(TypeError, match="Dataset or a Split"):
        plots.show_samples(mnist.test.images)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- saving


@pytest.mark.parametrize(("name", "magic"), [("fig.svg", b"<?xml"), ("fig.pdf", b"%PDF"),
                                             ("fig.PNG", b"\x89PNG"), ("noext", b"\x89PNG")])
def test_save_format_follows_the_extension(tmp_path: Path, name: str, magic: bytes) -> None:
    fig = plots.plot_history(HISTORY, save=tmp_path / name)
    assert isinstance(fig, Figure)
    assert (tmp_path / name).read_bytes().startswith(magic)


def test_save_rejects_an_unknown_extension_without_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown format 'docx'.*\.png"):
        plots.plot_history(HISTORY, save=tmp_path / "fig.docx")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_leaves_no_file_and_keeps_the_old_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "history.png"
    target.write_bytes(b"old picture")

    def broken_savefig(self: Figure, fname: Any, **kwargs: Any) -> None:
        fname.write(b"\x89PNG half a picture")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        plots.plot_history(HISTORY, save=target)
    assert target.read_bytes() == b"old picture"
    assert _leftovers(tmp_path) == []
    with pytest.raises(RuntimeError, match="disk full"):
        plots.plot_history(HISTORY, save=tmp_path / "other.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.png"]


def test_figures_can_be_made_in_threads(mnist: Dataset, tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            plots.show_samples(mnist.test, n=9, indices=range(i, i + 9),
                               save=tmp_path / f"s{i}.png")
            plots.plot_history(HISTORY, save=tmp_path / f"h{i}.png")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for i in range(3):
        assert_png_not_blank(tmp_path / f"s{i}.png")


# ----------------------------------------------------------------------------- plot_history


def _best_x(ax: Any) -> list[float]:
    return [float(x) for line in ax.get_lines() if line.get_gid() == BEST_EPOCH_GID
            for x in np.asarray(line.get_xdata())]


def test_plot_history_two_axes_curves_and_best_epoch(tmp_path: Path) -> None:
    fig = plots.plot_history(HISTORY, save=tmp_path / "history.png")
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert (loss_ax.get_title(), acc_ax.get_title()) == ("Loss", "Accuracy")
    curves = {line.get_label(): np.asarray(line.get_ydata()).tolist()
              for line in loss_ax.get_lines() if line.get_label() in ("train", "validation")}
    assert curves == {"train": HISTORY["loss"], "validation": HISTORY["val_loss"]}
    epochs = np.asarray(loss_ax.get_lines()[0].get_xdata()).tolist()
    assert epochs == [1, 2, 3, 4]  # 1-based
    # Lowest val_loss is at epoch 3; both axes mark it.
    assert _best_x(loss_ax) == [3.0, 3.0]
    assert _best_x(acc_ax) == [3.0, 3.0]
    legend = loss_ax.get_legend()
    assert legend is not None
    assert "best epoch (3)" in [t.get_text() for t in legend.get_texts()]
    assert_png_not_blank(tmp_path / "history.png")


def test_plot_history_best_epoch_sources() -> None:
    result = types.SimpleNamespace(history=HISTORY, best_epoch=2)  # a TrainResult's shape
    assert _best_x(plots.plot_history(result).axes[0]) == [2.0, 2.0]
    assert _best_x(plots.plot_history(HISTORY, best_epoch=4).axes[1]) == [4.0, 4.0]
    keras_history = types.SimpleNamespace(history={"loss": [3.0, 1.0, 2.0]})  # fit()'s History
    fig = plots.plot_history(keras_history)
    assert len(fig.axes) == 1  # no accuracy recorded: loss only
    assert _best_x(fig.axes[0]) == [2.0, 2.0]  # no validation: the lowest training loss
    only_train = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]}
    fig = plots.plot_history(only_train)
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    assert [line.get_label() for line in fig.axes[1].get_lines()
            if not str(line.get_label()).startswith("_")] == ["train", "best epoch (2)"]


def test_plot_history_marks_the_finite_minimum_when_val_loss_has_nan() -> None:
    from kerasdigits.training._train import best_epoch

    nan = float("nan")
    history = {"loss": [0.9, 0.5, 0.4, 0.45, 0.3], "val_loss": [nan, 0.7, 0.55, nan, 0.6]}
    assert _best_x(plots.plot_history(history).axes[0]) == [3.0, 3.0]
    assert best_epoch(history) == 3  # the epoch train() records
    # Sharing train()'s rule does not make plotting import TensorFlow.
    out = _run_python(
        "import sys\n"
        "from kerasdigits.plots import plot_history\n"
        "plot_history({'loss': [1.0, 0.5], 'val_loss': [float('nan'), 0.7]})\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    assert out == "False False"


def test_plot_history_with_a_real_train_result(trained: Any) -> None:
    result, _ = trained
    fig = plots.plot_history(result)
    assert len(fig.axes) == 2
    assert _best_x(fig.axes[0]) == [result.best_epoch] * 2


def test_plot_history_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no 'loss'"):
        plots.plot_history({})
    with pytest.raises(ValueError, match="list of numbers"):
        plots.plot_history({"loss": ["a"]})
    with pytest.raises(ValueError, match="best_epoch"):
        plots.plot_history(HISTORY, best_epoch=0)
    with pytest.raises(TypeError, match="TrainResult"):
        plots.plot_history([0.5, 0.4])


# ----------------------------------------------------------------------------- show_predictions


def _controlled_model() -> Any:
    """A Keras model that predicts the column of the brightest pixel of row 0 (columns 0..9)."""
    from kerasdigits import _lazy

    keras = _lazy.keras()
    inputs = keras.Input((28, 28), dtype="float32")
    dense = keras.layers.Dense(10, activation="softmax")
    outputs = dense(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((784, 10), np.float32)
    kernel[np.arange(10), np.arange(10)] = 20.0
    dense.set_weights([kernel, np.zeros(10, np.float32)])
    return model


def _controlled_split(predicted: list[int], true: list[int]) -> Split:
    images = np.zeros((len(predicted), 28, 28), np.uint8)
    images[np.arange(len(predicted)), 0, predicted] = 255
    images[:, 10:18, 10:18] = 200  # something to see
    return Split(images, np.array(true, np.uint8))


def test_show_predictions_colours_and_titles_with_a_controlled_model(tmp_path: Path) -> None:
    predicted = [3, 5, 7, 1, 9, 0]
    true = [3, 6, 7, 1, 2, 0]  # examples 1 and 4 are wrong
    split = _controlled_split(predicted, true)
    path = tmp_path / "predictions.png"
    fig = plots.show_predictions(_controlled_model(), split, save=path)
    assert len(fig.axes) == 6
    titles = [ax.title for ax in fig.axes]
    for i, title in enumerate(titles):
        if predicted[i] == true[i]:
            assert same_color(title.get_color(), plots.RIGHT_COLOR), i
            assert same_color(title.get_color(), "green")
            assert title.get_text() == str(true[i])
        else:
            assert same_color(title.get_color(), plots.WRONG_COLOR), i
            assert same_color(title.get_color(), "red")
            assert title.get_text() == f"{predicted[i]} (true {true[i]})"
    assert fig.get_suptitle() == "4 of 6 right"
    assert_png_not_blank(path)

    names = tuple(f"class-{i}" for i in range(10))
    fig = plots.show_predictions(_controlled_model(), split, class_names=names, indices=[1, 0])
    assert fig.axes[0].get_title() == "class-5\n(true class-6)"
    assert fig.axes[1].get_title() == "class-3"


def test_show_predictions_from_given_predictions_needs_no_model(fashion: Dataset) -> None:
    predicted = fashion.test.labels.astype(np.int64).copy()
    predicted[1] = (predicted[1] + 1) % 10
    fig = plots.show_predictions(None, fashion, n=4, predictions=predicted)  # test split
    assert len(fig.axes) == 4
    right, wrong = fig.axes[0].title, fig.axes[1].title
    assert same_color(right.get_color(), "green")
    assert right.get_text() == fashion.class_names[int(fashion.test.labels[0])]
    assert same_color(wrong.get_color(), "red")
    assert f"(true {fashion.class_names[int(fashion.test.labels[1])]})" in wrong.get_text()
    with pytest.raises(ValueError, match="one label per example"):
        plots.show_predictions(None, fashion.test, predictions=predicted[:5])
    with pytest.raises(ValueError, match="needs a model"):
        plots.show_predictions(None, fashion.test)


@pytest.fixture(scope="module")
def trained(mnist: Dataset) -> tuple[Any, Dataset]:
    from kerasdigits import train

    small = dataclasses.replace(mnist, train=mnist.train.take(np.arange(1500)),
                                test=mnist.test.take(np.arange(300)))
    result = train("mlp256", small, epochs=2, callbacks=None, seed=0, verbose=0)
    return result, small


def test_show_predictions_right_and_wrong_of_a_trained_model(
        trained: tuple[Any, Dataset]) -> None:
    from kerasdigits import predict

    result, small = trained
    labels, _ = predict(result.model, small.test.images)
    right = int(np.flatnonzero(labels == small.test.labels)[0])
    wrong = int(np.flatnonzero(labels != small.test.labels)[0])
    fig = plots.show_predictions(result.model, small.test, indices=[right, wrong])
    assert len(fig.axes) == 2
    right_title, wrong_title = fig.axes[0].title, fig.axes[1].title
    assert same_color(right_title.get_color(), "green")
    assert right_title.get_text() == str(int(small.test.labels[right]))
    assert same_color(wrong_title.get_color(), "red")
    assert wrong_title.get_text() == (f"{int(labels[wrong])} "
                                      f"(true {int(small.test.labels[wrong])})")


# ----------------------------------------------------------------------------- confusion matrix


def test_confusion_matrix_annotations_equal_the_counts(tmp_path: Path) -> None:
    names = ("cat", "dog", "bird")
    evaluation = _evaluation([0, 0, 0, 1, 1, 2, 2, 2, 2], [0, 0, 1, 1, 2, 2, 2, 2, 0], names)
    path = tmp_path / "confusion.png"
    fig = plots.plot_confusion_matrix(evaluation, save=path)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(int(v)) for v in evaluation.confusion_matrix.ravel()]
    assert texts == ["2", "1", "0", "0", "1", "1", "1", "0", "3"]
    positions = [t.get_position() for t in ax.texts]
    assert positions[1] == (1, 0)  # column = predicted, row = true
    assert [t.get_text() for t in ax.get_xticklabels()] == list(names)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(names)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicted label", "True label")
    assert "66.67%" in ax.get_title()
    assert_png_not_blank(path)


def test_confusion_matrix_normalized_and_from_an_array() -> None:
    matrix = np.array([[3, 1, 0], [0, 0, 0], [1, 1, 2]])
    fig = plots.plot_confusion_matrix(matrix, normalize=True)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0.75", "0.25", "0.00", "-", "-", "-", "0.25", "0.25", "0.50"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "1", "2"]
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 class names"):
        plots.plot_confusion_matrix(matrix, class_names=("a", "b"))


# ----------------------------------------------------------------------------- print_pixels


def test_print_pixels_exact_layout() -> None:
    image = np.array([[0, 7, 255], [12, 0, 128]], np.uint8)
    out = io.StringIO()
    text = plots.print_pixels(image, file=out)
    assert text == "  0   7 255\n 12   0 128"
    assert out.getvalue() == text + "\n"


def test_print_pixels_of_a_digit_prints_to_stdout(mnist: Dataset,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    image = mnist.train.images[0]
    text = plots.print_pixels(image)
    assert capsys.readouterr().out == text + "\n"
    lines = text.split("\n")
    assert len(lines) == 28
    assert all(len(line) == 28 * 4 - 1 for line in lines)
    parsed = np.array([[int(v) for v in line.split()] for line in lines])
    np.testing.assert_array_equal(parsed, image)
    # The same dump from the flattened, channel and [0, 1]-float forms the tutorials use.
    for form in (image.reshape(784), image[..., None], image.astype(np.float32) / 255.0):
        assert plots.print_pixels(form, file=io.StringIO()) == text


def test_print_pixels_rejects_what_is_not_one_image() -> None:
    for bad in (np.zeros((2, 28, 28)), np.zeros(10), np.array([["a"]]),
                np.array([[np.nan]])):
        with pytest.raises(ValueError):  # noqa: PT011
            plots.print_pixels(bad, file=io.StringIO())


# ----------------------------------------------------------------------------- a training run


def test_save_training_figures_writes_the_three_pngs(trained: tuple[Any, Dataset],
                                                     tmp_path: Path) -> None:
    from kerasdigits import evaluate

    result, small = trained
    evaluation = evaluate(result.model, small)
    out = tmp_path / "run"
    paths = plots.save_training_figures(result, None, small, evaluation, out)
    assert paths == [out / "history.png", out / "predictions.png", out / "confusion.png"]
    for path in paths:
        assert_png_not_blank(path)
    assert sorted(p.name for p in out.iterdir()) == ["confusion.png", "history.png",
                                                     "predictions.png"]


def test_save_training_figures_skips_what_is_not_given(tmp_path: Path) -> None:
    evaluation = _evaluation([0, 1, 1], [0, 1, 0], ("0", "1"))
    paths = plots.save_training_figures(HISTORY, None, None, evaluation, tmp_path, format="svg")
    assert paths == [tmp_path / "history.svg", tmp_path / "confusion.svg"]
    assert all(p.read_bytes().startswith(b"<?xml") for p in paths)
