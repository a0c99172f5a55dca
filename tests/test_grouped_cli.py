"""``l2loss eval --group-by`` and ``evaluate_files(group_by=...)``: the per-group table
read in chunks has the bits of grouped_report on the whole arrays; the summary ranks the
worst groups first; usage errors exit 2 with one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import l2loss
import numpy as np
import pytest
from l2loss.cli import main

FIELDS = ("mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error")


def table(n: int = 3000, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n) * 100
    return {
        "y": y,
        "yhat": y + rng.normal(size=n),
        "w": rng.uniform(0.1, 2.0, n),
        "series_id": np.array([f"item_{v:03d}" for v in rng.integers(0, 40, n)]),
        "store": rng.integers(0, 7, n),
    }


def assert_same(got: Any, want: Any) -> None:
    assert [str(k) for k in got.keys.tolist()] == [str(k) for k in want.keys.tolist()]
    assert np.array_equal(got.n_samples, want.n_samples)
    for f in FIELDS:
        a, b = np.asarray(getattr(got, f), np.float64), np.asarray(getattr(want, f), np.float64)
        assert np.array_equal(a.view(np.int64), b.view(np.int64)), f


@pytest.mark.parametrize("fmt", ["parquet", "csv", "npz"])
@pytest.mark.parametrize("chunk_size", [1, 777, 1 << 20])
def test_evaluate_files_group_by_is_chunking_independent(fmt: str, chunk_size: int, tmp_path: Path) -> None:
    t = table(600 if chunk_size == 1 else 3000)
    path = tmp_path / f"t.{fmt}"
    if fmt == "npz":
        np.savez(path, **t)
    else:
        pa = pytest.importorskip("pyarrow")
        tab = pa.table({k: v for k, v in t.items()})
        if fmt == "parquet":
            pytest.importorskip("pyarrow.parquet").write_table(tab, path)
        else:
            pytest.importorskip("pyarrow.csv").write_csv(tab, path)
    for key in ("series_id", "store"):
        want = l2loss.grouped_report(t["y"], t["yhat"], t[key], sample_weight=t["w"])
        got = l2loss.evaluate_files(
            path, columns="true=y,pred=yhat,weight=w", group_by=key, chunk_size=chunk_size
        )
        assert got.key_name == key
        assert_same(got, want)


def test_cli_writes_the_table_and_prints_worst_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    t = table()
    pq.write_table(pa.table(t), tmp_path / "data.parquet")
    want = l2loss.grouped_report(t["y"], t["yhat"], t["series_id"])
    data = str(tmp_path / "data.parquet")
    out_csv, out_json, out_pq = (str(tmp_path / f"out.{s}") for s in ("csv", "json", "parquet"))
    args = ["eval", data, "--columns", "true=y,pred=yhat", "--group-by", "series_id"]
    assert main([*args, "--output", out_csv, "--json", "--top", "3", "--sort-by", "r2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_groups"] == len(want) and summary["n_samples"] == 3000
    worst = [r["series_id"] for r in summary["worst"]]
    assert worst == want.keys[np.argsort(want.r2, kind="stable")[:3]].tolist()
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["series_id"] for r in rows] == want.keys.tolist()
    for f in FIELDS:
        assert np.array_equal(np.array([float(r[f]) for r in rows]), getattr(want, f))
    assert main([*args, "--output", out_json]) == 0
    assert "worst 10 by rmse" in capsys.readouterr().out.replace("\n", " ")
    records = json.loads(Path(out_json).read_text())
    assert [r["rmse"] for r in records] == want.rmse.tolist()
    assert main([*args, "--output", out_pq, "--json"]) == 0
    top = json.loads(capsys.readouterr().out)["worst"][0]["series_id"]
    assert top == want.keys[np.argmax(want.rmse)]
    assert pq.read_table(out_pq).column("mae").to_pylist() == want.mae.tolist()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--group-by", "nope"], "no array 'nope'"),
        (["--output", "x.csv"], "--output writes the per-group table: add --group-by"),
        (["--group-by", "store", "--output", "x.xlsx"], "use a .csv, .parquet or .json"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    np.savez("t.npz", **table(50))
    assert main(["eval", "t.npz", "--true", "y", "--pred", "yhat", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
