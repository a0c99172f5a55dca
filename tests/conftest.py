"""Shared fixtures: ISA forcing (the test hook). The shared helpers and oracles are in
_support.py."""

from __future__ import annotations

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
