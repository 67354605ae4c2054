"""DMCC framing: bytes on the socket <-> (invoke id, XML body) frames. Pure, no I/O.

Every DMCC XML message is preceded by an 8-byte header (Avaya AES "DMCC XML Programmer's
Guide", message framing): the version as an unsigned 16-bit big-endian integer (always 0),
the total length of the frame *including* the header as an unsigned 16-bit big-endian
integer, and the invoke id as 4 ASCII digits ("0000".."9999") pairing a request with its
response (events carry "9999"). The body is UTF-8 XML; lengths count UTF-8 bytes.

``FrameDecoder`` is fed whatever ``read()`` returned and yields whole frames. A stream from
a peer is untrusted: a bad frame (version not 0, a length that is too small or too large,
a body that is not UTF-8 or not XML, or garbage between frames) is reported in ``errors``
and skipped, and the decoder resynchronises on the next plausible header, so one bad frame
never costs the next good one.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field, replace
from xml.etree.ElementTree import Element, ParseError

from defusedxml.ElementTree import fromstring

HEADER = struct.Struct(">HH4s")
HEADER_SIZE = HEADER.size  # 8 bytes
MAX_FRAME = 0xFFFF  # the length field's largest value, header included
EVENT_INVOKE_ID = 9999
_HEADER_AT = re.compile(rb"\x00\x00..\d{4}\s*<", re.DOTALL)
_LOOKBACK = HEADER_SIZE + 256  # how far before the tail a header match may begin


class FramingError(ValueError):
    """A frame that cannot be encoded (body too long, invoke id out of range)."""


@dataclass(frozen=True)
class Frame:
    """One DMCC message: its invoke id (0..9999), its XML body (text) and, from the decoder,
    that body's parsed document (``root``; the decoder parses each body to check it, so
    ``messages.parse(frame.root)`` reads it without parsing it again)."""

    invoke_id: int
    body: str
    root: Element | None = field(default=None, compare=False, repr=False)


def encode(invoke_id: int, body: str | bytes) -> bytes:
    """The frame for ``body`` (text is encoded as UTF-8).

    Raises ``FramingError`` if ``invoke_id`` is not 0..9999 or the frame would exceed
    ``MAX_FRAME`` bytes.
    """
    if not 0 <= invoke_id <= 9999:
        raise FramingError(f"invoke id must be 0..9999, got {invoke_id}")
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    total = HEADER_SIZE + len(data)
    if total > MAX_FRAME:
        raise FramingError(f"DMCC frame of {total} bytes exceeds the {MAX_FRAME}-byte limit")
    return HEADER.pack(0, total, b"%04d" % invoke_id) + data


def _well_formed(data: bytes) -> Frame | None:
    """``data`` as a frame's text and parsed document (invoke id 0, set by the caller) if
    it is UTF-8 and one well-formed XML document, else None."""
    try:
        text = data.decode("utf-8")
        root = fromstring(text)
    except (UnicodeDecodeError, ParseError, ValueError):
        return None
    except Exception:  # defusedxml refuses entities, DTDs, external references
        return None
    return Frame(0, text, root)


@dataclass
class FrameDecoder:
    """Incremental decoder: ``feed(bytes)`` returns the frames completed so far.

    ``max_frame`` (bytes, header included) bounds what the peer may send; ``errors`` keeps
    the last ``keep_errors`` problems found (text), ``skipped`` counts bytes discarded.
    """

    max_frame: int = MAX_FRAME
    keep_errors: int = 100
    errors: list[str] = field(default_factory=list)
    skipped: int = 0
    _buf: bytearray = field(default_factory=bytearray)
    _scanned: int = 0  # of a partial frame, the bytes searched for a header already

    def _error(self, msg: str) -> None:
        self.errors.append(msg)
        del self.errors[: -self.keep_errors]

    def _resync(self, start: int) -> bool:
        """Drop bytes up to the next plausible header at or after ``start``; False if none
        is in the buffer yet (then only a possible header prefix is kept)."""
        self._scanned = 0
        m = _HEADER_AT.search(self._buf, start)
        if m is None:
            keep = min(len(self._buf), HEADER_SIZE + 16)  # a header may be arriving
            cut = max(len(self._buf) - keep, start)
            # keep only a tail that could start a header (begins with a zero byte)
            tail = self._buf[cut:]
            z = tail.find(b"\x00")
            cut = cut + z if z >= 0 else len(self._buf)
            self.skipped += cut
            del self._buf[:cut]
            return False
        self.skipped += m.start()
        del self._buf[: m.start()]
        return True

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame now complete, in order."""
        self._buf += data
        out: list[Frame] = []
        buf = self._buf
        while len(buf) >= HEADER_SIZE:
            version, length, invoke = HEADER.unpack_from(buf)
            if version != 0 or not invoke.isdigit() or length <= HEADER_SIZE \
                    or length > self.max_frame:
                why = (f"version {version}" if version != 0 else
                       f"invoke id {invoke!r}" if not invoke.isdigit() else
                       f"length {length}")
                self._error(f"bad DMCC header ({why}); resynchronising")
                if not self._resync(1):
                    break
                continue
            if len(buf) < length:
                # Not all here yet, or the length lies: a complete XML document followed by
                # a plausible header inside the claimed span means the length was too long.
                # Bytes searched before are not searched again (a frame arriving a byte at
                # a time would cost quadratic time), nor a header already tried.
                m = _HEADER_AT.search(buf, max(HEADER_SIZE + 1, self._scanned))
                if m is not None:
                    got = _well_formed(bytes(buf[HEADER_SIZE:m.start()]))
                    if got is not None:
                        self._error(f"DMCC frame length {length} overruns the next frame; "
                                    "taking the XML before it")
                        out.append(replace(got, invoke_id=int(invoke)))
                        del buf[: m.start()]
                        self._scanned = 0
                        continue
                    self._scanned = m.start() + 1
                else:  # a header may be arriving at the tail: look there again
                    self._scanned = max(len(buf) - _LOOKBACK, 0)
                break
            self._scanned = 0
            got = _well_formed(bytes(buf[HEADER_SIZE:length]))
            if got is None:
                self._error(f"DMCC frame {invoke.decode()} of {length} bytes is not "
                            "UTF-8 XML (or its length lies); skipped")
                if not self._resync(1):
                    break
                continue
            out.append(replace(got, invoke_id=int(invoke)))
            del buf[:length]
        return out

    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def close(self) -> None:
        """The stream ended: a partial frame left over is reported as truncated."""
        self._scanned = 0
        if self._buf:
            self._error(f"connection closed inside a DMCC frame ({len(self._buf)} bytes "
                        "truncated)")
            self.skipped += len(self._buf)
            self._buf.clear()
