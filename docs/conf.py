"""Sphinx configuration of the kerasdigits documentation.

Build (offline; warnings are errors; the doctest run reuses the HTML build's environment)::

    python -m sphinx -W --keep-going -b html -d docs/_build/doctrees docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest -d docs/_build/doctrees docs docs/_build/doctest
    python scripts/check_api_docs.py docs/_build/html/objects.inv

or ``nox -s docs``, or ``sh docs/build.sh``. Pages under ``_generated/`` are written during the
build by ``_ext/kd_docs.py`` (API reference, tutorials, zoo and benchmark tables).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

sys.path.insert(0, str(HERE / "_ext"))
if not (ROOT / "src" / "kerasdigits").is_dir():  # pragma: no cover
    raise RuntimeError("docs/conf.py expects the kerasdigits checkout around it")
try:
    import kerasdigits
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, str(ROOT / "src"))
    import kerasdigits

# -- Project -----------------------------------------------------------------------------------

project = "kerasdigits"
author = "kerasdigits developers"
copyright = "kerasdigits developers; MIT License"
release = kerasdigits.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------------------------

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "kd_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
default_role = "py:obj"
# Not nitpicky: signatures mention NumPy, Keras and TensorFlow types, and there is no
# intersphinx (the build is offline) to resolve them.
nitpicky = False
language = "en"

# -- MyST --------------------------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc / napoleon ------------------------------------------------------------------------

autodoc_member_order = "bysource"
# Types go into the parameter lists (of documented parameters), keeping signatures short.
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
# Not autodoc_preserve_defaults: it replaces the defaults in the __signature__ of documented
# functions with strings, and Keras reads call(..., training=False) through that signature, so
# that RandomShift (kerasdigits.models.layers) would think "False" means training.
autodoc_preserve_defaults = False
autodoc_class_signature = "mixed"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_include_init_with_doc = False
napoleon_use_rtype = False
napoleon_attr_annotations = True
# Types are written with the public path of kerasdigits' objects, not the private module that
# defines them (docs/_ext/kd_docs.py rewrites them). Literal["auto", "test"] is shown as
# 'auto' | 'test': after a Literal[...], Sphinx 9 stops linking the rest of a union.
python_display_short_literal_types = True

# -- doctest -----------------------------------------------------------------------------------

# Every document's examples run in a fresh scratch folder (some write files) with a private
# kerasdigits cache, so the build leaves nothing behind and never reads a user's downloads.
doctest_global_setup = """
import os as _kd_os, tempfile as _kd_tempfile
_kd_cwd = _kd_os.getcwd()
_kd_env = {k: _kd_os.environ.get(k) for k in ("KERASDIGITS_HOME", "KERASDIGITS_DATA_DIR")}
_kd_tmp = _kd_tempfile.TemporaryDirectory(prefix="kerasdigits-doctest-")
_kd_os.chdir(_kd_tmp.name)
_kd_os.environ["KERASDIGITS_HOME"] = _kd_os.path.join(_kd_tmp.name, ".kerasdigits")
_kd_os.environ.pop("KERASDIGITS_DATA_DIR", None)
"""
doctest_global_cleanup = """
_kd_os.chdir(_kd_cwd)
for _kd_key, _kd_value in _kd_env.items():
    if _kd_value is None:
        _kd_os.environ.pop(_kd_key, None)
    else:
        _kd_os.environ[_kd_key] = _kd_value
_kd_tmp.cleanup()
"""
doctest_test_doctest_blocks = "default"
trim_doctest_flags = True

# -- HTML --------------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"kerasdigits {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {"navigation_with_keys": True}
pygments_style = "sphinx"
pygments_dark_style = "monokai"
