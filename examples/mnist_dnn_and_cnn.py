"""A sigmoid DNN and a small convnet on MNIST, built with the functional API: replaces the
"MNIST: from a DNN to a CNN" Keras tutorial.

The tutorial trains a 4 x 256 sigmoid MLP, then a convnet (2 x Conv 32 3x3, MaxPool,
Dense 128) that reaches about 0.989 test accuracy. Both are built here in the functional
style (``keras.Model(inputs, outputs)``) and trained 5 epochs each.

Usage:
    python examples/mnist_dnn_and_cnn.py [--quick] [--out DIR] [--seed N]

``--quick`` trains each model 1 epoch on the bundled ``mnist_sample`` (offline).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kerasdigits import evaluate, load_dataset, train

MODELS = {"DNN": "sigmoid4x256", "CNN": "convnet"}


# --help shows the docstring up to "Usage:" (argparse prints its own usage line).
DESCRIPTION = __doc__.partition("\nUsage:")[0].replace("``", "").strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="bundled sample, 1 epoch each")
    parser.add_argument("--out", default="runs/mnist_dnn_and_cnn", help="folder for checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    ds = load_dataset("mnist_sample" if args.quick else "mnist")
    print(ds.summary())

    accuracies = {}
    for label, name in MODELS.items():
        # style="functional" is passed on to kerasdigits.build(); the MLP flattens the 28x28
        # images itself and the convnet adds the channel axis, both inside the model.
        result = train(name, ds, epochs=1 if args.quick else 5, style="functional",
                       checkpoint_dir=Path(args.out) / name, seed=args.seed)
        result.model.summary()
        print(result)
        accuracies[label] = evaluate(result.model, ds).accuracy

    for label, name in MODELS.items():
        print(f"{label} ({name}) test accuracy: {accuracies[label]:.4f}")


if __name__ == "__main__":
    main()
