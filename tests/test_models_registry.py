"""The model registry: names, specs, patterns, errors, and registering new models.

Most of these tests do not need Keras; the ones that build a model say so in their name.
"""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kerasdigits
from kerasdigits.models import (
    CompileSettings,
    DuplicateModelError,
    ModelArgumentError,
    ModelConfigError,
    ModelSpec,
    Recipe,
    UnknownModelError,
    _plugins,
    _registry,
    build,
    get_model_spec,
    list_models,
    register_model,
)

#: Every built-in model, as the registry lists it (not a plugin's): a new model is tested here
#: by default. Its parameter count is pinned in test_models_zoo.PARAMS.
ZOO = tuple(name for name in list_models() if get_model_spec(name).registered_by == "kerasdigits")


@pytest.fixture
def registry() -> Iterator[None]:
    """Let a test register models; forget them afterwards."""
    _plugins.load_plugins()
    saved = _registry._snapshot()
    yield
    _registry._restore(saved)


def _flat_builder(*, num_classes: int = 10) -> list[Any]:
    import keras

    return [keras.layers.Dense(num_classes, activation="softmax", name="output")]


# --- listing -------------------------------------------------------------------------------


def test_list_models_has_the_whole_zoo_sorted() -> None:
    names = list_models()
    assert set(ZOO) <= set(names)
    assert names == sorted(names)
    assert {"mlp2x512", "convnet", "lenet5", "fast_convnet", "fast_mlp"} <= set(ZOO)


def test_list_models_without_plugins_is_the_zoo(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a fresh process with plugins off, the registry holds exactly the built-ins."""
    monkeypatch.setenv(_plugins.ENV_DISABLE_PLUGINS, "1")
    code = "from kerasdigits import list_models\nprint(' '.join(list_models()))\n"
    listed = subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                            capture_output=True, text=True).stdout.split()
    assert listed == sorted(ZOO)


def test_list_models_patterns() -> None:
    assert list_models("mlp*") == ["mlp256", "mlp2x512", "mlp512"]
    assert list_models("*CONVNET") == list_models("*convnet")
    assert "fashion_convnet" in list_models("*convnet")
    assert list_models(["lenet?", "sigmoid*"]) == ["lenet5", "sigmoid4x256"]
    assert list_models("no_such_*") == []


def test_list_models_tags_and_style() -> None:
    assert list_models(tags="fast") == ["fast_convnet", "fast_mlp"]
    assert list_models("*mlp*", tags=["fast"]) == ["fast_mlp"]  # the README's example
    assert list_models(tags="accurate") == ["accurate_convnet", "accurate_fashion_convnet"]
    assert list_models(tags=["accurate", "fashion"]) == ["accurate_fashion_convnet"]
    assert list_models(tags=["mlp", "sigmoid"]) == ["sigmoid4x256"]
    assert list_models("*512", tags="mlp") == ["mlp2x512", "mlp512"]
    assert set(ZOO) <= set(list_models(style="sequential"))
    assert set(ZOO) <= set(list_models(style="functional"))
    with pytest.raises(ValueError, match="sequential"):
        list_models(style="sequental")  # type: ignore[arg-type]


@given(st.text(max_size=12))
def test_list_models_pattern_gives_a_sorted_subset(pattern: str) -> None:
    result = list_models(pattern)
    assert result == sorted(result)
    assert set(result) <= set(list_models())


# --- specs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ZOO)
def test_zoo_specs(name: str) -> None:
    spec = get_model_spec(name)
    assert isinstance(spec, ModelSpec)
    assert spec.name == name
    assert spec.registered_by == "kerasdigits"
    assert spec.description
    assert spec.styles == ("sequential", "functional")
    assert spec.default_style == "sequential"
    assert spec.input_kind in ("flat", "image")
    assert spec.input_shape == {"flat": (784,), "image": (28, 28, 1)}[spec.input_kind]
    assert spec.compile_settings.loss == "sparse_categorical_crossentropy"
    assert spec.compile_settings.metrics == ("accuracy",)
    assert spec.recipe.epochs >= 1 and spec.recipe.batch_size >= 1
    assert spec.source.startswith("kerasdigits.models.zoo.")
    assert all(0 < acc < 1 for acc in spec.reference_accuracy.values())
    assert isinstance(spec.params, int) and spec.params > 0  # checked by building: test_models_zoo


def test_specs_carry_the_tutorial_settings() -> None:
    mlp = get_model_spec("mlp2x512")
    assert mlp.input_kind == "flat"
    assert mlp.compile_settings.optimizer == "rmsprop"
    assert (mlp.recipe.epochs, mlp.recipe.batch_size) == (20, 128)
    assert mlp.reference_accuracy == {"mnist": 0.984}
    assert dict(mlp.parameters) == {"dropout": 0.2}
    assert get_model_spec("convnet").compile_settings.optimizer == "adam"
    assert get_model_spec("mlp512").recipe.early_stopping_patience is not None
    fashion = get_model_spec("fashion_convnet")
    assert fashion.reference_accuracy == {"fashion_mnist": 0.9069}
    assert fashion.reference_accuracy.get("mnist") is None
    assert get_model_spec("lenet5").reference_accuracy.get("mnist") is None
    assert set(get_model_spec("lenet5").parameters) == {"activation", "pooling"}


def test_our_models_record_their_recipe() -> None:
    fast = get_model_spec("fast_convnet")
    accurate = get_model_spec("accurate_convnet")
    assert "fast" in fast.tags and "accurate" in accurate.tags
    assert "ours" in fast.tags and "ours" in accurate.tags
    assert fast.recipe.epochs <= 2
    assert fast.recipe.learning_rate is not None and accurate.recipe.learning_rate is not None
    assert fast.recipe.notes and accurate.recipe.notes


def test_spec_is_frozen_and_hashable() -> None:
    spec = get_model_spec("convnet")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.reference_accuracy["mnist"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        spec.parameters["x"] = 1  # type: ignore[index]
    assert hash(spec) == hash(get_model_spec("convnet"))
    assert spec == get_model_spec("convnet")


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModelError, match="Did you mean 'lenet5'") as info:
        get_model_spec("lenet")
    assert isinstance(info.value, KeyError)
    assert str(info.value).startswith("unknown model 'lenet'")  # not repr-quoted
    with pytest.raises(KeyError, match="mlp2x512"):
        build("mlp_2x512")
    with pytest.raises(UnknownModelError, match=r"list_models\(\)"):
        get_model_spec("zzzzzzzzzz")


@given(st.text(min_size=1, max_size=20).filter(lambda s: s not in ZOO))
def test_unknown_names_always_raise_a_keyerror_naming_them(name: str) -> None:
    if name in list_models():
        return
    with pytest.raises(KeyError) as info:
        get_model_spec(name)
    assert repr(name) in str(info.value)


def test_top_level_package_re_exports_the_registry() -> None:
    assert kerasdigits.build is build
    assert kerasdigits.list_models is list_models
    assert kerasdigits.get_model_spec is get_model_spec
    assert kerasdigits.register_model is register_model
    assert kerasdigits.UnknownModelError is UnknownModelError
    assert issubclass(kerasdigits.models.PluginWarning, kerasdigits.KerasDigitsWarning)


def test_registry_does_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "import kerasdigits\n"
        "import kerasdigits.models as m\n"
        "names = kerasdigits.list_models()\n"
        "assert 'convnet' in names, names\n"
        "spec = kerasdigits.get_model_spec('convnet')\n"
        "assert spec.parameters == {} and spec.recipe.epochs > 0\n"
        "heavy = sorted(n for n in ('tensorflow', 'keras') if n in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_models_command_does_not_import_tensorflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """`kerasdigits models` lists the declared parameter counts without building a model."""
    monkeypatch.setenv(_plugins.ENV_DISABLE_PLUGINS, "1")
    code = (
        "import sys\n"
        "from kerasdigits.cli import main\n"
        "assert main(['models']) == 0\n"
        "heavy = sorted(n for n in ('tensorflow', 'keras') if n in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    listing = subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                             capture_output=True, text=True).stdout
    rows = {line.split()[0]: line.split()[2] for line in listing.splitlines()[1:-1]}
    assert rows == {name: f"{get_model_spec(name).params:,}" for name in ZOO}


# --- registering ---------------------------------------------------------------------------


@pytest.mark.usefixtures("registry")
def test_register_model_records_metadata() -> None:
    recipe = Recipe(epochs=3, batch_size=32)
    settings = CompileSettings(optimizer="sgd", learning_rate=0.1)
    returned = register_model(
        "kd_reg_test",
        input_kind="flat",
        tags=("a", "b", "a"),
        styles=("functional", "sequential"),
        compile_settings=settings,
        recipe=recipe,
        reference_accuracy={"mnist": 0.9},
        params=7_850,
    )(_flat_builder)
    assert returned is _flat_builder
    spec = get_model_spec("kd_reg_test")
    assert spec.params == 7_850
    assert spec.tags == ("a", "b")
    assert spec.default_style == "functional"
    assert spec.compile_settings is settings and spec.recipe is recipe
    assert spec.builder is _flat_builder
    assert spec.source == f"{__name__}:_flat_builder"
    assert spec.registered_by == __name__  # not installed: the module name
    assert "kd_reg_test" in list_models(tags="a")


@pytest.mark.usefixtures("registry")
def test_register_model_without_parentheses() -> None:
    @register_model
    def kd_bare(*, num_classes: int = 10) -> list[Any]:
        """A bare registration.

        More text.
        """
        return []

    spec = get_model_spec("kd_bare")
    assert spec.params is None  # not declared: `kerasdigits models` builds it to count
    assert spec.description == "A bare registration."
    assert spec.input_kind == "image"
    assert spec.styles == ("sequential", "functional")


@pytest.mark.usefixtures("registry")
def test_duplicate_registration_names_both_registrants() -> None:
    register_model("kd_dup")(_flat_builder)

    def second(*, num_classes: int = 10) -> list[Any]:
        return []

    with pytest.raises(DuplicateModelError) as info:
        register_model("kd_dup")(second)
    message = str(info.value)
    assert "kd_dup" in message
    assert f"{__name__}:_flat_builder" in message
    assert f"{__name__}:test_duplicate_registration_names_both_registrants.<locals>.second" in (
        message
    )
    assert "overwrite=True" in message
    assert get_model_spec("kd_dup").builder is _flat_builder
    register_model("kd_dup", overwrite=True)(second)
    assert get_model_spec("kd_dup").builder is second

    with pytest.raises(DuplicateModelError, match="'kerasdigits'"):
        register_model("convnet")(second)
    assert get_model_spec("convnet").registered_by == "kerasdigits"


@pytest.mark.usefixtures("registry")
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "has space"}, "invalid model name"),
        ({"name": "a/b"}, "invalid model name"),
        ({"name": ""}, "invalid model name"),
        ({"styles": ("sequental",)}, "Did you mean 'sequential'"),
        ({"styles": ()}, "at least one"),
        ({"styles": ("functional",), "default_style": "sequential"}, "default_style"),
        ({"input_kind": "flatt"}, "Did you mean 'flat'"),
        ({"tags": ("",)}, "tags"),
        ({"params": 0}, "params must be a positive int, got 0"),
        ({"params": True}, "params must be a positive int, got True"),
    ],
)
def test_register_model_rejects_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    name = kwargs.pop("name", "kd_bad")
    with pytest.raises(ValueError, match=match):
        register_model(name, **kwargs)(_flat_builder)
    assert "kd_bad" not in list_models()


# --- build: argument checking (models registered here, or the zoo) -------------------------


def test_build_rejects_unknown_arguments_with_a_suggestion() -> None:
    with pytest.raises(ModelArgumentError) as info:
        build("mlp2x512", dropuot=0.1)
    assert isinstance(info.value, TypeError)
    assert str(info.value) == (
        "mlp2x512 got an unexpected argument 'dropuot'. Valid arguments: dropout. "
        "Did you mean 'dropout'?"
    )
    with pytest.raises(TypeError, match=r"mlp256 .* 'width'. Valid arguments: none"):
        build("mlp256", width=3)
    with pytest.raises(TypeError, match="activation, pooling"):
        build("lenet5", pool="max")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"style": "sequental"}, "Did you mean 'sequential'"),
        ({"num_classes": 0}, "num_classes must be an int >= 2, got 0"),
        ({"num_classes": -3}, "num_classes must be an int >= 2"),
        ({"num_classes": 1}, "num_classes must be an int >= 2"),
        ({"num_classes": True}, "num_classes"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"input_shape": (0, 28)}, "positive ints"),
        ({"input_shape": (1, 2, 3, 4)}, "1 to 3"),
        ({"input_shape": "28x28"}, "input_shape"),
        ({"preprocessing": "unitt"}, "Did you mean 'unit'"),
        ({"preprocessing": {"mode": "standard"}}, "invalid preprocessing"),
        ({"preprocessing": 255}, "preprocessing must be"),
        ({"dropout": 1.5}, r"dropout must be a number in \[0, 1\)"),
    ],
)
def test_build_rejects_bad_settings(
    kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ModelConfigError, match=match) as info:
        build("mlp2x512", **kwargs)
    assert "mlp2x512" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.usefixtures("registry")
def test_build_fixed_head_rejects_num_classes() -> None:
    @register_model("kd_fixed", input_kind="flat")
    def kd_fixed() -> list[Any]:
        """No num_classes parameter."""
        import keras

        return [keras.layers.Dense(10, activation="softmax", name="output")]

    assert build("kd_fixed", compile=False).outputs[0].shape == (None, 10)
    # An argument the builder does not take: a ModelArgumentError (a TypeError), which is
    # also a ModelConfigError (a ValueError).
    with pytest.raises(ModelArgumentError, match="kd_fixed has a fixed number of classes"):
        build("kd_fixed", num_classes=47)


@pytest.mark.usefixtures("registry")
def test_build_graph_function_model_functional_only() -> None:
    @register_model("kd_residual", input_kind="flat", styles=("functional",))
    def kd_residual(*, num_classes: int = 10) -> Any:
        """A skip connection: needs the functional API."""
        import keras

        def graph(x: Any) -> Any:
            h = keras.layers.Dense(784, activation="relu", name="dense_1")(x)
            h = keras.layers.Add(name="skip")([x, h])
            return keras.layers.Dense(num_classes, activation="softmax", name="output")(h)

        return graph

    import keras

    model = build("kd_residual", compile=False, num_classes=3)
    assert not isinstance(model, keras.Sequential)
    assert model.outputs[0].shape == (None, 3)
    with pytest.raises(ModelConfigError, match="cannot be built in the 'sequential' style"):
        build("kd_residual", style="sequential")

    # Declared for both styles but returns a graph: the error says why.
    register_model("kd_residual_both", input_kind="flat")(kd_residual)
    with pytest.raises(ModelConfigError, match=r"^kd_residual_both: the builder returns a graph"):
        build("kd_residual_both", style="sequential")


@pytest.mark.usefixtures("registry")
def test_build_catches_too_small_inputs_the_builder_did_not_check() -> None:
    @register_model("kd_pooler", input_kind="image")
    def kd_pooler(*, num_classes: int = 10) -> list[Any]:
        """Two poolings, no size check of its own."""
        import keras

        return [
            keras.layers.MaxPooling2D(2, name="pool_1"),
            keras.layers.Conv2D(4, 3, name="conv_1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(num_classes, activation="softmax", name="output"),
        ]

    assert build("kd_pooler", input_shape=(8, 8, 1), compile=False).count_params() > 0
    with pytest.raises(ModelConfigError, match=r"kd_pooler: .*input_shape \(4, 4, 1\)"):
        build("kd_pooler", input_shape=(4, 4, 1))
    with pytest.raises(ModelConfigError) as info:
        build("kd_pooler", input_shape=(1, 1, 1))
    message = str(info.value)
    assert message.startswith("kd_pooler: cannot be built with input_shape (1, 1, 1): ")
    assert "\n" not in message and "\x1b" not in message


@pytest.mark.usefixtures("registry")
def test_build_requires_required_builder_arguments() -> None:
    @register_model("kd_needs", input_kind="flat")
    def kd_needs(*, units: int, num_classes: int = 10) -> list[Any]:
        """A required option."""
        import keras

        # Both named: an automatic name depends on how many Dense layers the process made
        # before ("dense_1" clashed after another test file's models).
        return [keras.layers.Dense(units, name="dense_1"),
                keras.layers.Dense(num_classes, name="output")]

    assert get_model_spec("kd_needs").parameters == {"units": inspect.Parameter.empty}
    with pytest.raises(ModelArgumentError, match="kd_needs needs the argument"):
        build("kd_needs")
    assert build("kd_needs", units=3, compile=False).count_params() == 784 * 3 + 3 + 3 * 10 + 10


@pytest.mark.usefixtures("registry")
def test_build_reports_builder_value_errors_with_the_model_name() -> None:
    with pytest.raises(ModelConfigError, match=r"lenet5: .*no_such_activation"):
        build("lenet5", activation="no_such_activation")
    with pytest.raises(ModelConfigError, match="lenet5: unknown pooling 'median'; pooling must "
                                               "be one of 'average', 'max'"):
        build("lenet5", pooling="median")


# --- compile settings and recipes ----------------------------------------------------------


def test_recipe_learning_rates() -> None:
    constant = Recipe(epochs=4, learning_rate=0.01)
    assert constant.learning_rate_at(3, base=1.0) == 0.01
    assert constant.learning_rate_schedule(100) == 0.01
    assert Recipe().learning_rate_at(0, base=0.002) == 0.002
    cosine = Recipe(epochs=10, learning_rate=0.01, schedule="cosine", warmup_epochs=1)
    assert cosine.learning_rate_at(0, 1.0) == pytest.approx(0.001)
    assert cosine.learning_rate_at(0.5, 1.0) == pytest.approx(0.0055)
    assert cosine.learning_rate_at(1, 1.0) == pytest.approx(0.01)
    assert cosine.learning_rate_at(5.5, 1.0) == pytest.approx(0.005)
    assert cosine.learning_rate_at(10, 1.0) == pytest.approx(0.0, abs=1e-12)
    exponential = Recipe(epochs=5, learning_rate=0.1, schedule="exponential", decay_rate=0.5)
    assert exponential.learning_rate_at(2, 1.0) == pytest.approx(0.025)


def test_recipe_schedule_matches_learning_rate_at() -> None:
    recipe = Recipe(epochs=4, learning_rate=0.01, schedule="cosine", warmup_epochs=0.5)
    schedule = recipe.learning_rate_schedule(steps_per_epoch=10)
    for step in (0, 3, 5, 17, 40):
        assert float(schedule(step)) == pytest.approx(recipe.learning_rate_at(step / 10, 1.0))
    exponential = Recipe(epochs=4, learning_rate=0.1, schedule="exponential", decay_rate=0.5)
    assert float(exponential.learning_rate_schedule(10)(20)) == pytest.approx(0.025)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epochs": 0},
        {"batch_size": -1},
        {"epochs": True},
        {"learning_rate": 0.0},
        {"schedule": "linear"},
        {"warmup_epochs": 20},
        {"decay_rate": 0},
        {"early_stopping_patience": 0},
        {"early_stopping_patience": 2},  # without a validation set
        {"validation_size": 1.0},
    ],
)
def test_recipe_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs)).split("_")[0]):
        Recipe(**kwargs)


def test_recipe_and_settings_store_plain_numbers() -> None:
    """NumPy integers are ints (not bools): accepted, and stored as Python numbers."""
    import numpy as np

    recipe = Recipe(epochs=np.int64(3), batch_size=np.int32(64), validation_size=np.float32(0.5),
                    early_stopping_patience=np.int64(2))
    assert (recipe.epochs, recipe.batch_size, recipe.early_stopping_patience) == (3, 64, 2)
    assert type(recipe.epochs) is int and type(recipe.validation_size) is float
    settings = CompileSettings(steps_per_execution=np.int64(8), learning_rate=np.float32(0.5))
    assert type(settings.steps_per_execution) is int and settings.learning_rate == 0.5
    with pytest.raises(ValueError, match="epochs must be a positive int, got True"):
        Recipe(epochs=True)


def test_compile_settings_make_optimizers() -> None:
    with pytest.raises(ValueError, match="learning_rate"):
        CompileSettings(learning_rate=-1.0)
    rmsprop = CompileSettings(optimizer="rmsprop").make_optimizer()
    assert type(rmsprop).__name__ == "RMSprop"
    assert float(rmsprop.learning_rate) == pytest.approx(0.001)
    sgd = CompileSettings(optimizer="sgd", learning_rate=0.1, optimizer_options={"momentum": 0.9})
    optimizer = sgd.make_optimizer()
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    assert optimizer.momentum == pytest.approx(0.9)
    assert float(sgd.make_optimizer(0.5).learning_rate) == pytest.approx(0.5)
    kwargs = sgd.compile_kwargs()
    assert kwargs["loss"] == "sparse_categorical_crossentropy"
    assert kwargs["metrics"] == ["accuracy"]
    assert kwargs["steps_per_execution"] == 1
    with pytest.raises(ValueError, match="steps_per_execution"):
        CompileSettings(steps_per_execution=0)
