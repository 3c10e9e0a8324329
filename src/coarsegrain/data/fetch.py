"""Download, verify and extract dataset files without ever leaving a partial file behind.

Every file that lands in a cache folder went through the same steps: it is streamed (by pooch's
downloaders; see :func:`download`) into a temporary file in the destination folder, a transfer
shorter than the server's ``Content-Length`` is refused, its size, sha256 and a caller's
``verify`` function are checked, and only then is it renamed into place. Archives are unpacked into a temporary folder
next to the destination, refusing members that would escape it (absolute paths, ``..``, links,
devices), and renamed into place once complete.

Failures raise subclasses of :class:`DataError` whose message names the file or URL and what
was expected. A dataset that cannot be obtained from any configured source raises
:class:`DatasetUnavailable`, whose message says which config key to set and which file to put
there; workflow stages turn it into one log line and an empty marker table.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from coarsegrain.io import atomic_path

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


class DataError(RuntimeError):
    """A dataset file is missing, corrupt, or not what was expected."""


class ChecksumError(DataError):
    """A file's size or sha256 does not match the expected value."""


class DownloadError(DataError):
    """A download failed (unreachable, HTTP error, timeout, truncated)."""


class UnsafeArchiveError(DataError):
    """An archive holds a member that would be written outside the extraction folder."""


class DatasetUnavailable(DataError):
    """No configured source could provide a dataset.

    The message says how to supply it (config key and expected file); ``attempts`` lists what
    was tried and why each source failed.
    """

    def __init__(self, dataset: str, how: str, attempts: list[str] | None = None):
        self.dataset = dataset
        self.how = how
        self.attempts = list(attempts or [])
        tried = "; ".join(self.attempts) if self.attempts else "no source configured"
        super().__init__(f"dataset {dataset!r} is not available ({tried}). To supply it: {how}")


def default_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The download/extraction cache: ``cache_dir`` if given, else ``$COARSEGRAIN_CACHE``, else
    ``$XDG_CACHE_HOME/coarsegrain``, else ``~/.cache/coarsegrain``."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("COARSEGRAIN_CACHE"):
        return Path(os.environ["COARSEGRAIN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "coarsegrain"


# ----------------------------------------------------------------------------- hashing


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file at ``path``, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: str | os.PathLike, sha256: str | None = None, size: int | None = None) -> str:
    """Check ``path`` against an expected ``size`` (bytes) and ``sha256``; return the sha256 seen.

    Raises
    ------
    ChecksumError
        naming the file, the expected and the observed value.
    """
    path = Path(path)
    if size is not None and path.stat().st_size != size:
        raise ChecksumError(f"{path}: size {path.stat().st_size} bytes, expected {size}")
    seen = sha256_file(path)
    if sha256 is not None and seen != sha256.lower():
        raise ChecksumError(f"{path}: sha256 {seen}, expected {sha256.lower()}")
    return seen


def tree_sha256(root: str | os.PathLike, files: list[Path] | None = None) -> str:
    """A sha256 identifying a folder's content: hash of the sorted ``relative path, file sha256``
    lines of ``files`` (default: every regular file below ``root``)."""
    root = Path(root)
    files = sorted(files if files is not None else (p for p in root.rglob("*") if p.is_file()))
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}\0{sha256_file(f)}\n".encode())
    return h.hexdigest()


# ----------------------------------------------------------------------------- download


class _VerifyingWriter:
    """The file object a downloader writes into: hashes and counts the bytes as they arrive
    and enforces the overall time limit, so nothing is read twice and a trickling server is
    abandoned mid-transfer."""

    def __init__(self, f, url: str, max_seconds: float | None):
        self.f, self.url, self.max_seconds = f, url, max_seconds
        self.h = hashlib.sha256()
        self.got = 0
        self.t0 = time.monotonic()

    def write(self, chunk: bytes) -> int:
        self.f.write(chunk)
        self.h.update(chunk)
        self.got += len(chunk)
        if self.max_seconds is not None and time.monotonic() - self.t0 > self.max_seconds:
            raise DownloadError(f"{self.url}: transfer exceeded {self.max_seconds} s "
                                f"({self.got} bytes received); giving up")
        return len(chunk)

    def flush(self) -> None:
        self.f.flush()


def _copy_local(url: str, out: _VerifyingWriter) -> None:
    """file:// URLs (local mirrors, tests): pooch has no downloader for them."""
    path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                out.write(chunk)
    except OSError as exc:
        raise DownloadError(f"{url}: download failed ({exc.strerror or exc})") from exc


def _pooch_transfer(url: str, out: _VerifyingWriter, timeout: float, progress: bool) -> None:
    """Stream ``url`` into ``out`` with pooch's downloader for its protocol (http, https, ftp,
    sftp, doi), translating requests' exceptions into :class:`DownloadError`."""
    import pooch
    import requests
    from tqdm.auto import tqdm

    class _Bar(tqdm):
        # pooch tests ``if progressbar:`` before it sets the total, which tqdm refuses.
        def __bool__(self):
            return True

    # pooch fills in the total from Content-Length; mininterval keeps stage logs short.
    bar = (_Bar(unit="B", unit_scale=True, mininterval=5, desc=url.rsplit("/", 1)[-1])
           if progress else False)
    try:
        downloader = pooch.downloaders.choose_downloader(url, progressbar=bar)
    except ValueError as exc:
        if bar:
            bar.close()
        raise ValueError(f"url={url!r} is not allowed: use http(s)://, ftp://, sftp://, "
                         "doi: or file://") from exc
    if isinstance(downloader, pooch.HTTPDownloader):
        downloader = pooch.HTTPDownloader(progressbar=bar, timeout=timeout)
    elif isinstance(downloader, pooch.FTPDownloader):
        downloader = pooch.FTPDownloader(progressbar=bar, timeout=timeout)
    try:
        downloader(url, out, None)
    except requests.exceptions.HTTPError as exc:
        r = exc.response
        raise DownloadError(f"{url}: download failed (HTTP {r.status_code} {r.reason})") from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        # urllib3 enforces Content-Length: fewer bytes than announced end up here.
        raise DownloadError(f"{url}: truncated download ({out.got} bytes received; {exc})"
                            ) from exc
    except (requests.exceptions.RequestException, OSError, EOFError) as exc:
        raise DownloadError(f"{url}: download failed ({exc})") from exc
    finally:
        if bar:
            bar.close()


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    size: int | None = None,
    verify: Callable[[Path], None] | None = None,
    timeout: float = 10.0,
    max_seconds: float | None = None,
    progress: bool = False,
) -> Path:
    """Stream ``url`` to ``dest``, verify it, and rename it into place.

    The transfer itself is pooch's (:mod:`pooch.downloaders`: requests for HTTP(S), plus FTP,
    SFTP and DOI repositories such as Zenodo); ``file://`` URLs are copied directly. The rest
    is kept here because pooch's ``retrieve`` cannot do it: several mirrors per file (the
    callers loop over them), a size check, a caller's ``verify`` run *before* the file appears
    (MNIST checks the decompressed bytes, which is the only checksum identical on every
    mirror), an overall time limit, always replacing ``dest`` rather than trusting a cached
    copy, and errors that name the URL and what was expected.

    Parameters
    ----------
    url : http(s)://, ftp://, sftp://, doi:<DOI>/<file name> or file:// URL
    dest : final path; its folder is created. An existing ``dest`` is replaced only on success.
    sha256, size : expected hex digest and length in bytes (checked when given).
    verify : extra check called with the temporary path before the rename; it raises to reject.
    timeout : seconds for the connection and for each read.
    max_seconds : overall limit on the transfer (a server trickling bytes is abandoned).
    progress : show a byte-count progress bar (with the total the server announces) on stderr

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        unreachable host, HTTP error, timeout, or fewer bytes than ``Content-Length``.
    ChecksumError
        wrong size or sha256. In every failure case no file is left at ``dest`` or next to it.
    ValueError
        a URL scheme that no downloader handles.
    """
    dest = Path(dest)
    with atomic_path(dest, suffix=".part") as tmp:
        with open(tmp, "wb") as f:
            out = _VerifyingWriter(f, url, max_seconds)
            if url.startswith("file:"):
                _copy_local(url, out)
            else:
                _pooch_transfer(url, out, timeout, progress)
        if size is not None and out.got != size:
            raise ChecksumError(f"{url}: {out.got} bytes received, expected {size}")
        seen = out.h.hexdigest()
        if sha256 is not None and seen != sha256.lower():
            raise ChecksumError(f"{url}: sha256 {seen}, expected {sha256.lower()}")
        if verify is not None:
            verify(tmp)
    log.info("downloaded %s (%d bytes, sha256 %s) in %.1f s", url, out.got, seen,
             time.monotonic() - out.t0)
    return dest


# ----------------------------------------------------------------------------- extraction


@contextlib.contextmanager
def _staging_dir(dest: Path):
    """A temporary folder next to ``dest`` that replaces ``dest`` on success."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        yield tmp
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def safe_extract_tar(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a (compressed) tar archive into ``dest`` with tarfile's ``data`` filter.

    The filter strips leading ``/`` (absolute names land inside ``dest``) and refuses ``..``
    components, links pointing outside ``dest`` and device files; any refusal aborts the whole
    extraction (nothing is left at ``dest``).

    Raises
    ------
    UnsafeArchiveError
        a member would escape ``dest`` or is not a plain file/folder/safe link.
    DataError
        the archive is unreadable or truncated.
    """
    archive, dest = Path(archive), Path(dest)
    with _staging_dir(dest) as tmp:
        try:
            with tarfile.open(archive) as tf:
                tf.extractall(tmp, filter="data")
        except tarfile.FilterError as exc:
            raise UnsafeArchiveError(f"{archive}: unsafe member refused ({exc})") from exc
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataError(f"{archive}: unreadable or truncated tar archive ({exc})") from exc
    return dest


def _check_zip_member(archive: Path, info: zipfile.ZipInfo) -> None:
    name = info.filename.replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise UnsafeArchiveError(f"{archive}: member {info.filename!r} would be written outside "
                                 "the extraction folder")
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip records no Unix type
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is not a plain file or "
                                 "folder (link or device)")


def safe_extract_zip(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a zip archive into ``dest``, refusing absolute paths, ``..`` and links.

    All members are checked before anything is written; extraction goes to a temporary folder
    renamed onto ``dest`` when complete.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{archive}: unreadable zip archive ({exc})") from exc
    with zf:
        infos = zf.infolist()
        for info in infos:
            _check_zip_member(archive, info)
        with _staging_dir(dest) as tmp:
            try:
                for info in infos:
                    zf.extract(info, tmp)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise DataError(f"{archive}: corrupt zip archive ({exc})") from exc
    return dest


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a ``.zip`` or tar (``.tar``, ``.tgz``, ``.tar.gz``, ...) archive safely."""
    archive = Path(archive)
    if zipfile.is_zipfile(archive):
        return safe_extract_zip(archive, dest)
    return safe_extract_tar(archive, dest)
