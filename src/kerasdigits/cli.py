"""The ``kerasdigits`` command line.

Commands:
    ``kerasdigits datasets``          list datasets and where each is found (or would come from)
    ``kerasdigits summary NAME``      load a dataset and print its summary

Exit codes: 0 on success, 1 when the work fails (dataset not found, bad file, ...), 2 for usage
errors. Expected failures print a one-line ``kerasdigits: error: ...`` message, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from kerasdigits._errors import KerasDigitsError
from kerasdigits._version import __version__

__all__ = ["main"]


def _cmd_datasets(args: argparse.Namespace, out: TextIO) -> int:
    from kerasdigits.datasets import dataset_info, list_datasets, locate_dataset
    from kerasdigits.datasets._download import mirror_url

    rows = [("name", "train", "test", "location")]
    for name in list_datasets():
        info = dataset_info(name)
        source = locate_dataset(name, data_dir=args.data_dir)
        if source is not None:
            where = str(source)
        else:
            from kerasdigits._config import env_mirrors

            mirrors = env_mirrors() or info.mirrors
            first = mirror_url(mirrors[0], info.name, "") if mirrors else "(no mirror)"
            where = f"not found; would download from {first}"
        rows.append((name, f"{info.counts[0]:,}", f"{info.counts[1]:,}", where))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)))
        out.write(f"  {row[3]}\n")
    return 0


def _cmd_summary(args: argparse.Namespace, out: TextIO) -> int:
    from kerasdigits.datasets import load_dataset

    dataset = load_dataset(
        args.name,
        data_dir=args.data_dir,
        download=not args.no_download,
        validation_size=args.validation_size,
        seed=args.seed,
    )
    out.write(dataset.summary() + "\n")
    return 0


def _validation_size(text: str) -> float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a count (int) or a fraction (float), got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``kerasdigits`` command."""
    parser = argparse.ArgumentParser(
        prog="kerasdigits",
        description="From MNIST-style images to a trained Keras model running on a phone.",
    )
    parser.add_argument("--version", action="version", version=f"kerasdigits {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("datasets", help="list datasets and where each is found")
    p.add_argument("--data-dir", help="a folder to look in first (as load_dataset's data_dir)")
    p.set_defaults(func=_cmd_datasets)

    p = sub.add_parser("summary", help="load a dataset and print its summary")
    p.add_argument("name", help="dataset name, e.g. mnist, fashion_mnist, mnist_sample")
    p.add_argument("--data-dir", help="a folder to look in first")
    p.add_argument("--no-download", action="store_true", help="never download")
    p.add_argument("--validation-size", type=_validation_size, default=0,
                   help="carve a stratified validation split out of train (count or fraction)")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation split")
    p.set_defaults(func=_cmd_summary)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    stream = out or sys.stdout
    try:
        return int(args.func(args, stream))
    except (KerasDigitsError, ValueError, OSError) as exc:
        message = str(exc).strip() or type(exc).__name__
        first, _, rest = message.partition("\n")
        sys.stderr.write(f"kerasdigits: error: {first}\n")
        if rest:
            sys.stderr.write(rest + "\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("kerasdigits: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
