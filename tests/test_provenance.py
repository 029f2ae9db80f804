import sys

from vidseg.provenance import source_digest


def test_digest_follows_the_source(tmp_path, monkeypatch):
    package = tmp_path / "fakepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "stage.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = source_digest("fakepkg")
    assert source_digest("fakepkg") == first and source_digest("fakepkg.stage") != first
    (package / "stage.py").write_text("X = 2\n")
    assert source_digest("fakepkg") != first
    assert len(source_digest("vidseg.maskrcnn", "vidseg.segment")) == 16
    sys.modules.pop("fakepkg", None)
