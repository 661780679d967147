"""train(..., init_from=..., freeze=...): fine-tuning from a trained model."""

from __future__ import annotations

import dataclasses
import string
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kerasdigits import build, load_dataset, train
from kerasdigits.datasets import Dataset, Split
from kerasdigits.training import (
    ModelFileError,
    TrainingError,
    get_class_names,
    load_model,
    set_class_names,
)
from kerasdigits.training._finetune import _leaves, prepare, transfer

MODELS = ("fast_mlp", "fast_convnet", "mlp256")


@pytest.fixture(scope="module")
def digits() -> Dataset:
    ds = load_dataset("mnist_sample")
    return dataclasses.replace(ds, train=ds.train.take(slice(0, 600)),
                               test=ds.test.take(slice(0, 200)))


@pytest.fixture(scope="module")
def five(digits: Dataset) -> Dataset:
    """The digits 0-4 only: a 5-class dataset (a new head)."""
    def keep(split: Split) -> Split:
        return split.take(split.labels < 5)

    return Dataset(name="digits_0_4", train=keep(digits.train), validation=None,
                   test=keep(digits.test), class_names=digits.class_names[:5],
                   source=digits.source)


@pytest.fixture(scope="module")
def source(digits: Dataset) -> Callable[[str], Any]:
    """A model of each zoo name trained for one epoch on the digits (trained once, reused)."""
    trained: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in trained:
            trained[name] = train(name, digits, epochs=1, seed=0, validation="none",
                                  callbacks=None, verbose=0).model
        return trained[name]

    return get


@pytest.fixture(scope="module")
def saved(source: Callable[[str], Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained fast_convnet, saved to a .keras file."""
    from kerasdigits.training import save_model

    return save_model(source("fast_convnet"), tmp_path_factory.mktemp("src") / "digits.keras")


def quiet(**kwargs: Any) -> dict[str, Any]:
    return {"epochs": 1, "seed": 1, "validation": "none", "callbacks": None, "verbose": 0,
            **kwargs}


def weights(layers: list[Any]) -> list[np.ndarray]:
    return [np.asarray(w) for layer in layers for w in layer.get_weights()]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def trunk_and_head(model: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    layers = [layer for layer in _leaves(model) if layer.weights]
    return weights(layers[:-1]), weights(layers[-1:])


# ----------------------------------------------------------------------------- the transfer


@pytest.mark.parametrize("name", MODELS)
def test_transfer_copies_the_trunk_and_the_head_of_the_same_classes(
        name: str, source: Callable[[str], Any], digits: Dataset) -> None:
    src = source(name)
    model = build(name, preprocessing="unit")
    tuned = transfer(prepare(src, False, name), model, digits.class_names)
    assert same(weights(_leaves(model)), weights(_leaves(src)))
    assert tuned.head == "copied"
    assert tuned.layers_copied == sum(1 for layer in _leaves(model) if layer.weights)
    assert tuned.frozen == 0
    assert all(layer.trainable for layer in _leaves(model))


@pytest.mark.parametrize("name", MODELS[:2])
def test_another_class_count_keeps_the_new_head_as_built(
        name: str, source: Callable[[str], Any], five: Dataset) -> None:
    src = source(name)
    model = build(name, preprocessing="unit", num_classes=5)
    trunk_before, head_before = trunk_and_head(model)
    tuned = transfer(prepare(src, True, name), model, five.class_names)
    trunk, head = trunk_and_head(model)
    assert same(trunk, trunk_and_head(src)[0])
    assert not same(trunk, trunk_before)
    assert same(head, head_before)  # freshly initialised, untouched
    assert [w.shape[-1] for w in head] == [5] * len(head)
    assert tuned.head == "another class count"
    assert "new head (another class count)" in str(tuned)
    weighted = [layer for layer in _leaves(model) if layer.weights]
    assert [layer.trainable for layer in weighted] == [False] * (len(weighted) - 1) + [True]
    assert tuned.frozen == len(weighted) - 1


def test_other_classes_of_the_same_count_get_a_fresh_head(saved: Path) -> None:
    fashion = load_dataset("fashion_mnist_sample")
    model = build("fast_convnet", preprocessing="unit")
    head_before = trunk_and_head(model)[1]
    src = load_model(saved)
    assert transfer(prepare(src, False, "fast_convnet"), model,
                    fashion.class_names).head == "other classes"
    assert same(trunk_and_head(model)[1], head_before)
    set_class_names(src, None)  # classes unknown: the head fits, so it is copied
    assert transfer(prepare(src, False, "fast_convnet"), model,
                    fashion.class_names).head == "copied"
    assert same(trunk_and_head(model)[1], trunk_and_head(src)[1])


# ----------------------------------------------------------------------------- train


def test_freeze_keeps_the_trunk_and_trains_the_head(saved: Path, digits: Dataset,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    src_trunk, src_head = trunk_and_head(load_model(saved))
    frozen = train("fast_convnet", digits, **quiet(init_from=saved, freeze=True))
    trunk, head = trunk_and_head(frozen.model)
    assert same(trunk, src_trunk)  # batch-normalization statistics included
    assert not same(head, src_head)
    assert frozen.init_from == str(saved)
    assert "head copied; 5 layers frozen" in capsys.readouterr().err
    free = train("fast_convnet", digits, **quiet(init_from=saved))
    assert not same(trunk_and_head(free.model)[0], src_trunk)
    assert all(layer.trainable for layer in _leaves(free.model))


def test_a_five_class_subset_trains_a_new_head(saved: Path, five: Dataset) -> None:
    result = train("fast_convnet", five, **quiet(init_from=saved, freeze=True))
    assert result.model.outputs[0].shape[-1] == 5
    assert get_class_names(result.model) == five.class_names == result.class_names
    assert same(trunk_and_head(result.model)[0], trunk_and_head(load_model(saved))[0])
    probabilities = result.model.predict(five.test.images[:4], verbose=0)
    assert probabilities.shape == (4, 5)


def test_a_26_class_head_works_end_to_end(source: Callable[[str], Any], digits: Dataset,
                                          tmp_path: Path) -> None:
    letters = tuple(string.ascii_uppercase)
    rng = np.random.default_rng(0)

    def relabel(split: Split) -> Split:
        return Split(split.images, rng.integers(0, 26, len(split)).astype(np.uint8))

    ds = Dataset(name="letters", train=relabel(digits.train), validation=None,
                 test=relabel(digits.test), class_names=letters, source=digits.source)
    result = train("fast_mlp", ds, **quiet(init_from=source("fast_mlp")))
    path = result.save(tmp_path / "letters.keras")
    loaded = load_model(path)
    assert get_class_names(loaded) == letters
    assert loaded.predict(ds.test.images[:2], verbose=0).shape == (2, 26)


def test_a_compiled_keras_model_is_frozen_too(source: Callable[[str], Any],
                                              digits: Dataset) -> None:
    src = source("fast_mlp")
    model = build("fast_mlp", preprocessing="unit")
    train(model, digits, **quiet())  # compiled and trained: Keras has traced its train step
    result = train(model, digits, **quiet(init_from=src, freeze=True))
    assert same(trunk_and_head(result.model)[0], trunk_and_head(src)[0])
    assert result.init_from == "keras.Model 'fast_mlp'"


def test_resume_continues_from_the_checkpoint_not_init_from(
        saved: Path, digits: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "run"
    first = train("fast_convnet", digits, epochs=1, seed=0, verbose=0, checkpoint_dir=folder,
                  init_from=saved, freeze=True)
    assert first.init_from == str(saved)
    other = build("fast_convnet", preprocessing="unit")  # untrained: would change the trunk
    resumed = train("fast_convnet", digits, epochs=2, seed=0, verbose=0, checkpoint_dir=folder,
                    resume=True, init_from=other, freeze=True)
    assert resumed.initial_epoch == 1
    assert resumed.init_from is None
    assert "the checkpoint wins" in capsys.readouterr().err
    # The checkpoint's trunk was frozen, and stays so: still the saved source's.
    assert same(trunk_and_head(resumed.model)[0], trunk_and_head(load_model(saved))[0])


def test_init_from_a_file_in_a_fresh_process(saved: Path) -> None:
    code = textwrap.dedent(f"""
        import dataclasses
        import numpy as np
        from kerasdigits import load_dataset, train
        from kerasdigits.training import load_model
        ds = load_dataset("mnist_sample")
        ds = dataclasses.replace(ds, train=ds.train.take(slice(0, 300)))
        path = {str(saved)!r}
        result = train("fast_convnet", ds, epochs=1, validation="none", callbacks=None,
                       verbose=0, init_from=path, freeze=True)
        src = load_model(path)
        pairs = zip(src.layers[:-1], result.model.layers[:-1])
        print("trunk", all(np.array_equal(a, b) for x, y in pairs
                               for a, b in zip(x.get_weights(), y.get_weights())))
        print("init_from", result.init_from == path)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trunk True" in done.stdout
    assert "init_from True" in done.stdout


# ----------------------------------------------------------------------------- errors


def test_another_zoo_model_is_refused_with_the_right_name(saved: Path,
                                                          digits: Dataset) -> None:
    with pytest.raises(TrainingError, match=r"holds a 'fast_convnet' model, not 'fast_mlp'.*"
                       r"train\('fast_convnet', \.\.\., init_from=\.\.\.\)"):
        train("fast_mlp", digits, **quiet(init_from=saved))


def test_an_architecture_mismatch_names_the_layer_and_both_shapes(digits: Dataset) -> None:
    wide = build("mlp512", preprocessing="unit")
    with pytest.raises(TrainingError, match=r"layer 3 of keras.Model 'mlp512' is 'dense_1' "
                       r"\(Dense, weights \[\(784, 512\), \(512,\)\]\) but the model being "
                       r"trained has 'dense_1' \(Dense, weights \[\(784, 256\), \(256,\)\]\)"
                       r".*train\('mlp512'"):
        train(build("mlp256", preprocessing="unit"), digits, **quiet(init_from=wide))


def test_other_pixel_scaling_and_layer_counts_are_refused() -> None:
    import keras

    unit = build("mlp256", preprocessing="unit")
    standard = prepare(build("mlp256", preprocessing="standard"), False, "mlp256")
    assert standard is not None
    with pytest.raises(TrainingError, match=r"layer 1 .* 'normalize'.*scaled differently"):
        transfer(standard, unit, [str(i) for i in range(10)])
    short = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)], name="short")
    long = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(3)])
    src = prepare(short, False, long)
    assert src is not None
    with pytest.raises(TrainingError, match=r"'short' has 1 layers but the model being trained "
                       r"has 2 \(the first extra one, layer 2: .*Dense.*only the head"):
        transfer(src, long, ["a", "b", "c"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"init_from": 42}, "init_from must be a Keras model or the path of a .keras file, got int"),
    ({"freeze": "yes"}, "freeze must be True or False, got 'yes'"),
    ({"freeze": 1}, "freeze must be True or False, got 1"),
    ({"freeze": True}, "freeze=True needs init_from"),
])
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], message: str,
                                         digits: Dataset) -> None:
    with pytest.raises(TrainingError, match=message):
        train("fast_mlp", digits, **quiet(**kwargs))


def test_a_missing_file_names_the_argument_and_the_file(digits: Dataset, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.keras"
    with pytest.raises(ModelFileError, match=f"init_from: {missing}: model file not found"):
        train("fast_mlp", digits, **quiet(init_from=missing))
