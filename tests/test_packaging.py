"""Release packaging: the LICENSE ships (sdist, wheel, installed dist-info), the metadata
is complete, and the version has one source (pyproject.toml)."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tarfile
import zipfile
from pathlib import Path

import l2loss
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the test venv runs 3.11
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def test_license_file_is_bsd3_and_declared() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert PROJECT["license"] == "BSD-3-Clause"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert text.startswith("BSD 3-Clause License")
    assert "Neither the name of the copyright holder nor the names of its" in text
    assert "l2loss developers" in text


def test_metadata_is_complete() -> None:
    assert PROJECT["authors"] == [{"name": "l2loss developers"}]
    classifiers = PROJECT["classifiers"]
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert any(c.startswith("Operating System ::") for c in classifiers)
    # Every Python version the classifiers name is allowed by requires-python, and the
    # lowest allowed one is named.
    lowest = PROJECT["requires-python"].removeprefix(">=")
    pattern = r"Programming Language :: Python :: 3\.\d+"
    versions = [c.rsplit(":: ", 1)[1] for c in classifiers if re.fullmatch(pattern, c)]
    assert lowest in versions
    assert all(tuple(map(int, v.split("."))) >= tuple(map(int, lowest.split("."))) for v in versions)
    assert "docs" in PROJECT["optional-dependencies"]
    assert any(r.startswith("sphinx") for r in PROJECT["optional-dependencies"]["docs"])
    # No invented project URLs: there is no public repository yet.
    assert "urls" not in PROJECT
    assert (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").count(f"## [{PROJECT['version']}]") == 1


def test_version_has_one_source() -> None:
    assert l2loss.__version__ == PROJECT["version"]
    assert l2loss.config()["version"] == PROJECT["version"]
    for path in ("python/l2loss/__init__.py", "python/l2loss/_version.py", "python/l2loss/_config.py"):
        assert PROJECT["version"] not in re.findall(r'"(\d+\.\d+\.\d+)"', (ROOT / path).read_text()), path


def test_sdist_carries_license_and_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = pytest.importorskip("scikit_build_core.build", reason="needs scikit-build-core")
    monkeypatch.chdir(ROOT)  # a PEP 517 backend builds the project in the working directory
    name = build.build_sdist(str(tmp_path))
    with tarfile.open(tmp_path / name) as tar:
        members = set(tar.getnames())
        root = name.removesuffix(".tar.gz")
        assert f"{root}/LICENSE" in members and f"{root}/CHANGELOG.md" in members
        pkg_info = tar.extractfile(f"{root}/PKG-INFO").read().decode()  # type: ignore[union-attr]
    assert f"Version: {PROJECT['version']}" in pkg_info
    assert "License-Expression: BSD-3-Clause" in pkg_info
    assert "License-File: LICENSE" in pkg_info
    assert "Author: l2loss developers" in pkg_info


def _installed_distribution() -> importlib.metadata.Distribution | None:
    """The installed l2loss distribution that is imported, if l2loss runs from one."""
    try:
        dist = importlib.metadata.distribution("l2loss")
    except importlib.metadata.PackageNotFoundError:
        return None
    files = dist.files or []
    init = next((f for f in files if str(f).replace("\\", "/") == "l2loss/__init__.py"), None)
    if init is None or Path(str(dist.locate_file(init))).resolve() != Path(l2loss.__file__).resolve():
        return None  # an in-place run (PYTHONPATH=python) next to some other install
    return dist


def test_installed_dist_info_has_license() -> None:
    dist = _installed_distribution()
    if dist is None:
        pytest.skip("l2loss runs from the source tree, not from an installed wheel")
    licenses = [f for f in dist.files or [] if f.name == "LICENSE"]
    assert licenses, "LICENSE missing from the installed dist-info"
    assert "BSD 3-Clause License" in licenses[0].read_text()
    assert dist.metadata["License-Expression"] == "BSD-3-Clause"
    assert dist.version == l2loss.__version__


@pytest.mark.slow
def test_wheel_carries_license(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds the wheel (about 1.5 minutes on 2 cores): run with -m slow."""
    build = pytest.importorskip("scikit_build_core.build", reason="needs scikit-build-core")
    monkeypatch.chdir(ROOT)  # a PEP 517 backend builds the project in the working directory
    name = build.build_wheel(str(tmp_path), {"build-dir": str(tmp_path / "build")})
    with zipfile.ZipFile(tmp_path / name) as wheel:
        names = wheel.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        assert f"{dist_info}/licenses/LICENSE" in names
        metadata = wheel.read(f"{dist_info}/METADATA").decode()
    assert "License-File: LICENSE" in metadata
    assert any(n.startswith("l2loss/_core") for n in names)
