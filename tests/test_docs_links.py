"""The documentation points only at things that exist in the repository: relative links
resolve to files, and nothing cites a design note or an issue tracker users cannot see."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", ROOT / "CHANGELOG.md",
        ROOT / "fuzz" / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "docs").glob("*.rst"))]


@pytest.mark.parametrize("path", [p for p in DOCS if p.exists()], ids=lambda p: str(p.relative_to(ROOT)))
def test_documentation_points_only_at_what_exists(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", text):
        assert (path.parent / target).exists(), f"{path.name} links to {target}, which does not exist"
    for name in re.findall(r"\b([A-Z][A-Z_]+\.md)\b", text):
        found = (ROOT / name).exists() or (path.parent / name).exists()
        assert found, f"{path.name} cites {name}, not in the repo"
    issue = re.search(r"\bissues? #?\d+\b", text, re.I)
    assert issue is None, f"{path.name} cites {issue.group(0)!r}, which users cannot look up"
