"""Structure checks of AEDAT recordings before spikingjelly reads them: its readers fail deep
inside a conversion thread (or read garbage) on a truncated file, so a bad file is named first."""

from __future__ import annotations

import struct
from pathlib import Path

from snnexp.errors import DataError

AEDAT31_END = b"#!END-HEADER\r\n"
POLARITY_EVENT = 1  # AEDAT 3.1 event type of DVS polarity events


def _bad(path: Path, fmt: str, why: str, fix: str) -> DataError:
    return DataError(f"{path} is not a readable {fmt} file ({why}); {fix}")


def _skip_aedat31_header(f, path: Path, fix: str) -> None:
    line = f.readline()
    if not line.startswith(b"#!AER-DAT3"):
        raise _bad(path, "AEDAT 3.1", "it does not start with '#!AER-DAT3.1'", fix)
    while line != AEDAT31_END:
        line = f.readline()
        if not line.startswith(b"#"):
            raise _bad(path, "AEDAT 3.1", "its header does not end with '#!END-HEADER'", fix)


def check_aedat31(path: Path, fix: str = "replace it with the original") -> int:
    """Check the structure spikingjelly's ``load_aedat_v3`` relies on (header ended by
    ``#!END-HEADER\\r\\n``, then whole 28-byte-headed packets) without parsing events;
    returns the number of polarity events."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        _skip_aedat31_header(f, path, fix)
        pos, n = f.tell(), 0
        while pos < size:
            f.seek(pos)
            head = f.read(28)
            if len(head) < 28:
                raise _bad(path, "AEDAT 3.1", f"truncated packet header at byte {pos}", fix)
            etype, _, esize, _, _, capacity, _, _ = struct.unpack("<hhiiiiii", head)
            if esize <= 0 or capacity < 0 or (etype == POLARITY_EVENT and esize < 8):
                raise _bad(path, "AEDAT 3.1", f"bad packet header at byte {pos}", fix)
            end = pos + 28 + esize * capacity
            if end > size:
                why = f"truncated: the packet at byte {pos} ends at byte {end}, the file at {size}"
                raise _bad(path, "AEDAT 3.1", why, fix)
            n += capacity if etype == POLARITY_EVENT else 0
            pos = end
    if n == 0:
        raise _bad(path, "AEDAT 3.1", "it holds no polarity events", fix)
    return n


def _aedat2_header_bytes(f, path: Path, fix: str) -> int:
    """Bytes of '#' header lines, skipped as spikingjelly.datasets.cifar10_dvs._skip_header does."""
    line = f.readline()
    if not line.startswith(b"#"):  # jAER writes '#!AER-DAT2.0' and '#' comment lines
        raise _bad(path, "AEDAT", "it has no '#!AER-DAT' header", fix)
    header = 0
    while True:
        try:
            text = line.decode().strip()
        except UnicodeDecodeError:
            break
        if not text or text[0] != "#":
            break
        header += len(line)
        line = f.readline()
    return header


def check_aedat2(path: Path, fix: str = "replace it with the original") -> int:
    """Check a CIFAR10-DVS (jAER AEDAT 2.0) file the way spikingjelly's reader sees it: '#'
    header lines, then big-endian (address, timestamp) uint32 pairs; returns the event count."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        data = size - _aedat2_header_bytes(f, path, fix)
    if data <= 0:
        raise _bad(path, "AEDAT", "it holds no events", fix)
    if data % 8:
        why = f"{data} bytes of events is not a whole number of 8-byte events (truncated?)"
        raise _bad(path, "AEDAT", why, fix)
    return data // 8
