"""What the package declares about itself: its license and how to cite it."""

from importlib.metadata import metadata
from pathlib import Path

import yaml

import vidseg

REPO = Path(__file__).resolve().parents[1]


def test_the_license_is_mit_and_the_package_declares_it():
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    meta = metadata("vidseg")
    assert meta["License-Expression"] == "MIT" and "LICENSE" in meta.get_all("License-File")
    assert meta["Version"] == vidseg.__version__


def test_the_citation_file_names_this_version():
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    assert str(citation["version"]) == vidseg.__version__
    assert citation["title"] and citation["authors"] and citation["message"]


def make_plan(target: str) -> str:
    """The commands `make <target>` would run from a fresh clone (a venv that does not exist yet)."""
    import subprocess

    proc = subprocess.run(["make", "-n", target, "VENV=/nonexistent-venv"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_run_installs_no_test_only_packages():
    installs = [line for line in make_plan("run").splitlines() if "pip install" in line and " -e " in line]
    assert installs and all('".[cpu]"' in line for line in installs), installs
    tests = [line for line in make_plan("test").splitlines() if "pip install" in line and " -e " in line]
    assert any('".[cpu,test]"' in line for line in tests), tests


def test_the_readme_query_needs_no_test_extra():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split("[")[0].split(";")[0].strip() for dep in project["dependencies"]}
    assert "duckdb" in names and "matplotlib" in names  # README's DuckDB example and the report
    test_only = {dep.split(">")[0].split("[")[0] for dep in project["optional-dependencies"]["test"]}
    assert not names & test_only and {"pytest", "jax", "playwright"} <= test_only
