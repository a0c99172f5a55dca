"""Build and runtime configuration: ISA path, OpenMP, threads."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from . import _core
from ._validation import check_num_threads

__all__ = ["config", "show_config", "get_num_threads", "set_num_threads"]


def get_num_threads() -> int:
    """Threads a call uses when it does not pass ``num_threads``.

    Returns
    -------
    n : int
        The global default (initially the OpenMP default, 1 without OpenMP).

    Examples
    --------
    >>> import l2loss
    >>> l2loss.get_num_threads() >= 1
    True
    """
    return int(_core.get_num_threads())


def set_num_threads(n: int | np.integer[Any]) -> int:
    """Set the default thread count for later calls; returns the previous value.

    Results never depend on the thread count (the sums are exact).

    Parameters
    ----------
    n : int
        Any integer (Python or NumPy) from 1 to 2**31 - 1; ``bool`` and non-integral
        numbers raise ValueError, as ``num_threads=`` does in every function. A call
        starts at most 4 threads per hardware thread, whatever it asks for.

    Returns
    -------
    previous : int
        The setting before this call, so that callers can restore it.

    Examples
    --------
    >>> import l2loss
    >>> previous = l2loss.set_num_threads(1)
    >>> l2loss.get_num_threads()
    1
    >>> _ = l2loss.set_num_threads(previous)
    """
    return int(_core.set_num_threads(check_num_threads(n, "n", allow_none=False)))


def config() -> dict[str, Any]:
    """The active configuration as a dict.

    Returns
    -------
    config : dict
        ``version``, ``isa`` (the kernel path in use), ``isa_best``, ``isas_supported``,
        ``isas_compiled``, ``openmp``, ``num_threads`` and ``hardware_threads``.

    Examples
    --------
    >>> import l2loss
    >>> sorted(l2loss.config())[:3]
    ['hardware_threads', 'isa', 'isa_best']
    """
    from . import __version__

    return {
        "version": __version__,
        "isa": _core.get_isa(),
        "isa_best": _core.best_isa(),
        "isas_supported": list(_core.supported_isas()),
        "isas_compiled": list(_core.compiled_isas()),
        "openmp": bool(_core.have_openmp()),
        "num_threads": get_num_threads(),
        "hardware_threads": int(_core.max_hardware_threads()),
    }


def show_config(file: Any = None) -> None:
    """Print version, ISA path in use, ISAs available, OpenMP and thread count.

    Parameters
    ----------
    file : file-like, default=None
        Where to print (default: ``sys.stdout``).

    Examples
    --------
    >>> import io
    >>> import l2loss
    >>> buffer = io.StringIO()
    >>> l2loss.show_config(buffer)
    >>> buffer.getvalue().startswith("l2loss ")
    True
    """
    c = config()
    out = sys.stdout if file is None else file
    print(f"l2loss {c['version']}", file=out)
    print(f"  ISA path in use : {c['isa']}", file=out)
    supported, compiled = ", ".join(c["isas_supported"]), ", ".join(c["isas_compiled"])
    print(f"  ISAs supported  : {supported} (compiled: {compiled})", file=out)
    openmp = "on" if c["openmp"] else "off (single-threaded build)"
    print(f"  OpenMP          : {openmp}", file=out)
    print(f"  threads         : {c['num_threads']} (hardware: {c['hardware_threads']})", file=out)
