#!/bin/sh
# Build the documentation offline, as CI and `nox -s docs` do, in the current environment
# (which needs the package and its `docs` extra: pip install -e ".[docs]").
#
#   sh docs/build.sh            HTML in docs/_build/html, warnings as errors, doctests, API check
#
# The HTML build runs every examples/*.py with --quick (results cached in docs/_generated/);
# the doctest build reuses its environment (docs/_build/doctrees).
set -eu
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
python -m sphinx -W --keep-going -b html -d docs/_build/doctrees docs docs/_build/html
python -m sphinx -W --keep-going -b doctest -d docs/_build/doctrees docs docs/_build/doctest
python scripts/check_api_docs.py docs/_build/html/objects.inv
