"""Shared fixtures: ISA forcing (the test hook). The shared helpers and oracles are in
_support.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from _support import ALL_ISAS
from l2loss import _core


@pytest.fixture(params=ALL_ISAS)
def isa(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once per kernel path, forced through the test hook."""
    name = request.param
    if name not in _core.supported_isas():
        pytest.skip(f"ISA {name} is not supported by this CPU/OS or build")
    previous = _core.get_isa()
    _core.set_isa(name)
    try:
        yield name
    finally:
        _core.set_isa(previous)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The one gate for `slow` tests: they run only when asked for, with ``-m slow`` (or an
    expression selecting it) or ``L2LOSS_RUN_SLOW=1``. pyproject's addopts deselect them
    already (``-m "not slow"``), but a command line passing its own ``-m`` (``-m timing``)
    replaces that, and they must stay out then too."""
    expr = config.getoption("markexpr") or ""
    if os.environ.get("L2LOSS_RUN_SLOW") == "1" or ("slow" in expr and "not slow" not in expr):
        return
    skip = pytest.mark.skip(reason="slow: select with -m slow or L2LOSS_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
