"""The README's Python snippets run as written: each in a fresh namespace, in a temp dir.

A snippet that names something it never defines (``batches``, ``blob``, ``X`` ...) or
reads a file it never writes fails here, so the README cannot drift from the API.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def python_blocks(text: str) -> list[str]:
    return FENCE.findall(text)


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_python_snippets() -> None:
    assert len(BLOCKS) >= 4  # usage, streaming, losses, torch


def test_block_extraction_finds_every_python_fence() -> None:
    text = "intro\n```python\na = 1\n```\nmiddle\n```bash\nls\n```\n```python\nb = 2\nc = 3\n```\n"
    assert python_blocks(text) == ["a = 1\n", "b = 2\nc = 3\n"]


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_snippet_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = BLOCKS[index]
    if re.search(r"^import torch\b|^import l2loss\.torch\b", source, re.M) and importlib.util.find_spec(
        "torch"
    ) is None:
        pytest.skip("torch is not installed (pip install 'l2loss[torch]')")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"readme_block_{index}"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, f"README.md python block {index}", "exec"), namespace)


def test_readme_test_command_is_intact() -> None:
    """CI runs the line after '# install and run the tests' verbatim: it must stay one line
    that creates a venv, installs the test extra and runs pytest."""
    lines = README.read_text(encoding="utf-8").splitlines()
    cmd = lines[lines.index("# install and run the tests") + 1]
    assert cmd.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")
    assert '".[test' in cmd and cmd.endswith("python -m pytest")
    main = next(i for i, line in enumerate(lines) if line.startswith("# install and run the main job"))
    main_cmd = lines[main + 1]
    assert main_cmd.endswith("l2loss bench")


def test_readme_links_point_to_files() -> None:
    root = README.parent
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8")):
        assert (root / target).exists(), f"README links to {target}, which does not exist"


def _traced_peak(fn) -> int:
    import tracemalloc

    fn()  # warm-up: imports, caches
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_pandas_and_torch_inputs_are_read_without_a_copy() -> None:
    """What the README says of pandas and torch inputs: read in place. NumPy reports its
    allocations to tracemalloc, so a converting copy would show as a peak of the input's size."""
    import l2loss
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    y = rng.standard_normal(1_000_000)
    p = y + 0.5
    inputs = {"pandas Series": (pd.Series(y), pd.Series(p)),
              "pandas DataFrame": (pd.DataFrame({"a": y, "b": p}), pd.DataFrame({"a": p, "b": y}))}
    if importlib.util.find_spec("torch") is not None:
        import torch

        inputs["torch float64"] = (torch.from_numpy(y), torch.from_numpy(p))
        y32, p32 = y.astype(np.float32), p.astype(np.float32)
        inputs["torch float32"] = (torch.from_numpy(y32), torch.from_numpy(p32))
    for name, (a, b) in inputs.items():
        peak = _traced_peak(lambda a=a, b=b: l2loss.mean_squared_error(a, b))
        assert peak < 64 * 1024, f"{name}: traced peak {peak} bytes for inputs of {y.nbytes} bytes"
    # The oracle works: a list input is converted, and the copy shows.
    assert _traced_peak(lambda: l2loss.mean_squared_error(list(y[:100_000]), list(p[:100_000]))) > 800_000
