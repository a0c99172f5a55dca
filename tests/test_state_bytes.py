"""RegressionAccumulator.from_bytes accepts only what to_bytes writes, at a memory cost bounded by the blob.

Regressions for the hostile probe of issue #14 (defects 3, 4, 5 and 8) and the law behind
them: ``from_bytes(b).to_bytes() == b`` for every blob ``b`` that is accepted, checked on
mutated valid blobs whose checksum is recomputed (so the CRC cannot hide a hole). Oracles:
the blob itself (byte equality), the state format as written down in cpp/src/state.cpp,
scikit-learn (working dtypes), the kernel's peak-RSS counter VmHWM (memory).
"""

from __future__ import annotations

import copy
import pickle
import struct
import subprocess
import sys
import textwrap
import warnings
import zlib
from pathlib import Path

import l2loss
import ml_dtypes
import numpy as np
import pytest
import sklearn.metrics as skm
from _support import bits, timing_sensitive
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from l2loss import RegressionAccumulator, _core

HEADER = 11  # magic, version, dtype code, flags, n_outputs (u32)
LENGTH = 8  # u64 length of the main state
K = (len(_core.ReduceResult.empty(1, _core.SUM_SQ).to_bytes()) - 43) // 4  # accumulators per column
MIN_COLUMN_BYTES = 8 + 4 * K
PYTHON_DIR = str(Path(l2loss.__file__).resolve().parent.parent)


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def split(blob: bytes) -> tuple[bytes, bytes, bytes]:
    """(header, main state, exact state) of a serialized accumulator that holds data."""
    (size,) = struct.unpack_from("<Q", blob, HEADER)
    start = HEADER + LENGTH
    return blob[:HEADER], blob[start : start + size], blob[start + size : -4]


def join(header: bytes, main: bytes, exact: bytes = b"", length: int | None = None) -> bytes:
    size = len(main) if length is None else length
    return with_crc(header + struct.pack("<Q", size) + main + exact)


def data(n: int, k: int = 0, seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    shape = (n,) if k == 0 else (n, k)
    y = rng.standard_normal(shape).astype(dtype)
    return y, (y + rng.standard_normal(shape)).astype(dtype), rng.uniform(0.5, 2.0, n)


# ---- defect 4: the inner length field ------------------------------------------------------


@pytest.mark.parametrize("delta", [1, 2, 7, 1000, 2**40, 2**64 - 1 - 10**6])
def test_inner_length_larger_than_the_state_is_rejected(delta: int) -> None:
    """Issue #14 defect 4: any length >= the real one used to be accepted (and to_bytes differed)."""
    y, p, _ = data(20)
    blob = RegressionAccumulator().update(y, p).to_bytes()
    header, main, _exact = split(blob)
    assert join(header, main) == blob
    with pytest.raises(ValueError, match="length"):
        RegressionAccumulator.from_bytes(join(header, main, length=len(main) + delta))


@pytest.mark.parametrize("exact", [False, True])
def test_inner_length_smaller_than_the_state_is_rejected(exact: bool) -> None:
    y, p, _ = data(20, 2)
    blob = RegressionAccumulator(exact=exact).update(y, p).to_bytes()
    header, main, tail = split(blob)
    for length in (0, 1, len(main) - 1):
        with pytest.raises(ValueError):
            RegressionAccumulator.from_bytes(join(header, main, tail, length=length))
    # An exact state's main part cannot fill the body: the exact state must follow.
    if exact:
        with pytest.raises(ValueError, match="length"):
            RegressionAccumulator.from_bytes(join(header, main + tail, length=len(main + tail)))


# ---- defect 5: an exact state spliced from another accumulator ------------------------------


def _exact_blob(y, p, w=None) -> bytes:
    return RegressionAccumulator(exact=True).update(y, p, sample_weight=w).to_bytes()


@pytest.mark.parametrize(
    "donor",
    ["more rows", "fewer rows", "same rows, weighted", "same rows, other weights", "more columns"],
)
def test_exact_state_from_another_accumulator_is_rejected(donor: str) -> None:
    """Issue #14 defect 5: n_samples 10 with another data set's exact mse used to be accepted."""
    y, p, w = data(10, 2, seed=1)
    mine = _exact_blob(y, p, w if "other weights" in donor else None)
    y2, p2, w2 = data(
        30 if donor == "more rows" else 10 if "same" in donor else 4, 3 if "columns" in donor else 2, 2
    )
    theirs = _exact_blob(y2, p2, w2 if "weight" in donor else None)
    header, main, _ = split(mine)
    spliced = join(header, main, split(theirs)[2])
    with pytest.raises(ValueError, match="exact state"):
        RegressionAccumulator.from_bytes(spliced)
    assert RegressionAccumulator.from_bytes(mine).to_bytes() == mine  # the unspliced blob is fine


def test_exact_state_of_the_same_rows_is_accepted() -> None:
    """Agreement is on what both states record (rows, weights, shape), not on the squares."""
    y, p, w = data(10, 2, seed=1)
    a = _exact_blob(y, p, w)
    b = _exact_blob(y, p + 1.0, w)  # same rows and weights, other squares
    spliced = join(split(a)[0], split(a)[1], split(b)[2])
    assert RegressionAccumulator.from_bytes(spliced).to_bytes() == spliced


# ---- header flags that to_bytes cannot write -------------------------------------------------


def test_header_flags_that_to_bytes_cannot_write_are_rejected() -> None:
    empty = RegressionAccumulator(3).to_bytes()
    body = bytearray(empty[:-4])
    for pos, value in ((5, 3), (6, body[6] | 1)):  # a dtype, or "non-zero weight seen", without data
        bad = bytearray(body)
        bad[pos] = value
        with pytest.raises(ValueError, match="without data"):
            RegressionAccumulator.from_bytes(with_crc(bytes(bad)))
    y, p, w = data(5)
    unweighted = RegressionAccumulator().update(y, p).to_bytes()
    header, main, _ = split(unweighted)
    cleared = header[:6] + bytes([header[6] & ~1]) + header[7:]  # "no non-zero weight seen"
    with pytest.raises(ValueError, match="weight flags"):
        RegressionAccumulator.from_bytes(join(cleared, main))
    weighted = RegressionAccumulator().update(y, p, sample_weight=w).to_bytes()
    header, main, _ = split(weighted)
    cleared = header[:6] + bytes([header[6] & ~1]) + header[7:]
    with pytest.raises(ValueError, match="weight flags"):
        RegressionAccumulator.from_bytes(join(cleared, main))
    zero = RegressionAccumulator().update(y, p, sample_weight=np.zeros(5)).to_bytes()
    assert RegressionAccumulator.from_bytes(zero).to_bytes() == zero  # flag clear, weights all zero


# ---- defect 8: every dtype update() accepts survives to_bytes / pickle / copy / + ------------------

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPE_PAIRS = [
    (np.float16, np.float16),
    (BF16, BF16),
    (np.float32, np.float32),
    (np.float64, np.float64),
    (np.longdouble, np.longdouble),
    (np.int8, np.int8),
    (np.int16, np.uint16),
    (np.int32, np.int64),
    (np.uint8, np.uint64),
    (np.bool_, np.bool_),
    (np.float16, np.float32),
    (np.float32, np.float64),
    (np.int64, np.float16),
    (np.longdouble, np.float32),
    (BF16, np.float64),
    (BF16, np.int32),
    (np.bool_, np.longdouble),
    (np.dtype(">f8"), np.dtype(">f4")),
    (np.dtype(">f2"), np.uint8),
]


def _pair(dt_true, dt_pred, k: int = 2):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (40, k)) if np.dtype(dt_true) == np.bool_ else rng.integers(-20, 100, (40, k))
    p = rng.integers(0, 2, (40, k)) if np.dtype(dt_pred) == np.bool_ else rng.integers(0, 120, (40, k))
    return y.astype(dt_true), p.astype(dt_pred)


@pytest.mark.parametrize(
    "dt_true, dt_pred", DTYPE_PAIRS, ids=[f"{np.dtype(a).str}-{np.dtype(b).str}" for a, b in DTYPE_PAIRS]
)
@pytest.mark.parametrize("exact", [False, True])
def test_every_accepted_dtype_round_trips(dt_true, dt_pred, exact: bool) -> None:
    """Issue #14 defect 8: after a long double update, to_bytes / pickle / copy / + raised KeyError."""
    y, p = _pair(dt_true, dt_pred)
    acc = RegressionAccumulator(exact=exact).update(y[:25], p[:25]).update(y[25:], p[25:])
    blob = acc.to_bytes()
    restored = [
        RegressionAccumulator.from_bytes(blob),
        pickle.loads(pickle.dumps(acc)),
        acc.copy(),
        copy.deepcopy(acc),
    ]
    for other in restored:
        assert other.to_bytes() == blob
    twice = acc + acc
    assert twice.n_samples == 80
    one_shot = RegressionAccumulator(exact=exact).update(np.vstack([y, y]), np.vstack([p, p]))
    assert twice.to_bytes() == one_shot.to_bytes()
    want = acc.compute("raw_values")
    for other in (*restored, twice):
        got = other.compute("raw_values")
        for field in ("mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error"):
            a, b = np.asarray(getattr(got, field)), np.asarray(getattr(want, field))
            assert a.dtype == b.dtype, field
            assert np.array_equal(a, b), field
    # The raw values keep scikit-learn's working dtype (bfloat16: l2loss widens it to float32,
    # which sklearn cannot read; float32 is its working dtype there).
    sk_y = y.astype(np.float32) if y.dtype == BF16 else y
    sk_p = p.astype(np.float32) if p.dtype == BF16 else p
    want_dtype = skm.mean_squared_error(sk_y, sk_p, multioutput="raw_values").dtype
    assert want.mse.dtype == want_dtype.newbyteorder("=")
    assert bits(acc.compute().mse) == bits(l2loss.mean_squared_error(y, p, exact=exact))


# ---- defect 3: memory of a crafted blob --------------------------------------------------------

_PROBE = textwrap.dedent(
    """
    import struct, sys, zlib
    sys.path.insert(0, {python_dir!r})
    from l2loss import RegressionAccumulator, _core

    size, kind = {size}, {kind!r}
    k = {k}
    head = lambda n_cols: b"L2ST" + bytes([1, 0, 0, 0]) + struct.pack("<IIqq", 0x7F, 0, 5, n_cols)
    zero_column = bytes(8 + k) + bytes([0, 67, 0]) * k  # a valid, all-zero column
    n_cols = size // len(zero_column)
    if kind == "garbage columns":  # as many columns as the length allows, then junk
        inner = bytearray(head(size // (8 + 4 * k)) + bytes([0, 67, 0]))
        inner.extend(bytes(size - len(inner)))
    elif kind == "trailing byte":  # every column valid; one byte too many at the end
        inner = bytearray(head(n_cols) + bytes([0, 67, 0]))
        for _ in range(n_cols):
            inner += zero_column
        inner += b"\\x00"
    header = b"L2RA" + bytes([1, 3, 2 | 1]) + struct.pack("<I", n_cols)
    if kind == "exact spliced":  # a valid main state, then an exact state of another shape
        inner = bytearray(head(n_cols) + bytes([0, 67, 0]))
        for _ in range(n_cols):
            inner += zero_column
        main_len = len(inner)
        inner += head(n_cols - 1) + bytes([0, 67, 0]) + bytes(16)
        header = b"L2RA" + bytes([1, 3, 4 | 2 | 1]) + struct.pack("<I", n_cols)
    else:
        main_len = len(inner)
    body = bytearray(header + struct.pack("<Q", main_len))
    body += inner
    del inner
    body += struct.pack("<I", zlib.crc32(body))
    blob = bytes(body)
    del body
    def peak():  # this process's peak RSS in bytes (VmHWM: ru_maxrss would include the parent's)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

    try:  # reset the peak to the current RSS, so that building the blob cannot mask anything
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = peak()
    try:
        RegressionAccumulator.from_bytes(blob)
    except ValueError:
        pass
    else:
        raise SystemExit("accepted")
    print(len(blob), peak() - before)
    """
)


@pytest.mark.parametrize("kind", ["garbage columns", "trailing byte", "exact spliced"])
@pytest.mark.parametrize("mib", [1, 4])
@timing_sensitive()
def test_crafted_blob_costs_memory_of_the_order_of_its_size(kind: str, mib: int) -> None:
    """Issue #14 defect 3: a 1 MiB blob declaring 13k columns cost +125 MiB of peak RSS before
    the ValueError (a column is ~9 KB in memory and 76 bytes on the wire); 64 MiB cost 8 GiB."""
    code = _PROBE.format(python_dir=PYTHON_DIR, size=mib * 2**20, kind=kind, k=K)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr + out.stdout
    size, grew = (int(v) for v in out.stdout.split())
    assert size >= mib * 2**20
    assert grew < 8 * size + 16 * 2**20, (
        f"peak RSS grew by {grew / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB blob"
    )


# ---- the law: an accepted blob is exactly what to_bytes writes ---------------------------------


def _valid_blobs() -> list[bytes]:
    y, p, w = data(30, 2, seed=9)
    y1, p1, w1 = data(12, 0, seed=10)
    out = [RegressionAccumulator().to_bytes(), RegressionAccumulator(2, exact=True).to_bytes()]
    for exact in (False, True):
        out.append(RegressionAccumulator(exact=exact).update(y, p).to_bytes())
        out.append(
            RegressionAccumulator(exact=exact).update(y, p, sample_weight=w).update(y[:3], p[:3]).to_bytes()
        )
        out.append(RegressionAccumulator(exact=exact).update(y1, p1, sample_weight=np.zeros(12)).to_bytes())
        out.append(
            RegressionAccumulator(exact=exact).update(y1.astype(np.float16), p1, sample_weight=w1).to_bytes()
        )
        out.append(RegressionAccumulator(exact=exact).update(y1.astype(np.longdouble), p1).to_bytes())
    return out


VALID = _valid_blobs()

_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(0, 1)),
    st.tuples(st.just("u64"), st.integers(0, 10**6), st.integers(0, 2**64 - 1)),
)


def _mutate(body: bytes, mutations) -> bytes:
    b = bytearray(body)
    for kind, pos, v in mutations:
        i = pos % (len(b) + 1)
        if kind == "flip" and i < len(b):
            b[i] ^= 1 << v
        elif kind == "set" and i < len(b):
            b[i] = v
        elif kind == "insert":
            b.insert(i, v)
        elif kind == "delete" and i < len(b):
            del b[i]
        elif kind == "u64":
            b[i : i + 8] = struct.pack("<Q", v)
    return bytes(b)


def _checked(blob: bytes) -> None:
    try:
        acc = RegressionAccumulator.from_bytes(blob)
    except ValueError:
        return
    assert acc.to_bytes() == blob, "an accepted blob must be exactly what to_bytes writes"
    assert pickle.loads(pickle.dumps(acc)).to_bytes() == blob
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            acc.compute("raw_values")
        except (ValueError, ArithmeticError):
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.sampled_from(VALID), mutations=st.lists(_mutation, min_size=1, max_size=4))
@example(blob=VALID[2], mutations=[("set", HEADER, 255)])  # the length field: defect 4
@example(blob=VALID[2], mutations=[("u64", HEADER, 2**63)])
@example(blob=VALID[3], mutations=[("set", HEADER + LENGTH + 17, 0)])  # row count
@example(blob=VALID[8], mutations=[("set", 5, 3)])  # dtype code of an exact state
@example(blob=VALID[0], mutations=[("set", 6, 1)])  # a data flag without data
def test_mutated_blobs_behind_a_valid_checksum_round_trip_or_raise(blob: bytes, mutations) -> None:
    _checked(with_crc(_mutate(blob[:-4], mutations)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(donor=st.sampled_from(VALID), blob=st.sampled_from(VALID), cut=st.integers(0, 10**6))
def test_spliced_blobs_round_trip_or_raise(donor: bytes, blob: bytes, cut: int) -> None:
    """Head of one valid blob, tail of another (checksum recomputed)."""
    body, other = blob[:-4], donor[:-4]
    i = cut % (len(body) + 1)
    _checked(with_crc(body[:i] + other[i:]))
    _checked(with_crc(body[:i] + other[len(other) - (len(body) - i) :]))


def test_every_valid_blob_round_trips() -> None:
    for blob in VALID:
        assert RegressionAccumulator.from_bytes(blob).to_bytes() == blob
