"""What the package declares about itself (its license, how to cite it), and how it is installed and found."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import metadata, requires, version
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


def test_job_scripts_import_the_vidseg_next_to_them(tmp_path):
    """The workflow's folder copied elsewhere: a job script (with its own folder on the path, as Snakemake runs
    it) imports the copy's vidseg, not the installed one; an environment from environment.yml installs none."""
    copy = tmp_path / "workflow"
    shutil.copytree(REPO / "vidseg", copy / "vidseg", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "scripts", copy / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    code = "import _workflow_package, vidseg; print(vidseg.__file__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(copy / "scripts")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert Path(proc.stdout.strip()) == copy / "vidseg" / "__init__.py"


# conda package -> the pip distribution CI installs in its place (the rest share their names)
CONDA_AS_PIP = {"tensorflow": "tensorflow-cpu", "opencv": "opencv-python-headless", "matplotlib-base": "matplotlib",
                "python-duckdb": "duckdb", "snakemake-minimal": "snakemake", "pyyaml": "PyYAML"}
SPEC = re.compile(r"^(?P<channel>[\w-]+)::(?P<name>[\w.-]+)(?:=(?P<version>[\d.]+))?(?:\[build=(?P<build>[^\]]+)\])?$")


def conda_specs() -> dict[str, dict]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert all(isinstance(dep, str) for dep in env["dependencies"]), "no pip: section (vidseg is not installed there)"
    specs = {}
    for dep in env["dependencies"]:
        match = SPEC.match(dep)
        assert match, f"environment.yml: {dep!r} names no channel or is not name=version[build=...]"
        assert match["channel"] in env["channels"]
        specs[match["name"]] = match.groupdict()
    return specs


def test_the_conda_environment_pins_what_ci_tests_with_pip():
    """environment.yml (never created here: conda channels are out of reach) against this test venv: the same
    minor versions, Snakemake from bioconda, the GPL ffmpeg (libx264), an explicit TensorFlow build, every run
    dependency of pyproject.toml, and the TrackEval that environment.post-deploy.sh installs."""
    specs = conda_specs()
    assert specs["python"]["version"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert specs["ffmpeg"]["build"] == "gpl*" and specs["tensorflow"]["build"] == "cpu*"
    assert {name for name, spec in specs.items() if spec["channel"] == "bioconda"} == {
        "snakemake-minimal", "snakemake-executor-plugin-slurm"}
    for name, spec in specs.items():
        if name in ("python", "ffmpeg", "pip"):
            continue
        installed = version(CONDA_AS_PIP.get(name, name))
        assert spec["version"] and installed.startswith(spec["version"] + "."), f"{name}={spec['version']}: {installed}"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    needed = {re.match(r"[\w.-]+", dep).group(0).lower() for dep in pyproject["project"]["dependencies"]}
    provided = {CONDA_AS_PIP.get(name, name).lower() for name in specs}
    assert needed <= provided, needed - provided
    trackeval = re.search(r"trackeval==([\d.]+)", (REPO / "environment.post-deploy.sh").read_text()).group(1)
    assert trackeval == version("trackeval")
    trackeval_needs = {re.match(r"[\w.-]+", dep).group(0).lower() for dep in requires("trackeval")}
    assert trackeval_needs - {"opencv-python"} <= provided, trackeval_needs - provided  # the post-deploy's --no-deps


def test_the_readme_names_only_files_that_exist():
    """Every file or folder of this repository the READMEs name (models/ holds users' own examples too)."""
    for readme in (REPO / "README.md", REPO / "config/README.md"):
        named = set(re.findall(r"(?<![\w/.-])((?:tests|benchmarks|scripts|vidseg|config|profiles|docs|rules|\.ci)/"
                               r"[\w./-]*\w)", readme.read_text()))
        missing = [p for p in sorted(named) if "<" not in p and not (REPO / p).exists()]
        assert named and not missing, (readme, missing)


def test_installing_vidseg_installs_mrcnn_too(tmp_path):
    """matterport's import names come with the install: from another folder (nothing of the repository on the
    path), `import mrcnn` finds the installed package of this repository."""
    code = "import mrcnn.config; print(mrcnn.__file__)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert Path(proc.stdout.strip()) == REPO / "mrcnn" / "__init__.py"
