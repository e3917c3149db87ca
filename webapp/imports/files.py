"""Reading an uploaded file: a ZIP entry by entry, JSON one conversation at a time.

A file is a ZIP (by its first bytes, whatever its name) or a JSON document.
From a ZIP only the conversations are read: ``conversations.json`` and the
split ``conversations-000.json``… (ChatGPT's, Parley's), in any folder of
it, never written to disk. Before anything is read, a ZIP is refused whole
if it has more than ``MAX_ZIP_ENTRIES`` entries, an entry whose name would
lead outside it (``../``, an absolute path, a drive), or conversations
that would unpack to more than the limit (``uncompressed_limit``: eight
times ``PARLEY_IMPORT_MAX_MB``); Python's ``zipfile`` never unpacks more
than an entry's stated size, so a zip bomb cannot get past the stated sizes.
An entry that is encrypted, or packed in a way Python cannot unpack,
fails alone when it is read.

A JSON document is parsed incrementally (ijson): a list is read one element
at a time, each built and handed on before the next is read, so memory
follows the largest conversation, not the file. A single object (one
thread's export) is one element.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any

import ijson

MAX_ZIP_ENTRIES = 100_000
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
CONVERSATIONS = re.compile(r"conversations(?:-(\d+))?\.json", re.IGNORECASE)
READ_SIZE = 64 * 1024
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
_UNPACK_IT = "Unpack the ZIP and import its conversations files instead."


class FileError(Exception):
    """A file (or a ZIP's entry) that cannot be read at all, or no further;
    ``unknown_format``: it is no export Parley reads (the report then says
    which those are)."""

    def __init__(self, message: str, *, unknown_format: bool = False):
        super().__init__(message)
        self.message = message
        self.unknown_format = unknown_format


@dataclass
class Document:
    """One JSON document to read: an uploaded file, or a ZIP's entry."""

    name: str  # as the report names it
    size: int  # its bytes (unpacked), for the progress bar
    open: Callable[[], IO[bytes]]


def is_zip(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(4) in ZIP_MAGIC


def documents(path: Path, name: str, uncompressed_limit: int) -> Iterator[Document]:
    """The JSON documents an uploaded file holds, in the order to read them."""
    if not is_zip(path):
        yield Document(name, path.stat().st_size, lambda: open(path, "rb"))
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise FileError(f"{name} is not a ZIP that can be read ({error}).") from None
    with archive:
        entries = conversation_entries(archive, name, uncompressed_limit)
        for entry in entries:
            entry_name = f"{name}: {entry.filename}"
            yield Document(entry_name, entry.file_size, partial(_open_entry, archive, entry, entry_name))


def _open_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, name: str) -> IO[bytes]:
    """A ZIP entry to read; ``FileError`` if it is encrypted or packed in a
    way Python cannot unpack (Windows packs large files with Deflate64)."""
    if entry.flag_bits & 0x1:
        raise FileError(f"{name} could not be unpacked: it is encrypted. {_UNPACK_IT}")
    try:
        return archive.open(entry)
    except NotImplementedError:
        method = zipfile.compressor_names.get(entry.compress_type, f"method {entry.compress_type}")
        raise FileError(f"{name} could not be unpacked: Parley cannot unpack {method}. {_UNPACK_IT}") from None


def conversation_entries(archive: zipfile.ZipFile, name: str, uncompressed_limit: int) -> list[zipfile.ZipInfo]:
    """The ZIP's conversation files, after the checks that refuse it whole."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise FileError(f"{name} holds {len(infos):,} files; Parley reads ZIPs of at most {MAX_ZIP_ENTRIES:,}.")
    for info in infos:
        if not safe_entry_name(info.filename):
            raise FileError(f"{name} holds an entry named {info.filename[:100]!r}, which points outside the ZIP.")
    found = []
    for info in infos:
        path = PurePosixPath(_slashed(info.filename))
        match = CONVERSATIONS.fullmatch(path.name)
        if match and not info.is_dir():
            found.append((path.parent.as_posix(), int(match.group(1) or -1), info))
    if not found:
        raise FileError(
            f"{name} holds no conversations.json (nor conversations-000.json…): it is not a ChatGPT or Parley export.",
            unknown_format=True,
        )
    found.sort(key=lambda entry: entry[:2])
    entries = [info for *_, info in found]
    unpacked = sum(info.file_size for info in entries)
    if unpacked > uncompressed_limit:
        raise FileError(
            f"The conversations in {name} unpack to {unpacked / 2**20:,.0f} MB, more than the "
            f"{uncompressed_limit / 2**20:,.0f} MB Parley unpacks from one file."
        )
    return entries


def safe_entry_name(filename: str) -> bool:
    """A ZIP entry's name that stays inside it wherever it would be unpacked."""
    filename = _slashed(filename)
    if "\x00" in filename or filename.startswith("/"):
        return False
    parts = filename.split("/")
    return ".." not in parts and not re.match(r"^[A-Za-z]:", filename)


def _slashed(filename: str) -> str:
    """A ZIP entry's name with ``/`` between its folders, as the ZIP format
    has it, also where a Windows tool wrote ``\\`` (PowerShell 5 does)."""
    return filename.replace("\\", "/")


class _Reading:
    """A stream with its first bytes put back, counting what is read."""

    def __init__(self, stream: IO[bytes], head: bytes, counted: Callable[[int], None]):
        self.stream, self.head, self.counted = stream, head, counted

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data = self.head if size < 0 else self.head[:size]
            self.head = self.head[len(data) :]
            return data
        data = self.stream.read(size)
        self.counted(len(data))
        return data


def items(document: Document, counted: Callable[[int], None]) -> Iterator[Any]:
    """The conversations of a JSON document, one parsed object at a time:
    each element of a list, or the document itself if it is an object.
    ``counted`` is told how many bytes each read took."""
    try:
        with document.open() as stream:
            head = stream.read(READ_SIZE)
            counted(len(head))
            start = head[len(_BOM) :] if head.startswith(_BOM) else head
            first = start.lstrip(_WHITESPACE)[:1]
            if first not in (b"[", b"{"):
                raise FileError(
                    f"{document.name} is not JSON{' (it is empty)' if not first else ''}.", unknown_format=True
                )
            reading = _Reading(stream, start, counted)
            parsed = 0
            try:
                for item in ijson.items(reading, "item" if first == b"[" else "", use_float=True):
                    parsed += 1
                    yield item
            except (ijson.JSONError, UnicodeDecodeError) as error:
                where = f"after {parsed:,} conversation{'s' if parsed != 1 else ''}" if parsed else "at its start"
                raise FileError(
                    f"{document.name} is not valid JSON {where}: it may be cut short ({_short(error)})."
                ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise FileError(f"{document.name} could not be unpacked: the ZIP is damaged ({_short(error)}).") from None


def _short(error: Exception) -> str:
    # Its first line: yajl draws where it stopped on the lines below.
    text = str(error).strip().split("\n", 1)[0].strip() or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "…"
