"""The inputs and every implementation timed against l2loss, bound to one input ("candidates").

Each peer is written the way its users would write the computation, and is used when its
package is installed. Thread counts: l2loss takes ``num_threads=`` per call, the probe a
thread argument; numexpr, numba and torch have a global knob, set before every sample
(``Candidate.prepare``, untimed) so that their 1- and 2-thread variants can be interleaved in one
case. NumPy, scikit-learn and simsimd have no thread knob for these calls and run on one core.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import accuracy
import l2loss
import numpy as np
from l2loss import _core
from timing import Candidate

PEER_FAMILIES = ("numpy", "sklearn", "numexpr", "numba", "simsimd", "torch")
STREAM_CHUNK = 10**6


# --------------------------------------------------------------------------- inputs


@dataclass
class Inputs:
    """y_true/y_pred (and weights) of one case, plus the contiguous arrays the probe reads."""

    n: int
    dtype: str
    layout: str  # "contiguous" or "strided" (every second element of arrays twice as long)
    weighted: bool
    t: np.ndarray
    p: np.ndarray
    w: np.ndarray | None
    probe_a: np.ndarray  # the memory the inputs span: the 2n-element parents when strided
    probe_b: np.ndarray

    @property
    def stride(self) -> int:
        return 2 if self.layout == "strided" else 1

    @property
    def bytes_used(self) -> int:
        """Bytes of the elements a call uses: y_true + y_pred (+ weights), each once."""
        return self.n * np.dtype(self.dtype).itemsize * (3 if self.weighted else 2)


def make_inputs(
    n: int, dtype: str, seed: int, layout: str = "contiguous", weighted: bool = False, kind: str = "benign"
) -> Inputs:
    """Seeded data of one kind; a strided layout is ``a[::2]`` of arrays of 2n elements."""
    stride = 2 if layout == "strided" else 1
    t_full, p_full = accuracy.make_data(kind, n * stride, dtype, seed)
    w = None
    if weighted:
        w = np.random.default_rng(seed + 1).uniform(0.5, 2.0, n * stride).astype(dtype)[::stride]
    return Inputs(n, dtype, layout, weighted, t_full[::stride], p_full[::stride], w, t_full, p_full)


# --------------------------------------------------------------------------- plain peers


def numpy_mse(t: np.ndarray, p: np.ndarray) -> Any:
    return np.mean((t - p) ** 2)


def numpy_wmse(t: np.ndarray, p: np.ndarray, w: np.ndarray) -> Any:
    return np.average((t - p) ** 2, weights=w)


def numpy_report(t: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """What a NumPy user writes for the seven numbers of l2loss.regression_report."""
    d = p - t
    mse = np.mean(d**2)
    var_t = np.var(t)
    return {
        "mse": mse,
        "rmse": np.sqrt(mse),
        "mae": np.mean(np.abs(d)),
        "r2": 1.0 - mse / var_t,
        "explained_variance": 1.0 - np.var(d) / var_t,
        "max_error": np.max(np.abs(d)),
        "mean_error": np.mean(d),
    }


def numpy_value_and_grad(t: np.ndarray, p: np.ndarray) -> tuple[Any, np.ndarray]:
    d = p - t
    return np.mean(d * d), (2.0 / d.size) * d


def numpy_stream(t: np.ndarray, p: np.ndarray) -> float:
    """A running float64 sum of squared errors over 1e6-element chunks (what a streaming user writes)."""
    total = 0.0
    for i in range(0, t.size, STREAM_CHUNK):
        d = p[i : i + STREAM_CHUNK] - t[i : i + STREAM_CHUNK]
        total += float(np.dot(d, d))
    return total / t.size


def l2loss_stream(t: np.ndarray, p: np.ndarray, num_threads: int) -> Any:
    acc = l2loss.RegressionAccumulator(num_threads=num_threads)
    for i in range(0, t.size, STREAM_CHUNK):
        acc.update(t[i : i + STREAM_CHUNK], p[i : i + STREAM_CHUNK])
    return acc.compute()


def _import(name: str) -> Any:
    """The module if it is installed, else None."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


@functools.cache
def numba_kernels() -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """(mse, weighted mse): ``@njit(parallel=True, fastmath=True)`` prange loops, compiled on first call."""
    numba = _import("numba")
    if numba is None:
        return None

    @numba.njit(parallel=True, fastmath=True, cache=False)
    def mse(t: np.ndarray, p: np.ndarray) -> float:  # pragma: no cover - compiled
        s = 0.0
        for i in numba.prange(t.shape[0]):
            d = t[i] - p[i]
            s += d * d
        return s / t.shape[0]

    @numba.njit(parallel=True, fastmath=True, cache=False)
    def wmse(t: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:  # pragma: no cover - compiled
        s = 0.0
        sw = 0.0
        for i in numba.prange(t.shape[0]):
            d = t[i] - p[i]
            s += w[i] * (d * d)
            sw += w[i]
        return s / sw

    return mse, wmse


def thread_knobs(families: Sequence[str]) -> dict[str, str]:
    """What sets each library's thread count in this runner (shown in the machine header)."""
    knobs = {"l2loss": "`num_threads=` per call", "bandwidth probe": "its `num_threads` argument"}
    fixed = {"numpy": "NumPy", "sklearn": "sklearn", "simsimd": "simsimd"}
    for family in families:
        module = _import(family)
        if module is None:
            continue
        if family in fixed:
            knobs[fixed[family]] = "no knob: one core"
        elif family == "numexpr":
            knobs["numexpr"] = "`numexpr.set_num_threads`"
        elif family == "numba":
            try:
                layer = module.threading_layer()  # known once a parallel function has run
            except ValueError:
                layer = module.config.THREADING_LAYER
            knobs["numba"] = f"`numba.set_num_threads` (threading layer: {layer})"
        elif family == "torch":
            knobs["torch"] = "`torch.set_num_threads` (intra-op pool)"
    return knobs


# --------------------------------------------------------------------------- candidates


def _setter(set_num_threads: Callable[[int], Any], k: int) -> Callable[[], None]:
    """A `prepare` hook that sets a library's global thread count to k."""

    def prepare() -> None:
        set_num_threads(k)

    return prepare


def mse_candidates(
    inp: Inputs, threads: Sequence[int], families: Sequence[str] = PEER_FAMILIES, probe: bool = True
) -> list[Candidate]:
    """l2loss and every installed peer computing the (weighted) MSE of one input, per thread count."""
    t, p, w = inp.t, inp.p, inp.w
    args = (t, p) if w is None else (t, p, w)
    nbytes = inp.bytes_used
    out: list[Candidate] = []
    for k in threads:
        # as a user writes it: an explicit sample_weight=None would take l2loss off its fast path
        weights = {} if w is None else {"sample_weight": w}
        fn = functools.partial(l2loss.mean_squared_error, num_threads=k, **weights)
        out.append(
            Candidate(
                f"l2loss@{k}",
                "l2loss.mean_squared_error",
                fn,
                (t, p),
                role="l2loss",
                threads=k,
                bytes_read=nbytes,
            )
        )
    if probe:
        simple = inp.layout == "contiguous" and not inp.weighted  # the probe's value is that of the inputs
        for k in threads:
            out.append(
                Candidate(
                    f"probe@{k}",
                    "bandwidth probe",
                    _core._bandwidth_probe,
                    (inp.probe_a, inp.probe_b, k),
                    role="probe",
                    threads=k,
                    bytes_read=inp.probe_a.nbytes + inp.probe_b.nbytes,
                    value_of=(lambda v: v / inp.n) if simple else (lambda v: None),
                )
            )
    if "numpy" in families:
        out.append(
            Candidate(
                "numpy",
                "NumPy mean((t-p)**2)" if w is None else "NumPy average((t-p)**2, w)",
                numpy_mse if w is None else numpy_wmse,
                args,
                role="numpy",
                bytes_read=nbytes,
            )
        )
    skm = _import("sklearn.metrics") if "sklearn" in families else None
    if skm is not None:
        fn = (
            skm.mean_squared_error
            if w is None
            else functools.partial(skm.mean_squared_error, sample_weight=w)
        )
        out.append(
            Candidate("sklearn", "sklearn mean_squared_error", fn, (t, p), role="sklearn", bytes_read=nbytes)
        )
    ne = _import("numexpr") if "numexpr" in families else None
    if ne is not None:
        if w is None:

            def ne_fn(a: np.ndarray, b: np.ndarray) -> Any:
                return ne.evaluate("sum((a-b)**2)", local_dict={"a": a, "b": b}) / a.size
        else:

            def ne_fn(a: np.ndarray, b: np.ndarray, v: np.ndarray) -> Any:
                s = ne.evaluate("sum(v*(a-b)**2)", local_dict={"a": a, "b": b, "v": v})
                return s / ne.evaluate("sum(v)", local_dict={"v": v})

        name = "numexpr sum((a-b)**2)/n" if w is None else "numexpr sum(w*(a-b)**2)/sum(w)"
        for k in threads:
            out.append(
                Candidate(
                    f"numexpr@{k}",
                    name,
                    ne_fn,
                    args,
                    threads=k,
                    prepare=_setter(ne.set_num_threads, k),
                    bytes_read=nbytes,
                )
            )
    kernels = numba_kernels() if "numba" in families else None
    if kernels is not None:
        import numba

        for k in threads:
            out.append(
                Candidate(
                    f"numba@{k}",
                    "numba prange fastmath",
                    kernels[0] if w is None else kernels[1],
                    args,
                    threads=k,
                    prepare=_setter(numba.set_num_threads, k),
                    bytes_read=nbytes,
                )
            )
    simsimd = _import("simsimd") if "simsimd" in families else None
    if simsimd is not None and w is None and inp.layout == "contiguous":  # no weights; contiguous only
        out.append(
            Candidate(
                "simsimd",
                "simsimd sqeuclidean/n",
                lambda a, b: simsimd.sqeuclidean(a, b) / a.size,
                (t, p),
                bytes_read=nbytes,
            )
        )
    torch = _import("torch") if "torch" in families else None
    if torch is not None:
        tt, tp = torch.from_numpy(t), torch.from_numpy(p)  # zero-copy views, made once
        if w is None:
            fn, targs, name = torch.nn.functional.mse_loss, (tp, tt), "torch F.mse_loss"
        else:

            def fn(a: Any, b: Any, v: Any) -> Any:
                return (v * (a - b) ** 2).sum() / v.sum()

            targs, name = (tp, tt, torch.from_numpy(w)), "torch (w*(p-t)**2).sum()/w.sum()"
        for k in threads:
            out.append(
                Candidate(
                    f"torch@{k}",
                    name,
                    fn,
                    targs,
                    threads=k,
                    prepare=_setter(torch.set_num_threads, k),
                    bytes_read=nbytes,
                )
            )
    return out


def accuracy_candidates(inp: Inputs, threads: Sequence[int], families: Sequence[str]) -> list[Candidate]:
    """The MSE candidates without the probe, plus l2loss's exact=True mode."""
    exact = functools.partial(l2loss.mean_squared_error, exact=True)
    return [
        *mse_candidates(inp, threads, families, probe=False),
        Candidate("l2loss-exact", "l2loss exact=True", exact, (inp.t, inp.p), role="l2loss"),
    ]


def latency_candidates(inp: Inputs, threads: int, families: Sequence[str]) -> list[Candidate]:
    """One call of each at its default settings; l2loss exactly as a user calls it (no keywords)."""
    cands = [c for c in mse_candidates(inp, [threads], families, probe=False)]
    return [
        Candidate(
            "l2loss",
            "l2loss.mean_squared_error",
            l2loss.mean_squared_error,
            (inp.t, inp.p),
            role="l2loss",
            bytes_read=inp.bytes_used,
        ),
        *[c for c in cands if c.role != "l2loss"],
    ]


def ops_candidates(inp: Inputs, threads: int, families: Sequence[str]) -> list[Candidate]:
    """regression_report, mse_value_and_grad and the streaming accumulator, each against its peers."""
    t, p, n2 = inp.t, inp.p, inp.bytes_used
    k = threads
    grad_out = np.empty(inp.n, dtype=inp.dtype)  # float32 inputs give a float32 gradient
    out = [
        Candidate(
            f"probe@{k}",
            "bandwidth probe",
            _core._bandwidth_probe,
            (t, p, k),
            group="report",
            role="probe",
            threads=k,
            bytes_read=n2,
            value_of=lambda v: v / inp.n,
        ),
        Candidate(
            "l2loss-report",
            "l2loss.regression_report",
            functools.partial(l2loss.regression_report, num_threads=k),
            (t, p),
            group="report",
            role="l2loss",
            threads=k,
            bytes_read=n2,
        ),
        Candidate(
            "l2loss-mse",
            "l2loss.mean_squared_error (for scale)",
            functools.partial(l2loss.mean_squared_error, num_threads=k),
            (t, p),
            group="report",
            threads=k,
            bytes_read=n2,
        ),
        Candidate(
            "numpy-report",
            "NumPy, 7 metrics",
            numpy_report,
            (t, p),
            group="report",
            role="numpy",
            bytes_read=n2,
        ),
        # grad rows move 1.5x the bytes: read y_true and y_pred, write the gradient
        Candidate(
            "l2loss-grad",
            "l2loss.mse_value_and_grad(out=)",
            functools.partial(l2loss.mse_value_and_grad, out=grad_out, num_threads=k),
            (t, p),
            group="grad",
            role="l2loss",
            threads=k,
            bytes_read=n2 + grad_out.nbytes,
        ),
        Candidate(
            "numpy-grad",
            "NumPy loss + gradient",
            numpy_value_and_grad,
            (t, p),
            group="grad",
            role="numpy",
            bytes_read=n2 + grad_out.nbytes,
        ),
        Candidate(
            "l2loss-stream",
            f"RegressionAccumulator, {STREAM_CHUNK:.0e} chunks",
            functools.partial(l2loss_stream, num_threads=k),
            (t, p),
            group="stream",
            role="l2loss",
            threads=k,
            bytes_read=n2,
        ),
        Candidate(
            "numpy-stream",
            f"NumPy running sum, {STREAM_CHUNK:.0e} chunks",
            numpy_stream,
            (t, p),
            group="stream",
            role="numpy",
            bytes_read=n2,
        ),
    ]
    skm = _import("sklearn.metrics") if "sklearn" in families else None
    if skm is not None:

        def sklearn_report(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
            return {
                "mse": skm.mean_squared_error(a, b),
                "rmse": skm.root_mean_squared_error(a, b),
                "mae": skm.mean_absolute_error(a, b),
                "r2": skm.r2_score(a, b),
                "explained_variance": skm.explained_variance_score(a, b),
                "max_error": skm.max_error(a, b),
                "mean_error": np.mean(b - a),
            }

        out.append(
            Candidate(
                "sklearn-report",
                "sklearn, 6 metrics + bias",
                sklearn_report,
                (t, p),
                group="report",
                role="sklearn",
                bytes_read=n2,
            )
        )
    torch = _import("torch") if "torch" in families else None
    if torch is not None:
        tt = torch.from_numpy(t)
        tp = torch.from_numpy(p.copy()).requires_grad_()

        def torch_fb() -> Any:
            tp.grad = None
            loss = torch.nn.functional.mse_loss(tp, tt)
            loss.backward()
            return loss.detach()

        out.append(
            Candidate(
                f"torch-grad@{k}",
                "torch F.mse_loss forward+backward",
                torch_fb,
                (),
                group="grad",
                threads=k,
                prepare=_setter(torch.set_num_threads, k),
                bytes_read=n2 + grad_out.nbytes,
            )
        )
    return out
