"""Fuzzing the two deserialisers: RegressionAccumulator.from_bytes and _core.ReduceResult.from_bytes.

Promise under test (docs/reliability.md): any byte string is either a valid state or a
ValueError (TypeError for an argument that is not bytes) -- never a crash, never a hang,
never undefined behaviour -- and valid states round-trip byte-identically.

The independent oracle is ``ref_parse``: a from-scratch Python reader of the state format
(the layout documented in cpp/src/state.cpp), which also decodes every superaccumulator
to an exact Python integer. The library must accept exactly what the reference accepts,
decode the same fields, re-encode to the canonical bytes and finalise the decoded sums
to the correctly rounded values.

Profiles: the default run is bounded (a few seconds); ``HYPOTHESIS_PROFILE=long`` runs
~50x more examples, ``HYPOTHESIS_PROFILE=small`` ~4x fewer (CI's sanitizer step).
"""

from __future__ import annotations

import os
import pickle
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from fractions import Fraction

import l2loss
import numpy as np
import pytest
from _support import suite_settings
from hypothesis import example, given
from hypothesis import strategies as st
from l2loss import RegressionAccumulator, _core

# ---- hypothesis profiles (local: loading a profile globally would change other modules) ----

FUZZ = suite_settings("fuzz", default=150, small=40, long=8000)
UNDER_SANITIZER = bool(os.environ.get("L2LOSS_SANITIZER_RUN"))

# ---- the reference reader ---------------------------------------------------------------------

N_CHUNKS = 67  # superaccumulator digits; digit j weighs 2**(32*j - 1074)
TOP = N_CHUNKS - 1
# Accumulators per column, derived from the build (the format grows with the engine):
# an empty one-column state is 32 header bytes + 3 (weight acc) + 8 (max_abs) + K flags + 3K.
K = (len(_core.ReduceResult.empty(1, _core.SUM_SQ).to_bytes()) - 43) // 4
MIN_COLUMN_BYTES = 8 + 4 * K
# A real sum never needs a top digit beyond ~2**50 (|term| < 2**1024, n < 2**63); the reader
# rejects 2**62 and more. States above SAFE_TOP are not merged by the properties (see
# test_repeated_merges_of_huge_states_do_not_overflow).
MAX_TOP = 2**62  # from_bytes rejects a top digit >= this
MAX_ROWS = 2**62  # and a row count > this
SAFE_TOP = 2**61  # below this, one merge of a state with itself cannot reach MAX_TOP
SAFE_ROWS = 2**61  # likewise for the row count


class RefError(ValueError):
    pass


@dataclass
class RefAcc:
    value: int  # exact value in units of 2**-1074
    top: int  # magnitude of the top digit
    canonical: bool  # encoded the way serialize() writes it


@dataclass
class RefState:
    weighted: bool
    careful: bool
    weight_term_flags: int
    reserved: int
    sums: int
    input_flags: int
    n_rows: int
    n_cols: int
    weight: RefAcc
    max_abs: list[bytes] = field(default_factory=list)
    term_flags: list[list[int]] = field(default_factory=list)
    accs: list[list[RefAcc]] = field(default_factory=list)

    def all_accs(self) -> list[RefAcc]:
        return [self.weight] + [a for col in self.accs for a in col]

    @property
    def canonical(self) -> bool:
        return self.reserved == 0 and all(a.canonical for a in self.all_accs())

    @property
    def safe(self) -> bool:
        """No field beyond what real data can produce (where the engine has known overflow bugs)."""
        return self.n_rows <= SAFE_ROWS and all(a.top < SAFE_TOP for a in self.all_accs())


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> int | float | bytes:
        size = struct.calcsize(fmt)
        if len(self.data) - self.pos < size:
            raise RefError("truncated")
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return v


def _ref_acc(cur: _Cursor) -> RefAcc:
    neg, lo, count = cur.take("<B"), cur.take("<B"), cur.take("<B")
    if neg > 1 or lo + count > N_CHUNKS:
        raise RefError("bad accumulator")
    digits = {}
    for j in range(lo, lo + count):
        if j == TOP:
            d = cur.take("<q")
            if d < 0 or d >= MAX_TOP:
                raise RefError("top digit out of range")
        else:
            d = cur.take("<I")
        digits[j] = d
    if count and (digits[lo] == 0 or digits[lo + count - 1] == 0):
        raise RefError("non-canonical (untrimmed) accumulator")
    if neg and count == 0:
        raise RefError("negative zero")
    if count == 0 and lo != N_CHUNKS:
        raise RefError("non-canonical zero")  # serialize() writes zero as (0, 67, 0)
    mag = sum(d << (32 * j) for j, d in digits.items())
    canonical = count > 0 or lo == N_CHUNKS  # serialize() writes zero as (0, 67, 0)
    return RefAcc(-mag if neg else mag, digits.get(TOP, 0), canonical)


def ref_parse(data: bytes) -> RefState:
    """Decode a ReduceResult state, or raise RefError. Accepts what state.cpp's reader accepts."""
    cur = _Cursor(data)
    if cur.take("<4s") != b"L2ST":
        raise RefError("magic")
    if cur.take("<B") != 1:
        raise RefError("version")
    flags = cur.take("<B")
    if flags & ~3:
        raise RefError("flags")
    wtf, reserved = cur.take("<B"), cur.take("<B")
    if reserved != 0:
        raise RefError("reserved byte")
    sums, input_flags = cur.take("<I"), cur.take("<I")
    n_rows, n_cols = cur.take("<q"), cur.take("<q")
    if n_rows < 0 or n_rows > MAX_ROWS or n_cols < 1 or n_cols > len(data) // MIN_COLUMN_BYTES:
        raise RefError("shape")
    st_ = RefState(
        bool(flags & 1), bool(flags & 2), wtf, reserved, sums, input_flags, n_rows, n_cols, _ref_acc(cur)
    )
    for _ in range(n_cols):
        st_.max_abs.append(cur.take("<8s"))
        st_.term_flags.append([cur.take("<B") for _ in range(K)])
        st_.accs.append([_ref_acc(cur) for _ in range(K)])
    if cur.pos != len(data):
        raise RefError("trailing bytes")
    return st_


def _enc_acc(a: RefAcc) -> bytes:
    if a.value == 0:
        return bytes([0, N_CHUNKS, 0])
    mag = abs(a.value)
    digits = [(mag >> (32 * j)) & 0xFFFFFFFF for j in range(TOP)] + [mag >> (32 * TOP)]
    nz = [j for j, d in enumerate(digits) if d]
    lo, hi = nz[0], nz[-1] + 1
    out = bytes([1 if a.value < 0 else 0, lo, hi - lo])
    for j in range(lo, hi):
        out += struct.pack("<q" if j == TOP else "<I", digits[j])
    return out


def ref_encode(s: RefState) -> bytes:
    """The canonical bytes of a decoded state (what serialize() must write)."""
    out = b"L2ST" + bytes([1, int(s.weighted) | (int(s.careful) << 1), s.weight_term_flags, 0])
    out += struct.pack("<IIqq", s.sums, s.input_flags, s.n_rows, s.n_cols) + _enc_acc(s.weight)
    for c in range(s.n_cols):
        out += s.max_abs[c] + bytes(s.term_flags[c]) + b"".join(_enc_acc(a) for a in s.accs[c])
    return out


def _to_double(fr: Fraction) -> float:
    try:
        return float(fr)  # int / int true division: correctly rounded
    except OverflowError:
        return float("inf") if fr > 0 else float("-inf")


def _flags_value(flags: int) -> float | None:
    """What the finaliser reports for a term-flag byte (None: no known flag set)."""
    if flags & 4 or (flags & 3) == 3:
        return float("nan")
    if flags & 1:
        return float("inf")
    if flags & 2:
        return float("-inf")
    return None


def same(a: float, b: float) -> bool:
    return (a != a and b != b) or struct.pack("<d", a) == struct.pack("<d", b)


def check_decoded_state(r: _core.ReduceResult, ref: RefState) -> None:
    """The library's decode agrees with the reference: fields, canonical bytes, finalised sums."""
    assert (r.n_rows, r.n_cols, r.sums, r.weighted, r.careful, r.input_flags) == (
        ref.n_rows,
        ref.n_cols,
        ref.sums,
        ref.weighted,
        ref.careful,
        ref.input_flags,
    )
    assert r.to_bytes() == ref_encode(ref)
    assert r.copy().to_bytes() == ref_encode(ref)
    w_total = Fraction(ref.weight.value, 2**1074) if ref.weighted else Fraction(ref.n_rows)
    # ACC_ABS is always one accumulator; ACC_SQ is one too unless an extension bit of `sums`
    # (e.g. an exact-squares mode) makes it a compound quantity.
    accs = [_core.ACC_ABS] + ([_core.ACC_SQ] if ref.sums & ~0x7F == 0 else [])
    for acc in accs:
        totals, means = r.total(acc), r.mean(acc)
        for c in range(ref.n_cols):
            flags = ref.term_flags[c][acc]
            exact = Fraction(ref.accs[c][acc].value, 2**1074)
            if flags == 0:
                assert same(float(totals[c]), _to_double(exact))
            elif _flags_value(flags) is not None:
                assert same(float(totals[c]), _flags_value(flags))
            if ref.weight_term_flags or w_total == 0:
                assert np.isnan(means[c])
            elif flags == 0:
                assert same(float(means[c]), _to_double(exact / w_total))


# ---- valid states -------------------------------------------------------------------------


def _valid_reductions() -> list[bytes]:
    rng = np.random.default_rng(7)
    out = []
    y = rng.standard_normal((257, 3)) * 1e3
    p = y + rng.standard_normal((257, 3))
    w = rng.uniform(-1, 2, 257)
    all_sums = 0
    for name in ("SUM_SQ", "SUM_SQ_LO", "SUM_ABS", "SUM_DIFF", "SUM_Y", "SUM_Y2", "MAX_ABS"):
        all_sums |= getattr(_core, name)
    out.append(_core.reduce(y[:, 0], p[:, 0], None, sums=_core.SUM_SQ).to_bytes())
    out.append(_core.reduce(y, p, w, sums=all_sums).to_bytes())
    out.append(_core.reduce(y.astype(np.float32), p, None, sums=all_sums).to_bytes())
    out.append(
        _core.reduce(np.array([1e300, -1e300]), np.array([-1e300, 1e300]), None, sums=all_sums).to_bytes()
    )
    nan = p[:5, :1].copy()
    nan[2, 0] = np.nan
    out.append(_core.reduce(y[:5, :1], nan, None, sums=_core.SUM_SQ).to_bytes())  # careful pass, flags set
    out.append(_core.ReduceResult.empty(2, _core.SUM_SQ).to_bytes())
    return out


def _valid_accumulators() -> list[bytes]:
    rng = np.random.default_rng(11)
    out = [RegressionAccumulator().to_bytes(), RegressionAccumulator(3).to_bytes()]
    for dtype, k, weighted in ((np.float64, 0, False), (np.float32, 2, True), (np.float16, 1, False)):
        shape = (50,) if k == 0 else (50, k)
        y = rng.standard_normal(shape).astype(dtype)
        p = (y + rng.standard_normal(shape)).astype(dtype)
        acc = RegressionAccumulator()
        acc.update(y, p, sample_weight=rng.uniform(0, 2, 50) if weighted else None)
        acc.update(y[:7], p[:7], sample_weight=np.zeros(7) if weighted else None)
        out.append(acc.to_bytes())
    return out


VALID_REDUCTIONS = _valid_reductions()
VALID_ACCUMULATORS = _valid_accumulators()


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


_ACC_HEADER = 11  # magic, version, dtype code, flags, n_outputs
# Whether the inner state is preceded by its length (u64), as in later format revisions.
_LENGTH_PREFIX = VALID_ACCUMULATORS[-1][_ACC_HEADER : _ACC_HEADER + 4] != b"L2ST"


def _acc_parts(blob: bytes) -> tuple[bytes, bytes]:
    """(RegressionAccumulator header, inner ReduceResult bytes) of a serialized accumulator."""
    start = blob.index(b"L2ST")
    return blob[:_ACC_HEADER], blob[start:-4]


def _acc_body(header: bytes, inner: bytes) -> bytes:
    """The checksummed body of an accumulator with this header and inner state."""
    return header + (struct.pack("<Q", len(inner)) if _LENGTH_PREFIX else b"") + inner


# ---- round trips of valid states --------------------------------------------------------------


@pytest.mark.parametrize("blob", VALID_REDUCTIONS, ids=range(len(VALID_REDUCTIONS)))
def test_valid_reduction_round_trips_byte_identically(blob: bytes) -> None:
    ref = ref_parse(blob)
    assert ref.canonical and ref.safe
    assert ref_encode(ref) == blob  # the reference encoder agrees with serialize()
    r = _core.ReduceResult.from_bytes(blob)
    assert r.to_bytes() == blob
    check_decoded_state(r, ref)


@pytest.mark.parametrize("blob", VALID_ACCUMULATORS, ids=range(len(VALID_ACCUMULATORS)))
def test_valid_accumulator_round_trips_byte_identically(blob: bytes) -> None:
    acc = RegressionAccumulator.from_bytes(blob)
    assert acc.to_bytes() == blob
    assert RegressionAccumulator.from_bytes(bytearray(blob)).to_bytes() == blob
    assert RegressionAccumulator.from_bytes(memoryview(blob)).to_bytes() == blob
    assert pickle.loads(pickle.dumps(acc)).to_bytes() == blob
    assert acc.copy().to_bytes() == blob
    if acc.n_samples:
        assert pickle.loads(pickle.dumps(acc)).compute() == acc.compute()


# ---- RegressionAccumulator.from_bytes -----------------------------------------------------------


@pytest.mark.parametrize("bad", ["L2RA", 12, None, 1.5, [1, 2], np.zeros(3), object()], ids=repr)
def test_non_bytes_raise_type_error(bad) -> None:
    with pytest.raises(TypeError):
        RegressionAccumulator.from_bytes(bad)
    with pytest.raises(TypeError):
        _core.ReduceResult.from_bytes(bad)


@pytest.mark.parametrize("blob", VALID_ACCUMULATORS, ids=range(len(VALID_ACCUMULATORS)))
def test_every_truncation_raises_value_error(blob: bytes) -> None:
    for cut in range(len(blob)):
        with pytest.raises(ValueError):
            RegressionAccumulator.from_bytes(blob[:cut])
    with pytest.raises(ValueError):
        RegressionAccumulator.from_bytes(blob + b"\x00")


@pytest.mark.parametrize("blob", VALID_REDUCTIONS, ids=range(len(VALID_REDUCTIONS)))
def test_every_reduction_truncation_raises_value_error(blob: bytes) -> None:
    for cut in range(len(blob)):
        with pytest.raises(ValueError):
            _core.ReduceResult.from_bytes(blob[:cut])
    for extra in (b"\x00", b"\xff" * 9):
        with pytest.raises(ValueError):
            _core.ReduceResult.from_bytes(blob + extra)


def test_wrong_version_magic_header_fields_raise_value_error() -> None:
    blob = VALID_ACCUMULATORS[-1]
    header, inner = _acc_parts(blob)
    assert _with_crc(_acc_body(header, inner)) == blob  # the helpers rebuild the format
    bad_bodies = {
        "version 0": _acc_body(header[:4] + b"\x00" + header[5:], inner),
        "version 2": _acc_body(header[:4] + b"\x02" + header[5:], inner),
        "version 255": _acc_body(header[:4] + b"\xff" + header[5:], inner),
        "magic": _acc_body(b"L2RB" + header[4:], inner),
        "dtype code": _acc_body(header[:5] + b"\x09" + header[6:], inner),
        "flags": _acc_body(header[:6] + b"\xf3" + header[7:], inner),
        "n_outputs mismatch": _acc_body(header[:7] + struct.pack("<I", 5), inner),
        "state without flag": _acc_body(header[:6] + bytes([header[6] & 1]) + header[7:], inner),
        "inner version": _acc_body(header, inner[:4] + b"\x02" + inner[5:]),
        "inner wrong sums": _acc_body(header, inner[:8] + struct.pack("<I", _core.SUM_SQ) + inner[12:]),
        "inner truncated": _acc_body(header, inner[:-1]),
        "trailing": _acc_body(header, inner) + b"\x00",
    }
    for _name, body in bad_bodies.items():
        with pytest.raises(ValueError):
            RegressionAccumulator.from_bytes(_with_crc(body))
        with pytest.raises(ValueError, match="checksum|not a serialized"):
            RegressionAccumulator.from_bytes(body + b"\x00\x00\x00\x00")  # stale checksum
    # The raw ReduceResult reader: wrong magic, version 0/2/255.
    raw = VALID_REDUCTIONS[1]
    for b in (
        b"L2SX" + raw[4:],
        raw[:4] + b"\x00" + raw[5:],
        raw[:4] + b"\x02" + raw[5:],
        raw[:4] + b"\xff" + raw[5:],
    ):
        with pytest.raises(ValueError):
            _core.ReduceResult.from_bytes(b)


@FUZZ
@given(data=st.binary(max_size=600))
@example(data=b"")
@example(data=b"L2RA")
@example(data=b"L2RA\x01\x00\x00\x00\x00\x00\x00")
def test_random_bytes_accumulator(data: bytes) -> None:
    with pytest.raises(ValueError):
        RegressionAccumulator.from_bytes(data)
    # Random bodies behind a correct magic and checksum reach the inner reader.
    body = b"L2RA\x01" + data
    try:
        RegressionAccumulator.from_bytes(_with_crc(body))
    except ValueError:
        pass


@FUZZ
@given(
    blob=st.sampled_from(VALID_ACCUMULATORS),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), min_size=1, max_size=40),
)
def test_bit_flips_are_detected(blob: bytes, flips: list[tuple[int, int]]) -> None:
    b = bytearray(blob)
    for pos, bit in flips:
        b[pos % len(b)] ^= 1 << bit
    if bytes(b) == blob:
        return  # the flips cancelled out
    try:
        acc = RegressionAccumulator.from_bytes(bytes(b))
    except ValueError:
        return
    # A flip pattern that survives the CRC is astronomically unlikely; it must still be a state.
    assert acc.to_bytes() == bytes(b)


# ---- mutations behind a recomputed checksum: the deep paths ------------------------------------

_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("int64"), st.integers(0, 10**6), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("int32"), st.integers(0, 10**6), st.integers(0, 2**32 - 1)),
)


def _mutate(blob: bytes, mutations) -> bytes:
    b = bytearray(blob)
    for kind, pos, v in mutations:
        if not b:
            b.append(v & 0xFF)
            continue
        i = pos % len(b)
        if kind == "flip":
            b[i] ^= 1 << v
        elif kind == "set":
            b[i] = v
        elif kind == "insert":
            b.insert(i, v)
        elif kind == "delete":
            del b[i]
        elif kind == "int64":
            b[i : i + 8] = struct.pack("<q", v)
        else:
            b[i : i + 4] = struct.pack("<I", v)
    return bytes(b)


def _exercise(r: _core.ReduceResult) -> None:
    """Everything a decoded state offers; only ValueError/ArithmeticError may come out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in (
            lambda: r.weight_sum(),
            lambda: r.weight_sum_is_zero(),
            lambda: r.max_abs(),
            lambda: r.mean(_core.ACC_ABS),
            lambda: r.total(_core.ACC_DIFF),
            lambda: r.grand_mean(_core.ACC_SQ),
            lambda: r.grand_total(_core.ACC_SQ),
            lambda: r.r2_parts(),
            lambda: r.explained_variance_parts(),
        ):
            try:
                call()
            except (ValueError, ArithmeticError):
                pass
        twin = r.copy()
        twin.merge(r)
        assert twin.n_rows == 2 * r.n_rows
        assert _core.ReduceResult.from_bytes(twin.to_bytes()).to_bytes() == twin.to_bytes()


@FUZZ
@given(blob=st.sampled_from(VALID_REDUCTIONS), mutations=st.lists(_mutation, min_size=1, max_size=6))
def test_mutated_reduction_matches_reference_reader(blob: bytes, mutations) -> None:
    data = _mutate(blob, mutations)
    try:
        ref = ref_parse(data)
    except RefError:
        ref = None
    try:
        r = _core.ReduceResult.from_bytes(data)
    except ValueError:
        assert ref is None, "the library rejected a state the reference reader accepts"
        return
    assert ref is not None, "the library accepted a state the reference reader rejects"
    assert r.to_bytes() == data, "an accepted state must be in canonical form"
    if not ref.safe:
        return  # beyond any real state: see test_huge_top_digit_is_rejected / test_row_count_overflow
    check_decoded_state(r, ref)
    _exercise(r)


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_reduction(data: bytes) -> None:
    for candidate in (data, b"L2ST\x01" + data):
        try:
            ref = ref_parse(candidate)
        except RefError:
            ref = None
        try:
            r = _core.ReduceResult.from_bytes(candidate)
        except ValueError:
            assert ref is None
            continue
        assert ref is not None
        if ref.safe:
            check_decoded_state(r, ref)


@FUZZ
@given(blob=st.sampled_from(VALID_ACCUMULATORS[2:]), mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_mutated_accumulator_with_valid_checksum(blob: bytes, mutations) -> None:
    header, inner = _acc_parts(blob)
    data = _with_crc(_acc_body(header, _mutate(inner, mutations)))
    try:
        ref = ref_parse(_mutate(inner, mutations))
    except RefError:
        ref = None
    try:
        acc = RegressionAccumulator.from_bytes(data)
    except ValueError:
        return
    assert ref is not None
    if not ref.safe:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            acc.compute()
        except (ValueError, ArithmeticError):
            pass
        other = acc.copy()
        other.merge(acc)
        assert other.n_samples == 2 * acc.n_samples


# ---- decoding limits (regressions: found by this suite, fixed in 5b1c776) ------------------------


def _one_column_state(
    n_rows: int = 5, top: int | None = None, reserved: int = 0, zero_lo: int = N_CHUNKS
) -> bytes:
    zero = bytes([0, zero_lo, 0])
    acc0 = zero if top is None else bytes([0, TOP, 1]) + struct.pack("<q", top)
    head = b"L2ST" + bytes([1, 0, 0, reserved]) + struct.pack("<IIqq", _core.SUM_SQ, 0, n_rows, 1)
    return head + zero + struct.pack("<d", 0.0) + bytes(K) + acc0 + zero * (K - 1)


def test_reference_state_builder_is_valid() -> None:
    blob = _one_column_state()
    assert _core.ReduceResult.from_bytes(blob).to_bytes() == blob
    assert ref_encode(ref_parse(blob)) == blob
    r = _core.ReduceResult.from_bytes(_one_column_state(top=1))  # 2**1038: beyond double range
    assert r.total(_core.ACC_SQ)[0] == float("inf")


def test_huge_top_digit_is_rejected() -> None:
    """A top digit near 2**63 used to be accepted and overflowed int64 when merged (UB)."""
    with pytest.raises(ValueError):
        _core.ReduceResult.from_bytes(_one_column_state(top=2**63 - 1))
    with pytest.raises(ValueError):
        _core.ReduceResult.from_bytes(_one_column_state(top=MAX_TOP))
    assert _core.ReduceResult.from_bytes(_one_column_state(top=MAX_TOP - 1)).n_rows == 5


def test_row_count_overflow_is_rejected() -> None:
    """n_rows = 2**63-1 used to be accepted; merging it with itself wrapped to -2 rows (UB)."""
    with pytest.raises(ValueError):
        _core.ReduceResult.from_bytes(_one_column_state(n_rows=2**63 - 1))
    big = _core.ReduceResult.from_bytes(_one_column_state(n_rows=MAX_ROWS))
    twin = big.copy()
    with pytest.raises(ValueError):
        twin.merge(big)  # 2**63 rows: checked, not wrapped
    assert twin.n_rows == MAX_ROWS and twin.to_bytes() == big.to_bytes()


def test_non_canonical_encodings_are_rejected() -> None:
    """A non-zero reserved byte or a zero accumulator not written as (0, 67, 0) used to be accepted."""
    for blob in (_one_column_state(reserved=1), _one_column_state(zero_lo=0)):
        with pytest.raises(ValueError):
            _core.ReduceResult.from_bytes(blob)


def test_repeated_merges_of_huge_states_do_not_overflow() -> None:
    """Regression (found by this suite, fixed in sacc_merge): merging crafted states with a top
    digit just below the reader's bound used to overflow int64 on the third merge (UB; the
    release build turned a +inf-sized total into -inf), and one merge already produced bytes
    that from_bytes rejects."""
    base = _core.ReduceResult.from_bytes(_one_column_state(top=MAX_TOP - 1))
    acc = base.copy()
    with pytest.raises(ValueError):
        acc.merge(base)  # a checked merge: the sum would leave the representable range
    half = _core.ReduceResult.from_bytes(_one_column_state(top=MAX_TOP // 2 - 1))
    twin = half.copy()
    twin.merge(half)  # still in range: fine, and readable again
    assert _core.ReduceResult.from_bytes(twin.to_bytes()).to_bytes() == twin.to_bytes()


def test_carry_into_the_top_digit_cannot_reach_the_bound() -> None:
    """Regression (found while fixing merge atomicity): sacc_merge checked the sum of the two
    top digits but not the carry out of the lower digits added after it, so a top digit of
    2**62-1 with all-ones lower digits plus 2**-1074 merged into a top digit of 2**62: bytes
    that from_bytes rejects."""
    ref = ref_parse(_one_column_state(top=MAX_TOP - 1))
    ref.accs[0][0] = RefAcc(((MAX_TOP - 1) << (32 * TOP)) + (1 << (32 * TOP)) - 1, MAX_TOP - 1, True)
    edge = _core.ReduceResult.from_bytes(ref_encode(ref))
    ulp = ref_parse(_one_column_state())
    ulp.accs[0][0] = RefAcc(1, 0, True)
    tiny = _core.ReduceResult.from_bytes(ref_encode(ulp))
    before = edge.to_bytes()
    with pytest.raises(ValueError):
        edge.merge(tiny)
    assert edge.to_bytes() == before
    tiny_before = tiny.to_bytes()
    with pytest.raises(ValueError):
        tiny.merge(edge)  # the other way round: the same sum, the same answer
    assert tiny.to_bytes() == tiny_before


def test_merged_row_count_stays_readable() -> None:
    """Regression (found by this suite): merge_into allowed row counts up to 2**63-1 while
    from_bytes rejects more than 2**62, so merging two readable states of 2**61+1 rows gave
    bytes that could not be read back. The merge now stops at the reader's bound."""
    half = _core.ReduceResult.from_bytes(_one_column_state(n_rows=2**61 + 1))
    twin = half.copy()
    with pytest.raises(ValueError, match="row count"):
        twin.merge(half)
    assert twin.to_bytes() == half.to_bytes()  # and the failed merge changed nothing
    exact_half = _core.ReduceResult.from_bytes(_one_column_state(n_rows=MAX_ROWS // 2))
    twin = exact_half.copy()
    twin.merge(exact_half)  # exactly at the bound: allowed, and readable
    assert twin.n_rows == MAX_ROWS
    assert _core.ReduceResult.from_bytes(twin.to_bytes()).to_bytes() == twin.to_bytes()
    one = _core.ReduceResult.from_bytes(_one_column_state(n_rows=1))
    with pytest.raises(ValueError, match="row count"):
        twin.merge(one)


def test_failed_merge_leaves_the_state_unchanged() -> None:
    """Regression (found by this suite): merge_into added the row count (and the weight sum,
    and earlier columns) before sacc_merge threw, leaving the target half-merged. It now
    merges into a copy that replaces the target only on success."""
    base = _core.ReduceResult.from_bytes(_one_column_state(top=MAX_TOP - 1))
    acc = base.copy()
    before = acc.to_bytes()
    with pytest.raises(ValueError):
        acc.merge(base)
    assert acc.to_bytes() == before
    assert acc.n_rows == base.n_rows
    with pytest.raises(ValueError):
        acc.merge(acc)  # merging a state into itself: the same, and no aliasing trouble
    assert acc.to_bytes() == before


def _huge_digit_state(inner: bytes, column: int) -> bytes:
    """A copy of a valid state whose accumulators of one column sit just below the bound."""
    ref = ref_parse(inner)
    # Every lower digit all ones: adding anything positive carries into the top digit.
    value = ((MAX_TOP - 1) << (32 * TOP)) + (1 << (32 * TOP)) - 1
    ref.accs[column] = [RefAcc(value, MAX_TOP - 1, True) for _ in range(K)]
    return ref_encode(ref)


def _accumulator_blob(header: bytes, main: bytes, exact: bytes = b"") -> bytes:
    assert _LENGTH_PREFIX
    return _with_crc(header + struct.pack("<Q", len(main)) + main + exact)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_failed_accumulator_merge_leaves_it_unchanged(exact: bool, weighted: bool) -> None:
    """RegressionAccumulator.merge / += / + are all-or-nothing (the accumulator-level side of
    test_failed_merge_leaves_the_state_unchanged). With exact=True the accumulator holds two
    states; the huge digit sits in the second one (or the last column of the first), so a
    non-atomic merge would already have committed the first."""
    rng = np.random.default_rng(5)
    y = rng.standard_normal((40, 2))
    p = y + rng.standard_normal((40, 2))
    w = rng.uniform(0.5, 2.0, 40) if weighted else None
    good = RegressionAccumulator(exact=exact).update(y, p, sample_weight=w)
    blob = good.to_bytes()
    header = blob[:_ACC_HEADER]
    (size,) = struct.unpack("<Q", blob[_ACC_HEADER : _ACC_HEADER + 8])
    main = blob[_ACC_HEADER + 8 : _ACC_HEADER + 8 + size]
    exact_inner = blob[_ACC_HEADER + 8 + size : -4]
    if exact:
        crafted = _accumulator_blob(header, main, _huge_digit_state(exact_inner, 1))
    else:
        crafted = _accumulator_blob(header, _huge_digit_state(main, 1))
    huge = RegressionAccumulator.from_bytes(crafted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf / inf in R^2: an absurd state
        huge.compute()  # but a valid one
    for make_target in (lambda: huge.copy(), lambda: good.copy()):
        target = make_target()
        before = target.to_bytes()
        with pytest.raises(ValueError):
            target.merge(huge)
        assert target.to_bytes() == before
        with pytest.raises(ValueError):
            target += huge
        assert target.to_bytes() == before
        with pytest.raises(ValueError):
            _ = target + huge
        assert target.to_bytes() == before
        assert huge.to_bytes() == crafted
    # update() commits nothing either when its merge fails (here: the carry of the batch's
    # sum into the top digit would reach the reader's bound).
    target = huge.copy()
    before = target.to_bytes()
    with pytest.raises(ValueError):
        target.update(y, p, sample_weight=w)
    assert target.to_bytes() == before
    # A good merge still works afterwards, and gives the one-shot figures.
    again = good.copy()
    again.merge(good)
    one_shot = RegressionAccumulator(exact=exact).update(
        np.vstack([y, y]), np.vstack([p, p]), sample_weight=None if w is None else np.concatenate([w, w])
    )
    got, want = again.compute("raw_values").to_dict(), one_shot.compute("raw_values").to_dict()
    for key in want:
        assert np.array_equal(np.asarray(got[key]), np.asarray(want[key])), key


def test_public_api_still_usable_after_fuzzing() -> None:
    assert l2loss.mean_squared_error([1.0, 2.0], [1.0, 4.0]) == 2.0
