"""Downloads, checksums and archive extraction (coarsegrain.data.fetch), against a local server."""

import hashlib
import io
import os
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from coarsegrain.data import fetch


class _Handler(BaseHTTPRequestHandler):
    files: dict = {}
    truncate: set = set()
    slow: set = set()

    def do_GET(self):  # noqa: N802 (http.server API)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in self.slow:  # trickle: 1 KiB every 0.1 s
            try:
                for i in range(0, len(body), 1024):
                    self.wfile.write(body[i:i + 1024])
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        # a truncated response announces the full length, sends half and hangs up
        self.wfile.write(body[: len(body) // 2] if self.path in self.truncate else body)
        if self.path in self.truncate:
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP server on 127.0.0.1 serving ``files`` (path -> bytes); stops after the test
    or after 60 s at the latest."""
    handler = type("H", (_Handler,), {"files": {}, "truncate": set(), "slow": set()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    guard = threading.Timer(60, httpd.shutdown)
    guard.daemon = True
    guard.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, handler
    guard.cancel()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_renames(server, tmp_path):
    base, h = server
    body = os.urandom(3 * (1 << 20) + 17)  # several chunks
    h.files["/a.bin"] = body
    dest = tmp_path / "cache" / "a.bin"
    fetch.download(base + "/a.bin", dest, sha256=hashlib.sha256(body).hexdigest(),
                   size=len(body), timeout=5)
    assert dest.read_bytes() == body
    assert _leftovers(dest.parent) == ["a.bin"]


def test_checksum_failure_leaves_no_file(server, tmp_path):
    base, h = server
    h.files["/a.bin"] = b"some bytes"
    dest = tmp_path / "a.bin"
    with pytest.raises(fetch.ChecksumError, match="sha256 .* expected 0{64}"):
        fetch.download(base + "/a.bin", dest, sha256="0" * 64, timeout=5)
    with pytest.raises(fetch.ChecksumError, match="expected 999"):
        fetch.download(base + "/a.bin", dest, size=999, timeout=5)
    assert _leftovers(tmp_path) == []


def test_checksum_failure_keeps_previous_file(server, tmp_path):
    base, h = server
    h.files["/a.bin"] = b"new"
    dest = tmp_path / "a.bin"
    dest.write_bytes(b"old")
    with pytest.raises(fetch.ChecksumError):
        fetch.download(base + "/a.bin", dest, sha256="0" * 64, timeout=5)
    assert dest.read_bytes() == b"old" and _leftovers(tmp_path) == ["a.bin"]


def test_truncated_download_leaves_no_file(server, tmp_path):
    base, h = server
    h.files["/big.bin"] = os.urandom(200_000)
    h.truncate.add("/big.bin")
    dest = tmp_path / "big.bin"
    with pytest.raises(fetch.DownloadError, match="truncated"):
        fetch.download(base + "/big.bin", dest, timeout=5)
    assert _leftovers(tmp_path) == []


def test_http_error_and_unreachable(server, tmp_path):
    base, _ = server
    with pytest.raises(fetch.DownloadError, match="404"):
        fetch.download(base + "/missing", tmp_path / "x", timeout=5)
    t0 = time.monotonic()
    with pytest.raises(fetch.DownloadError, match="download failed"):
        fetch.download("http://127.0.0.1:1/x", tmp_path / "x", timeout=2)
    assert time.monotonic() - t0 < 5
    assert _leftovers(tmp_path) == []


def test_verify_callback_rejects(server, tmp_path):
    base, h = server
    h.files["/a"] = b"abc"

    def reject(path):
        raise fetch.ChecksumError(f"{path}: rejected")

    with pytest.raises(fetch.ChecksumError, match="rejected"):
        fetch.download(base + "/a", tmp_path / "a", verify=reject, timeout=5)
    assert _leftovers(tmp_path) == []


def test_trickling_server_is_abandoned(server, tmp_path):
    base, h = server
    h.files["/slow.bin"] = os.urandom(100 * 1024)  # 10 s at the trickle rate
    h.slow.add("/slow.bin")
    t0 = time.monotonic()
    with pytest.raises(fetch.DownloadError, match="exceeded 0.5 s"):
        fetch.download(base + "/slow.bin", tmp_path / "slow.bin", timeout=5, max_seconds=0.5)
    assert time.monotonic() - t0 < 4
    assert _leftovers(tmp_path) == []


def test_progress_bar_and_unknown_scheme(server, tmp_path, capsys):
    base, h = server
    body = os.urandom(50_000)
    h.files["/p.bin"] = body
    fetch.download(base + "/p.bin", tmp_path / "p.bin", size=len(body), timeout=5,
                   progress=True)
    assert (tmp_path / "p.bin").read_bytes() == body
    assert "p.bin" in capsys.readouterr().err  # the bar names the file
    with pytest.raises(ValueError, match="url='gopher://x/y' is not allowed"):
        fetch.download("gopher://x/y", tmp_path / "g.bin")
    with pytest.raises(fetch.DownloadError, match="download failed"):
        fetch.download((tmp_path / "missing.bin").as_uri(), tmp_path / "m.bin")
    assert _leftovers(tmp_path) == ["p.bin"]


def test_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello")
    dest = tmp_path / "out" / "copy.bin"
    fetch.download(src.as_uri(), dest, sha256=hashlib.sha256(b"hello").hexdigest(), size=5)
    assert dest.read_bytes() == b"hello"
    assert fetch.verify_file(dest, size=5) == hashlib.sha256(b"hello").hexdigest()
    with pytest.raises(fetch.ChecksumError, match="size 5 bytes, expected 6"):
        fetch.verify_file(dest, size=6)


def _tar_with(tmp_path, members):
    path = tmp_path / "a.tgz"
    with tarfile.open(path, "w:gz") as tf:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


def test_safe_tar_extracts(tmp_path):
    arc = _tar_with(tmp_path, [("top/a.txt", b"a", "file"), ("top/sub/b.txt", b"b", "file")])
    out = fetch.extract_archive(arc, tmp_path / "out")
    assert (out / "top" / "sub" / "b.txt").read_bytes() == b"b"


@pytest.mark.parametrize("member", [("../evil.txt", b"x", "file"),
                                    ("top/link", "/etc/passwd", "sym"),
                                    ("top/up", "../../outside", "sym")])
def test_unsafe_tar_member_rejected(tmp_path, member):
    arc = _tar_with(tmp_path, [("top/ok.txt", b"ok", "file"), member])
    with pytest.raises(fetch.UnsafeArchiveError, match="unsafe member"):
        fetch.safe_extract_tar(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.tgz"]


def test_absolute_tar_member_stays_inside(tmp_path):
    arc = _tar_with(tmp_path, [("/abs/evil.txt", b"x", "file")])
    out = fetch.safe_extract_tar(arc, tmp_path / "out")
    assert (out / "abs" / "evil.txt").read_bytes() == b"x"


def test_truncated_tar_rejected(tmp_path):
    arc = _tar_with(tmp_path, [("top/a.bin", os.urandom(50_000), "file")])
    arc.write_bytes(arc.read_bytes()[:20_000])
    with pytest.raises(fetch.DataError, match="truncated"):
        fetch.safe_extract_tar(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unsafe_zip_member_rejected(tmp_path):
    arc = tmp_path / "a.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr("top/ok.txt", b"ok")
        zf.writestr("../evil.txt", b"x")
    with pytest.raises(fetch.UnsafeArchiveError, match="outside"):
        fetch.extract_archive(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_zip_symlink_member_rejected(tmp_path):
    arc = tmp_path / "a.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        info = zipfile.ZipInfo("top/link")
        info.external_attr = (0o120777 << 16)  # S_IFLNK
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(fetch.UnsafeArchiveError, match="link or device"):
        fetch.extract_archive(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_dataset_unavailable_message():
    exc = fetch.DatasetUnavailable("x", "set config key 'x.path' to x.zip", ["url: down"])
    assert "url: down" in str(exc) and "x.path" in str(exc) and exc.attempts == ["url: down"]


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("COARSEGRAIN_CACHE", str(tmp_path / "c"))
    assert fetch.default_cache_dir() == tmp_path / "c"
    assert fetch.default_cache_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("COARSEGRAIN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fetch.default_cache_dir() == tmp_path / "xdg" / "coarsegrain"
