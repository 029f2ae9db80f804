import hashlib
import http.server
import threading
from functools import partial

import pytest

from matterport_layout import matterport_layers, write_keras2_h5
from vidseg.core.download import download_weights
from vidseg.core.errors import VidsegError


@pytest.fixture()
def server(tmp_path):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", tmp_path
    httpd.shutdown()


def test_download_checks_and_renames(server, tmp_path):
    url, root = server
    write_keras2_h5(root / "mask_rcnn_coco.h5", matterport_layers("resnet50", 81))
    (root / "page.html").write_text("<html>not weights</html>")
    dest = tmp_path / "out" / "w.h5"
    download_weights(f"{url}/mask_rcnn_coco.h5", dest)
    assert dest.read_bytes() == (root / "mask_rcnn_coco.h5").read_bytes()
    with pytest.raises(VidsegError, match="page.html: the download is not an HDF5 file"):
        download_weights(f"{url}/page.html", tmp_path / "out" / "bad.h5")
    with pytest.raises(VidsegError, match="cannot download weights from .*/missing.h5"):
        download_weights(f"{url}/missing.h5", tmp_path / "out" / "missing.h5")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["w.h5"]  # no partial files left


class RangeServer(http.server.ThreadingHTTPServer):
    """Serves one file, honours `Range: bytes=N-`, and can drop the connection after some bytes (a network cut)."""

    def __init__(self, data: bytes, cuts: list[int]):
        self.data, self.cuts, self.ranges = data, cuts, []
        super().__init__(("127.0.0.1", 0), RangeHandler)


class RangeHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        data, asked = self.server.data, self.headers.get("Range")
        self.server.ranges.append(asked)
        start = int(asked.split("=")[1].rstrip("-")) if asked else 0
        self.send_response(206 if asked else 200)
        if asked:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        cut = self.server.cuts.pop(0) if self.server.cuts else None
        self.wfile.write(data[start:][:cut])
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_an_interrupted_download_resumes_and_is_checked(tmp_path):
    source = tmp_path / "served.h5"
    write_keras2_h5(source, matterport_layers("resnet50", 81))
    data = source.read_bytes()
    httpd = RangeServer(data, cuts=[len(data) // 3])
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/mask_rcnn_coco.h5"
    dest = tmp_path / "out" / "w.h5"
    lines = []
    try:
        with pytest.raises(VidsegError, match=rf"stopped at {len(data) // 3} of {len(data)} bytes; .*w.h5.part keeps"):
            download_weights(url, dest, report=lines.append, every=0)
        assert not dest.exists() and (tmp_path / "out" / "w.h5.part").stat().st_size == len(data) // 3
        wrong = "0" * 64
        with pytest.raises(VidsegError, match=f"is not the expected {wrong} \\(config key 'weights_sha256'\\)"):
            download_weights(url, dest, sha256=wrong)
        assert httpd.ranges == [None, f"bytes={len(data) // 3}-"]  # the second try asked for the rest only
        assert not dest.exists() and not (tmp_path / "out" / "w.h5.part").exists()  # a bad file is not kept
        httpd.cuts.append(len(data) // 2)
        with pytest.raises(VidsegError):
            download_weights(url, dest)
        download_weights(url, dest, sha256=hashlib.sha256(data).hexdigest(), report=lines.append, every=0)
        assert dest.read_bytes() == data and not (tmp_path / "out" / "w.h5.part").exists()
        assert httpd.ranges[-1] == f"bytes={len(data) // 2}-"
        assert any(line.startswith("resuming at") for line in lines)
        assert any(f"of {len(data) / 1e6:.1f} MB (" in line for line in lines)  # progress with the total
    finally:
        httpd.shutdown()


def test_a_server_without_ranges_restarts_a_stale_partial_file(server, tmp_path):
    url, root = server
    write_keras2_h5(root / "mask_rcnn_coco.h5", matterport_layers("resnet50", 81))
    dest = tmp_path / "out" / "w.h5"
    dest.parent.mkdir()
    (tmp_path / "out" / "w.h5.part").write_bytes(b"stale bytes from another file")
    download_weights(f"{url}/mask_rcnn_coco.h5", dest)  # the plain server ignores Range: whole file again
    assert dest.read_bytes() == (root / "mask_rcnn_coco.h5").read_bytes()
