"""What a file really is, judged by its bytes (never by its name), and whether it is
safe to open.

``inspect(path, file_name)`` returns the format (``xlsx``, ``xls``, ``xlsb``, ``ods``,
``csv``) or raises ``ImportRefused`` with one clear message: a CSV or HTML file renamed
``.xlsx``, a PDF, a password-protected workbook, a truncated or corrupt archive, an
empty file, or a zip bomb. The bomb check reads only the archive's directory (the
declared sizes), before anything is inflated.
"""
from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ImportRefused

# Declared (uncompressed) size limits for a spreadsheet archive. A 1 000 000-row,
# 7-column sheet is ~290 MB of XML; Excel's full sheet of 1 048 576 rows with a few
# dozen columns stays below 1.5 GB.
MAX_MEMBER_BYTES = 1_500_000_000
MAX_TOTAL_BYTES = 2_000_000_000
# Ordinary sheet XML compresses 5-30 times; a bomb hundreds or thousands of times.
MAX_RATIO = 150
RATIO_MIN_BYTES = 20_000_000
MAX_FILE_BYTES = 1_000_000_000  # the upload itself

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")

SPREADSHEET_EXTS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
TEXT_EXTS = {".csv", ".txt", ".tsv"}


@dataclass(frozen=True)
class FileInfo:
    path: Path
    file_name: str
    format: str        # xlsx | xlsb | ods | xls | csv
    size: int
    digest: "_Digest" = field(repr=False, compare=False)

    @property
    def sha256(self) -> str:
        """The file's SHA-256 (hex), computed in a background thread started by
        ``inspect``: hashlib releases the GIL, so it overlaps the read of the sheet."""
        return self.digest.result()


class _Digest:
    """sha256_of(path) computed in a thread; ``result()`` waits for it (and re-raises)."""

    def __init__(self, path: Path):
        self._value: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), name="import-sha256", daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._value = sha256_of(path)
        except BaseException as e:  # handed to the caller of result()
            self._error = e

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head[:4096]:
        return False
    # Control bytes other than tab/CR/LF/FF are rare in text and common in binaries.
    ctrl = sum(1 for b in head[:4096] if b < 32 and b not in (9, 10, 12, 13))
    return ctrl <= len(head[:4096]) // 100


def _is_html(head: bytes) -> bool:
    s = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return s.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml")) and (
        b"<html" in s or b"<table" in s or b"<body" in s)


def _check_zip(path: Path, file_name: str) -> str:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError):
        raise ImportRefused("corrupt", file=file_name)
    with zf:
        try:
            infos = zf.infolist()
        except Exception:
            raise ImportRefused("corrupt", file=file_name)
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES or (
                    info.file_size > RATIO_MIN_BYTES
                    and info.file_size > MAX_RATIO * max(info.compress_size, 1)):
                raise ImportRefused("zip_bomb", file=file_name, size=_mb(info.file_size),
                                    member=info.filename)
        names = {i.filename for i in infos}
        if "xl/workbook.xml" in names:
            fmt = "xlsx"
        elif "xl/workbook.bin" in names:
            fmt = "xlsb"
        elif "content.xml" in names and "mimetype" in names:
            try:
                mt = zf.read("mimetype")[:100]
            except Exception:
                raise ImportRefused("corrupt", file=file_name)
            if b"spreadsheet" not in mt:
                raise ImportRefused("not_spreadsheet", file=file_name)
            fmt = "ods"
        elif "word/document.xml" in names or "ppt/presentation.xml" in names:
            raise ImportRefused("not_spreadsheet", file=file_name)
        elif any(n.startswith("xl/") for n in names):
            raise ImportRefused("corrupt", file=file_name)
        else:
            raise ImportRefused("not_spreadsheet", file=file_name)
        # A truncated archive can still list its members; the one we need must
        # at least have a sane local header.
        try:
            with zf.open("xl/workbook.xml" if fmt == "xlsx" else
                         ("xl/workbook.bin" if fmt == "xlsb" else "content.xml")) as f:
                f.read(64)
        except Exception:
            raise ImportRefused("corrupt", file=file_name)
    return fmt


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB".replace(",", " ")


def inspect(path: str | os.PathLike, file_name: str | None = None) -> FileInfo:
    """Identify the file by its content; raise ImportRefused for anything unreadable."""
    path = Path(path)
    file_name = file_name or path.name
    ext = Path(file_name).suffix.lower()
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8192)
    except OSError:
        raise ImportRefused("unreadable", file=file_name)
    if size == 0:
        raise ImportRefused("empty_file", file=file_name)
    if size > MAX_FILE_BYTES:
        raise ImportRefused("too_large", file=file_name, size=_mb(size))
    if head.startswith(b"%PDF"):
        raise ImportRefused("pdf", file=file_name)
    if head.startswith(ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):
        fmt = _check_zip(path, file_name)
    elif head.startswith(OLE_MAGIC):
        with path.open("rb") as f:
            data = f.read(min(size, 4_000_000))
        if ENCRYPTED_MARK in data or "EncryptionInfo".encode("utf-16-le") in data:
            raise ImportRefused("encrypted", file=file_name)
        fmt = "xls"
    elif head.startswith(b"PK"):
        raise ImportRefused("corrupt", file=file_name)
    elif _is_html(head):
        raise ImportRefused("html", file=file_name)
    elif _looks_like_text(head):
        if ext in SPREADSHEET_EXTS:
            raise ImportRefused("renamed_csv", file=file_name, ext=ext)
        fmt = "csv"
    else:
        if ext in SPREADSHEET_EXTS:
            raise ImportRefused("corrupt", file=file_name)
        raise ImportRefused("unknown_format", file=file_name)
    return FileInfo(path=path, file_name=file_name, format=fmt, size=size, digest=_Digest(path))
