"""Sphinx configuration of the l2loss API reference.

Build (needs ``pip install ".[docs]"`` and an importable l2loss, installed or built in
place with ``PYTHONPATH=python``)::

    python -m sphinx -W -b html docs docs/_build/html

The pages are generated from the docstrings (numpydoc format, read by napoleon); their
examples run as doctests in the test suite (tests/test_docstrings.py).
"""

from __future__ import annotations

import importlib.util

import l2loss

project = "l2loss"
author = "l2loss developers"
copyright = "2026, l2loss developers"
release = l2loss.__version__
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.intersphinx"]
exclude_patterns = ["_build", "reliability.md", "dask.md"]
source_suffix = {".rst": "restructuredtext"}

# Optional integrations document themselves whether or not they are installed here.
autodoc_mock_imports = [m for m in ("torch", "dask", "distributed") if importlib.util.find_spec(m) is None]
autodoc_typehints = "none"  # the numpydoc sections carry the types
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

intersphinx_mapping: dict[str, tuple[str, None]] = {}  # offline builds: no external inventories

html_theme = "alabaster"
html_title = f"l2loss {release}"
