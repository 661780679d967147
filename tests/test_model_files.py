"""Model files: what a ``.keras`` file written by kerasdigits carries, and who can load it.

Each reload that matters to a user happens in a fresh interpreter: a model trained here is
loaded there with ``kerasdigits.load_model``, with plain Keras after ``import kerasdigits``, and
with Keras alone (a colleague without kerasdigits).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import kerasdigits
from kerasdigits import export_tflite, get_class_names, load_dataset, save_model, train
from kerasdigits.datasets import Dataset
from kerasdigits.export import DEFAULT_INPUT_DTYPES, ExportError
from kerasdigits.training import ModelFileError, evaluate, load_model, set_class_names
from kerasdigits.training._io import INFO_MEMBER

FASHION = load_dataset("fashion_mnist_sample").class_names


@pytest.fixture(scope="module")
def fashion() -> Dataset:
    ds = load_dataset("fashion_mnist_sample")
    return ds.__class__(name=ds.name, train=ds.train.take(slice(0, 1500)), validation=None,
                        test=ds.test.take(slice(0, 300)), class_names=ds.class_names,
                        source=ds.source)


@pytest.fixture(scope="module")
def trained(fashion: Dataset) -> Any:
    """fast_convnet (a schedule, FastBatchNormalization, SpaceToDepth) on Fashion-MNIST."""
    return train("fast_convnet", fashion, epochs=1, callbacks=None, seed=0, verbose=0)


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_train_records_the_class_names_and_save_writes_them(trained: Any, fashion: Dataset,
                                                            tmp_path: Path) -> None:
    assert trained.class_names == FASHION == get_class_names(trained.model)
    path = trained.save(tmp_path / "m.keras")
    with zipfile.ZipFile(path) as archive:
        record = json.loads(archive.read(INFO_MEMBER))
    assert record["class_names"] == list(FASHION)
    assert record["dataset"] == fashion.name and record["model"] == "fast_convnet"
    # No temporary file is left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def test_a_saved_model_reloads_in_fresh_processes(trained: Any, fashion: Dataset,
                                                  tmp_path: Path) -> None:
    path = trained.save(tmp_path / "m.keras")
    images = fashion.test.images[:20]
    np.save(tmp_path / "x.npy", images)
    expected = np.asarray(trained.model(images, training=False))
    np.save(tmp_path / "p.npy", expected)
    check = (
        "import numpy as np\n"
        "x, p = np.load('x.npy'), np.load('p.npy')\n"
        "got = np.asarray(m(x, training=False))\n"
        "assert np.abs(got - p).max() < 1e-5, np.abs(got - p).max()\n"
    )
    loaders = {
        "kerasdigits.load_model": "import kerasdigits\nm = kerasdigits.load_model('m.keras')\n"
        "assert kerasdigits.get_class_names(m) == " + repr(FASHION) + "\n"
        "assert type(m.get_layer('bn_2')).__name__ == 'FastBatchNormalization'\n"
        "assert m.optimizer.get_config()['learning_rate']['class_name'] == 'CosineDecay'\n",
        "lazy import, then plain keras": "import kerasdigits, keras\n"
        "m = keras.saving.load_model('m.keras')\n",
        "keras first, then kerasdigits": "import keras\nimport kerasdigits\n"
        "m = keras.saving.load_model('m.keras')\n",
        "from-import": "from kerasdigits import train\nimport keras\n"
        "m = keras.models.load_model('m.keras')\n",
    }
    for what, code in loaders.items():
        done = run_python(code + check, tmp_path)
        assert done.returncode == 0, f"{what}: {done.stderr[-2000:]}"
    assert path.is_file()


def test_the_file_holds_keras_classes_where_keras_has_them(trained: Any, tmp_path: Path
                                                           ) -> None:
    path = trained.save(tmp_path / "m.keras")
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json").decode()
    assert "FastBatchNormalization" not in config and "RecipeSchedule" not in config
    assert '"class_name": "CosineDecay"' in config
    # The in-memory model keeps its fast layers after saving.
    assert type(trained.model.get_layer("bn_2")).__name__ == "FastBatchNormalization"


def test_a_colleague_with_only_keras_loads_a_model_without_custom_layers(
        fashion: Dataset, tmp_path: Path) -> None:
    result = train("fast_mlp", fashion, epochs=1, callbacks=None, seed=0, verbose=0,
                   preprocessing=None)
    result.save(tmp_path / "m.keras")
    code = ("import sys, keras\n"
            "m = keras.saving.load_model('m.keras')\n"
            "assert not any(n.startswith('kerasdigits') for n in sys.modules), 'imported'\n"
            "print(m.optimizer.get_config()['learning_rate']['class_name'])\n")
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "CosineDecay"


def test_save_model_arguments(trained: Any, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"must end in '\.keras'"):
        save_model(trained.model, tmp_path / "m.h5")
    (tmp_path / "d.keras").mkdir()
    with pytest.raises(ModelFileError, match="is a folder"):
        save_model(trained.model, tmp_path / "d.keras")
    with pytest.raises(ValueError, match="2 class names given but model"):
        save_model(trained.model, tmp_path / "m.keras", class_names=["a", "b"])
    with pytest.raises(ValueError, match="single line"):
        save_model(trained.model, tmp_path / "m.keras", class_names=["a\nb"] * 10)
    assert not (tmp_path / "m.keras").exists()
    names = [f"class {i}" for i in range(10)]
    save_model(trained.model, tmp_path / "n.keras", class_names=names)
    assert get_class_names(load_model(tmp_path / "n.keras")) == tuple(names)


def test_a_plain_keras_file_has_no_class_names(tmp_path: Path) -> None:
    model = kerasdigits.build("mlp256")
    model.save(tmp_path / "plain.keras")
    assert get_class_names(load_model(tmp_path / "plain.keras")) is None
    assert get_class_names(model) is None


def test_a_malformed_record_is_a_clear_error(trained: Any, tmp_path: Path) -> None:
    path = trained.save(tmp_path / "m.keras")
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == INFO_MEMBER:
                data = json.dumps({"class_names": "digits"}).encode()
            out.writestr(item, data)
    with pytest.raises(ModelFileError, match=f"bad.keras: malformed {INFO_MEMBER}"):
        load_model(bad)


def test_export_labels_follow_the_model(trained: Any, fashion: Dataset, tmp_path: Path) -> None:
    path = trained.save(tmp_path / "m.keras")
    # In memory and from the file, without dataset= or labels=.
    result = export_tflite(trained.model, tmp_path / "a.tflite", verify=50)
    assert result.labels == FASHION
    result = export_tflite(path, tmp_path / "b.tflite", target="mlkit", verify=50)
    assert result.labels == FASHION
    # The images come from the dataset it was trained on (its test split verifies).
    assert result.verification is not None and (result.verification.keras_accuracy or 0) > 0.3
    # A dataset whose classes differ is refused rather than silently relabelling.
    with pytest.raises(ExportError, match="trained with the classes T-shirt/top"):
        export_tflite(path, tmp_path / "c.tflite", dataset="mnist_sample", verify=False)
    assert not (tmp_path / "c.tflite").exists()


def test_export_without_known_labels_says_so(tmp_path: Path) -> None:
    model = kerasdigits.build("mlp256")
    with pytest.raises(ExportError, match="class names are unknown"):
        export_tflite(model, tmp_path / "x.tflite", verify=False)
    assert not (tmp_path / "x.tflite").exists()
    set_class_names(model, list("abcdefghij"))
    assert export_tflite(model, tmp_path / "x.tflite", verify=False).labels == tuple("abcdefghij")


@pytest.mark.parametrize("target", sorted(DEFAULT_INPUT_DTYPES))
def test_each_target_has_one_default_input_dtype(target: str, trained: Any,
                                                 tmp_path: Path) -> None:
    result = export_tflite(trained.model, tmp_path / "d.tflite", target=target, verify=False)
    assert result.input.dtype == DEFAULT_INPUT_DTYPES[target]
    assert DEFAULT_INPUT_DTYPES == {"litert": "uint8", "mlkit": "uint8",
                                    "firebase-legacy": "float32"}


def test_evaluate_refuses_a_dataset_with_other_classes(trained: Any) -> None:
    with pytest.raises(ValueError, match="trained with the classes T-shirt/top"):
        evaluate(trained.model, "mnist_sample")
    assert evaluate(trained.model, "fashion_mnist_sample").class_names == FASHION


def test_checkpoints_carry_the_class_names(fashion: Dataset, tmp_path: Path) -> None:
    result = train("mlp256", fashion, epochs=1, checkpoint_dir=tmp_path / "ck", seed=0,
                   verbose=0)
    assert result.checkpoint_paths
    for path in result.checkpoint_paths:
        assert get_class_names(load_model(path)) == FASHION, path.name
    keras.backend.clear_session()


# --- files edited by hand: the test-time copy layers ----------------------------------------


def _copies_model() -> Any:
    """A small model answering over 5 test-time copies of each 8x8 image."""
    from kerasdigits.models.layers import AverageCopies, TestTimeCopies

    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 1)), TestTimeCopies(shift=1, name="copies"),
        keras.layers.Flatten(name="flat"), keras.layers.Dense(3, name="logits"),
        AverageCopies(5, name="average"), keras.layers.Softmax(name="probs")])


def _edited(path: Path, out: Path, layer: str, **changes: Any) -> Path:
    """``path`` with ``changes`` made to the config of ``layer`` in its config.json."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                found = [x for x in config["config"]["layers"] if x["config"]["name"] == layer]
                assert len(found) == 1, layer
                found[0]["config"].update(changes)
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    return out


@pytest.mark.parametrize(("layer", "changes", "message"), [
    ("average", {"copies": 2}, "layer 'average' averages 2 copies of each image, but layer "
                               "'copies' makes 5: the file was edited or damaged"),
    ("copies", {"mirror": True}, "layer 'average' averages 5 copies of each image, but layer "
                                 "'copies' makes 10"),
    ("copies", {"shift": -1}, r"cannot load model: TestTimeCopies: shift must be an int >= 0, "
                              r"got -1$"),
    ("average", {"copies": "5"}, "cannot load model: AverageCopies: copies must be a positive "
                                 "int, got '5'$"),
])
def test_a_hand_edited_copy_layer_is_refused_with_its_cause(
        tmp_path: Path, layer: str, changes: dict[str, Any], message: str) -> None:
    """Unchecked, a mismatched pair averages copies of different images without an error."""
    good = save_model(_copies_model(), tmp_path / "good.keras")
    images = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    expected = np.asarray(load_model(good)(images))
    assert expected.shape == (4, 3)
    bad = _edited(good, tmp_path / "bad.keras", layer, **changes)
    with pytest.raises(ModelFileError, match=f"^{bad}: .*{message}"):
        load_model(bad)
    # In a fresh process, through the CLI: one line naming the file and the cause.
    done = subprocess.run([sys.executable, "-m", "kerasdigits", "evaluate", str(bad),
                           "--dataset", "mnist_sample"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"kerasdigits: error: {bad}: ")


def test_prediction_checks_the_model_answers_one_row_per_image() -> None:
    from kerasdigits.models.layers import AverageCopies, TestTimeCopies
    from kerasdigits.training import PredictionError

    images = np.zeros((2, 8, 8), np.uint8)
    unaveraged = keras.Sequential([
        keras.Input((8, 8, 1)), TestTimeCopies(shift=1), keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(PredictionError, match=r"answered with shape \(10, 3\) for 2 images"):
        kerasdigits.predict(unaveraged, images)
    mismatched = keras.Sequential([
        keras.Input((8, 8, 1)), TestTimeCopies(shift=1), keras.layers.Flatten(),
        keras.layers.Dense(3), AverageCopies(2), keras.layers.Softmax()])
    with pytest.raises(PredictionError, match="the model failed on a batch of 1 images: "
                                              "Input to reshape is a tensor with 15 values"):
        kerasdigits.predict(mismatched, images[:1])
    labels, probs = kerasdigits.predict(_copies_model(), images)
    assert labels.shape == (2,) and probs.shape == (2, 3)
