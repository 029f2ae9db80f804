"""Code digests follow each job script's import closure; file hashes match sha256sum."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from vidseg.core.provenance import code_digest, file_sha256, import_closure, imported_modules
from vidseg.workflow.plan import JOB_SCRIPTS, SCRIPTS_DIR

SCRIPTS = JOB_SCRIPTS


def test_closures_hold_what_the_hand_written_lists_missed():
    segment = set(import_closure(SCRIPTS_DIR / "segment.py"))
    assert {"vidseg.inference.batches", "vidseg.inference.modelfile", "vidseg.core.cpu", "vidseg.inference.gpu",
            "vidseg.core.atomic", "vidseg.inference.segment", "vidseg.inference.unit", "vidseg.maskrcnn.model",
            "vidseg.maskrcnn.kernels", "vidseg.core.provenance", "vidseg.core.allocator"} <= segment
    assert not any(m.startswith("vidseg.workflow") for m in segment)  # library stages do not import planning
    assert "vidseg.formats.tables" in import_closure(SCRIPTS_DIR / "annotate.py")
    # the model is reached through vidseg.maskrcnn's lazy names ("vidseg.maskrcnn.model" as a string)
    assert "vidseg.maskrcnn.model" in imported_modules(Path(sys.modules["vidseg"].__file__).parent / "maskrcnn/__init__.py",
                                                       "vidseg.maskrcnn")
    # imports under `if TYPE_CHECKING:` never run: the track stage does not depend on the model
    assert not any(m.startswith("vidseg.maskrcnn") for m in import_closure(SCRIPTS_DIR / "track.py"))


def _top_level_imports(script: Path) -> str:
    tree = ast.parse(script.read_text())
    return "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_what_python_imports_is_in_the_closure(script):
    """Python's own import machinery, run on the script's imports (with the script's folder on the path, as
    Snakemake runs it), loads no vidseg module outside the closure."""
    code = _top_level_imports(script) + "\nimport json, sys\nprint(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'vidseg')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"KERAS_BACKEND": "tensorflow",
                          "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(SCRIPTS_DIR)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = set(json.loads(proc.stdout.splitlines()[-1]))
    assert loaded and loaded <= set(import_closure(script))


def test_digest_changes_with_any_module_of_the_closure(tmp_path, monkeypatch):
    import vidseg.core.provenance as provenance

    package = tmp_path / "vidseg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import leaf\n")
    (package / "sub" / "leaf.py").write_text("import importlib\nLAZY = importlib.import_module('vidseg.lazy')\n")
    (package / "lazy.py").write_text("X = 1\n")
    (package / "unused.py").write_text("X = 1\n")
    (package / "stage.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import vidseg.unused\n"
                                      "def run():\n    from vidseg.sub import leaf\n")
    script = tmp_path / "job.py"
    script.write_text("from vidseg.stage import run\n")
    monkeypatch.setattr(provenance, "PACKAGE_DIR", package)
    provenance.forget_imports()
    try:
        assert import_closure(script) == ["vidseg", "vidseg.lazy", "vidseg.stage", "vidseg.sub", "vidseg.sub.leaf"]
        before = code_digest(script)
        (package / "unused.py").write_text("X = 2\n")
        assert code_digest(script) == before
        (package / "lazy.py").write_text("X = 2\n")
        assert code_digest(script) != before
    finally:
        provenance.forget_imports()


def test_file_sha256_is_sha256sum(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(bytes(range(256)) * 5000)
    printed = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]
    assert file_sha256(path) == printed
