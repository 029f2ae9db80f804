import http.server
import threading
from functools import partial

import pytest

from matterport_layout import matterport_layers, write_keras2_h5
from vidseg.download import download_weights
from vidseg.errors import VidsegError


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
