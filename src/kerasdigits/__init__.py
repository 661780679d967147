"""kerasdigits: from MNIST-style images to a trained Keras model running on a phone.

The top-level names are imported lazily: ``import kerasdigits`` loads neither NumPy-heavy
modules nor TensorFlow/Keras; each name is imported on first use.

Example:
    >>> import kerasdigits
    >>> ds = kerasdigits.load_dataset("mnist_sample")
    >>> len(ds.train)
    6000
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kerasdigits import _keras_hook
from kerasdigits._errors import DatasetError, KerasDigitsError, KerasDigitsWarning
from kerasdigits._version import __version__

if TYPE_CHECKING:
    from kerasdigits.datasets import (
        Dataset,
        Split,
        get_dataset_info,
        list_datasets,
        load_dataset,
        load_fashion_mnist,
        load_image_folder,
        load_mnist,
        register_dataset,
    )
    from kerasdigits.export import export_tflite
    from kerasdigits.models import (
        ModelSpec,
        UnknownModelError,
        build,
        get_model_spec,
        list_models,
        register_model,
    )
    from kerasdigits.serve import serve
    from kerasdigits.training import (
        Evaluation,
        TrainResult,
        evaluate,
        get_class_names,
        load_model,
        predict,
        save_model,
        train,
    )
    from kerasdigits.transforms import flatten, normalize, one_hot

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Dataset": "kerasdigits.datasets",
    "Split": "kerasdigits.datasets",
    "get_dataset_info": "kerasdigits.datasets",
    "list_datasets": "kerasdigits.datasets",
    "load_dataset": "kerasdigits.datasets",
    "load_fashion_mnist": "kerasdigits.datasets",
    "load_image_folder": "kerasdigits.datasets",
    "load_mnist": "kerasdigits.datasets",
    "register_dataset": "kerasdigits.datasets",
    "export_tflite": "kerasdigits.export",
    "ModelSpec": "kerasdigits.models",
    "UnknownModelError": "kerasdigits.models",
    "build": "kerasdigits.models",
    "get_model_spec": "kerasdigits.models",
    "list_models": "kerasdigits.models",
    "register_model": "kerasdigits.models",
    "serve": "kerasdigits.serve",
    "Evaluation": "kerasdigits.training",
    "TrainResult": "kerasdigits.training",
    "evaluate": "kerasdigits.training",
    "load_model": "kerasdigits.training",
    "save_model": "kerasdigits.training",
    "get_class_names": "kerasdigits.training",
    "predict": "kerasdigits.training",
    "train": "kerasdigits.training",
    "flatten": "kerasdigits.transforms",
    "normalize": "kerasdigits.transforms",
    "one_hot": "kerasdigits.transforms",
}
_SUBMODULES = (
    "callbacks",
    "cli",
    "datasets",
    "export",
    "models",
    "plots",
    "training",
    "transforms",
)

__all__ = [
    "Dataset",
    "DatasetError",
    "Evaluation",
    "KerasDigitsError",
    "KerasDigitsWarning",
    "ModelSpec",
    "Split",
    "TrainResult",
    "UnknownModelError",
    "__version__",
    "build",
    "evaluate",
    "export_tflite",
    "flatten",
    "get_class_names",
    "get_dataset_info",
    "get_model_spec",
    "list_datasets",
    "list_models",
    "load_dataset",
    "load_fashion_mnist",
    "load_image_folder",
    "load_mnist",
    "load_model",
    "normalize",
    "one_hot",
    "predict",
    "register_dataset",
    "register_model",
    "save_model",
    "serve",
    "train",
]


# Plain `keras.saving.load_model` on a kerasdigits model works after `import kerasdigits`.
_keras_hook.install()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"kerasdigits.{name}")
    raise AttributeError(f"module 'kerasdigits' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
