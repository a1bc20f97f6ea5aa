"""Cutting a child's byte stream into the lines pegasus passes on."""

from __future__ import annotations

import codecs
from typing import Callable

READ_SIZE = 65536   # bytes read at once from a pipe; the longest line passed on whole


class LineSplitter:
    """Cuts a byte stream into lines: `\\n`, `\\r\\n` and a lone `\\r` each end
    one (a progress bar's updates become lines). A line longer than
    `max_line` bytes is passed on in pieces of that size, so one endless line
    does not grow memory. Invalid UTF-8 becomes U+FFFD.
    """

    def __init__(self, emit: Callable[[str], None], max_line: int = READ_SIZE):
        self._emit = emit
        self._max = max_line
        self._pending = b""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._after_cr = False

    def feed(self, data: bytes) -> None:
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]  # the \n of a \r\n split across two reads
        self._after_cr = False
        data = self._pending + data
        start = 0
        length = len(data)
        while start < length:
            newline = data.find(b"\n", start)
            carriage = data.find(b"\r", start, newline if newline >= 0 else length)
            if carriage >= 0:
                if carriage == length - 1:
                    self._after_cr = True
                    end, skip = carriage, 1
                elif data[carriage + 1:carriage + 2] == b"\n":
                    end, skip = carriage, 2
                else:
                    end, skip = carriage, 1
                if end > start or skip == 2:
                    self._line(data[start:end])
                start = end + skip
                continue
            if newline < 0:
                break
            self._line(data[start:newline])
            start = newline + 1
        rest = data[start:]
        while len(rest) >= self._max:
            piece, rest = rest[:self._max], rest[self._max:]
            self._emit(self._decoder.decode(piece))
        self._pending = rest

    def _line(self, raw: bytes) -> None:
        self._emit(self._decoder.decode(raw, final=True))

    def close(self) -> None:
        """End of stream: a last line without newline is still a line."""
        if self._pending:
            self._line(self._pending)
            self._pending = b""
        else:
            tail = self._decoder.decode(b"", final=True)
            if tail:
                self._emit(tail)
