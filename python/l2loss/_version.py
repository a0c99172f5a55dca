"""The package version, read from one source: ``pyproject.toml``'s ``[project] version``.

An installed l2loss reads it from its own metadata (written from pyproject.toml by the
build); a source checkout run in place (``PYTHONPATH=python``) reads the checkout's
pyproject.toml, so the two can never disagree with the file.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

__all__ = ["__version__"]


def _from_source_tree() -> str | None:
    """The version in ``pyproject.toml`` when this package runs from a source checkout."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if project is None or not re.search(r'^name\s*=\s*"l2loss"\s*$', project.group(1), re.M):
        return None
    found = re.search(r'^version\s*=\s*"([^"]+)"\s*$', project.group(1), re.M)
    return found.group(1) if found else None


def _version() -> str:
    source = _from_source_tree()
    if source is not None:
        return source
    try:
        return metadata.version("l2loss")
    except metadata.PackageNotFoundError:  # neither installed nor in a checkout
        return "0+unknown"


__version__ = _version()
