"""Coverage-guided fuzzing of l2loss's native entry points with atheris (libFuzzer for Python).

Targets, chosen by the first input byte:

0. ``_core.ReduceResult.from_bytes`` on the raw bytes: must be a state or a ValueError; an
   accepted state must re-serialise stably and (when its fields are within what real
   data can produce) survive merge / finalisation.
1. ``RegressionAccumulator.from_bytes`` (a correct checksum is appended half the time so
   that the inner state reader is reached).
2. The public metric functions on arrays decoded from the bytes: any dtype (float16/32/64,
   ints, bools), shapes (n,) / (n, k), strides (sliced, reversed), byte order, and raw
   bit patterns (NaN payloads, infinities, subnormals). A call either raises
   ValueError / TypeError / ZeroDivisionError or returns a value that is bitwise the same
   for 1 and 2 threads and for every supported ISA; 1-D float64 MSE is also checked against
   an exact Fraction oracle.
3. ``_core.reduce`` directly with arbitrary ``sums`` masks, log1p, weights and a gradient
   buffer: ValueError / TypeError only, never a crash.

Run (see fuzz/README.md):  python fuzz/fuzz_bindings.py fuzz/corpus -max_total_time=300
Seed corpus:               python fuzz/fuzz_bindings.py --make-seeds fuzz/corpus
"""

from __future__ import annotations

import os
import struct
import sys
import warnings
import zlib
from fractions import Fraction

import atheris
import numpy as np

with atheris.instrument_imports(include=["l2loss"]):
    import l2loss
    from l2loss import _core

warnings.simplefilter("ignore")
ALLOWED = (ValueError, TypeError, ZeroDivisionError)
ISAS = list(_core.supported_isas())
DTYPES = [np.float64, np.float32, np.float16, np.int8, np.int32, np.int64, np.uint8, np.bool_]
METRICS = [
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "mean_squared_log_error",
    "root_mean_squared_log_error",
    "r2_score",
    "explained_variance_score",
    "max_error",
    "regression_report",
]
SAFE = 2**61  # from_bytes rejects >= 2**62; one merge of a state below this cannot reach it


def fingerprint(v):
    if isinstance(v, l2loss.RegressionReport):
        return tuple(
            fingerprint(getattr(v, f))
            for f in (
                "mse",
                "rmse",
                "mae",
                "r2",
                "explained_variance",
                "max_error",
                "mean_error",
                "weight_sum",
            )
        )
    if isinstance(v, np.ndarray):
        return (v.dtype.str, v.shape, v.tobytes())
    return struct.pack("<d", float(v))


def exact_mean_sq(y: np.ndarray, p: np.ndarray) -> float:
    total = 0
    for t, q in zip(y.tolist(), p.tolist()):
        d = q - t
        if d * d == float("inf"):
            return float("inf")  # NaN inputs raise before this oracle is consulted
        num, den = (d * d).as_integer_ratio()
        total += num << (1074 - (den.bit_length() - 1))
    try:
        return float(Fraction(total, (1 << 1074) * len(y)))
    except OverflowError:
        return float("inf")


def state_is_safe(r) -> bool:
    """Reject states beyond real data: the known overflow bugs (tests/test_fuzz_bytes.py)."""
    b = r.to_bytes()
    if r.n_rows >= SAFE:
        return False
    # Any top-digit (index 66) accumulator with a large value: scan the encoding conservatively.
    i = b.find(bytes([66, 1]))
    while i != -1:
        if i + 10 <= len(b) and struct.unpack_from("<q", b, i + 2)[0] >= SAFE:
            return False
        i = b.find(bytes([66, 1]), i + 1)
    return True


def target_reduction(data: bytes) -> None:
    try:
        r = _core.ReduceResult.from_bytes(data)
    except ValueError:
        return
    b1 = r.to_bytes()
    assert b1 == data, "an accepted state must be in canonical form"
    r2 = _core.ReduceResult.from_bytes(b1)
    assert r2.to_bytes() == b1, "re-serialisation is not stable"
    if not state_is_safe(r):
        return
    for fn in (r.weight_sum, r.max_abs, r.r2_parts, r.explained_variance_parts):
        try:
            fn()
        except (ValueError, ArithmeticError):
            pass
    for acc in (_core.ACC_SQ, _core.ACC_ABS, _core.ACC_DIFF):
        try:
            r.mean(acc), r.total(acc), r.grand_mean(acc)
        except (ValueError, ArithmeticError):
            pass
    twin = r.copy()
    twin.merge(r)
    assert twin.n_rows == 2 * r.n_rows


def target_accumulator(data: bytes, fix_crc: bool) -> None:
    if fix_crc and len(data) >= 4:
        data = data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))
    try:
        acc = l2loss.RegressionAccumulator.from_bytes(data)
    except ValueError:
        return
    inner = acc._state
    if inner is not None and not state_is_safe(inner):
        return
    blob = acc.to_bytes()
    assert l2loss.RegressionAccumulator.from_bytes(blob).to_bytes() == blob
    try:
        acc.compute()
    except (ValueError, ArithmeticError):
        pass


def decode_array(fdp: atheris.FuzzedDataProvider, n: int, k: int) -> np.ndarray:
    dtype = np.dtype(DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)])
    count = n * max(k, 1)
    raw = fdp.ConsumeBytes(count * dtype.itemsize)
    raw = raw + bytes(count * dtype.itemsize - len(raw))
    a = np.frombuffer(raw, dtype=dtype).copy()
    if dtype.kind == "b":
        a = a.view(np.uint8).astype(bool)
    a = a.reshape((n, k) if k else (n,))
    layout = fdp.ConsumeIntInRange(0, 4)
    if layout == 1:
        a = a[::-1]
    elif layout == 2:
        big = np.zeros((2 * n,) + a.shape[1:], dtype=a.dtype)
        big[::2] = a
        a = big[::2]
    elif layout == 3 and dtype.kind == "f":
        a = a.astype(a.dtype.newbyteorder())
    elif layout == 4 and a.ndim == 2:
        a = np.asfortranarray(a)
    return a


def target_metrics(fdp: atheris.FuzzedDataProvider) -> None:
    name = METRICS[fdp.ConsumeIntInRange(0, len(METRICS) - 1)]
    n = fdp.ConsumeIntInRange(0, 40)
    k = fdp.ConsumeIntInRange(0, 3) if name != "max_error" else 0
    y = decode_array(fdp, n, k)
    p = decode_array(fdp, n if fdp.ConsumeBool() else fdp.ConsumeIntInRange(0, 40), k)
    kwargs = {}
    if name != "max_error":
        if fdp.ConsumeBool():
            kwargs["sample_weight"] = decode_array(fdp, n, 0)
        mo = fdp.ConsumeIntInRange(0, 3)
        if mo == 1:
            kwargs["multioutput"] = "raw_values"
        elif mo == 2 and k > 1:
            kwargs["multioutput"] = np.frombuffer(
                fdp.ConsumeBytes(8 * k).ljust(8 * k, b"\0"), dtype=np.float64
            )
    fn = getattr(l2loss, name)
    results = []
    previous = _core.get_isa()
    try:
        for threads, isa in ((1, previous), (2, previous), (1, ISAS[0]), (2, ISAS[-1])):
            _core.set_isa(isa)
            try:
                results.append(fingerprint(fn(y, p, num_threads=threads, **kwargs)))
            except ALLOWED as exc:
                results.append(type(exc))
    finally:
        _core.set_isa(previous)
    assert all(r == results[0] for r in results), f"{name}: results differ across threads/ISAs: {results}"
    if (
        name == "mean_squared_error"
        and not kwargs
        and isinstance(results[0], tuple) is False
        and not isinstance(results[0], type)
        and y.ndim == 1
        and y.dtype == np.float64
        and p.dtype == np.float64
        and y.dtype.isnative
        and p.dtype.isnative
        and n
        and p.shape == y.shape
    ):
        got = struct.unpack("<d", results[0])[0]
        assert got == exact_mean_sq(y, p), (got, exact_mean_sq(y, p))


def target_reduce(fdp: atheris.FuzzedDataProvider) -> None:
    n = fdp.ConsumeIntInRange(0, 64)
    k = fdp.ConsumeIntInRange(0, 3)
    y, p = decode_array(fdp, n, k), decode_array(fdp, n, k)
    w = decode_array(fdp, n, 0) if fdp.ConsumeBool() else None
    sums = fdp.ConsumeIntInRange(0, 0xFFFF)
    grad = np.zeros(p.shape, dtype=p.dtype) if fdp.ConsumeBool() and p.dtype.kind == "f" else None
    try:
        r = _core.reduce(
            y,
            p,
            w,
            sums=sums,
            log1p=fdp.ConsumeBool(),
            num_threads=fdp.ConsumeIntInRange(0, 3),
            grad_out=grad,
            grad_scale=fdp.ConsumeFloat(),
        )
    except (ValueError, TypeError):
        return
    r.to_bytes()
    for acc in (_core.ACC_SQ, _core.ACC_ABS, _core.ACC_DIFF):
        r.mean(acc), r.total(acc)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    which, rest = data[0] % 5, data[1:]
    if which == 0:
        target_reduction(rest)
    elif which == 1:
        target_accumulator(rest, fix_crc=False)
    elif which == 2:
        target_accumulator(rest, fix_crc=True)
    elif which == 3:
        target_metrics(atheris.FuzzedDataProvider(rest))
    else:
        target_reduce(atheris.FuzzedDataProvider(rest))


def make_seeds(directory: str) -> None:
    """Valid states and accumulators as a starting corpus."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    seeds = []
    y, p, w = rng.standard_normal((50, 2)), rng.standard_normal((50, 2)), rng.uniform(0, 2, 50)
    seeds.append(b"\x00" + _core.reduce(y, p, w, sums=0x7F).to_bytes())
    seeds.append(b"\x00" + _core.reduce(y[:, 0], p[:, 0], None).to_bytes())
    acc = l2loss.RegressionAccumulator()
    acc.update(y, p, sample_weight=w)
    seeds.append(b"\x01" + acc.to_bytes())
    seeds.append(b"\x02" + acc.to_bytes())
    seeds.append(b"\x03" + os.urandom(200))
    seeds.append(b"\x04" + os.urandom(200))
    for i, s in enumerate(seeds):
        with open(os.path.join(directory, f"seed{i}"), "wb") as f:
            f.write(s)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--make-seeds":
        make_seeds(sys.argv[2])
        sys.exit(0)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
