"""A convnet on Fashion-MNIST: replaces the TensorFlow blog post "Fashion-MNIST with
tf.Keras" (2018).

The post's model (Conv 64 2x2, MaxPool, Dropout 0.3, Conv 32 2x2, MaxPool, Dropout 0.3,
Dense 256, Dropout 0.5, softmax; Adam) trains on 55,000 images, validates on the other 5,000,
batch 64, 10 epochs, and reports 0.9069 test accuracy.

Usage:
    python examples/fashion_mnist_cnn.py [--quick] [--out DIR] [--seed N]

``--quick`` trains 1 epoch on the bundled ``fashion_mnist_sample`` (3,600 / 400 images).
"""

from __future__ import annotations

import argparse

from kerasdigits import evaluate, load_dataset, train

# --help shows the docstring up to "Usage:" (argparse prints its own usage line).
DESCRIPTION = __doc__.partition("\nUsage:")[0].replace("``", "").strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="bundled sample, 1 epoch")
    parser.add_argument("--out", default="runs/fashion_mnist_cnn", help="folder for checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # The post's split: 5,000 training images held out for validation (stratified, seeded).
    if args.quick:
        ds = load_dataset("fashion_mnist_sample", validation_size=400, seed=args.seed)
    else:
        ds = load_dataset("fashion_mnist", validation_size=5000, seed=args.seed)
    print(ds.summary())

    # train() validates on ds.validation; the best epoch (lowest validation loss) is
    # checkpointed into --out and its weights are the ones returned.
    result = train("fashion_convnet", ds, epochs=1 if args.quick else 10, batch_size=64,
                   checkpoint_dir=args.out, seed=args.seed)
    print(result)

    evaluation = evaluate(result.model, ds)  # the per-class table names the clothes
    print(evaluation)
    print(f"test accuracy: {evaluation.accuracy:.4f}")


if __name__ == "__main__":
    main()
