# -*- test-case-name: tests.test_syslogframing -*-
"""
The syslog messages of one TCP stream, framed as RFC 6587 says: octet-counted or ended by LF.

Every byte may be hostile: whatever is fed, a L{Framing} holds at most C{max_message + 1} bytes
between calls (or the L{MAX_DIGITS} of a count, if more), and L{Framing.feed} does work linear
in what it is given: a few steps of Python for each octet-counted frame, none for each byte,
and runs of LF-framed frames split in C.
"""

from __future__ import annotations

import re

__all__ = ["MAX_DIGITS", "MAX_MESSAGE", "Framing"]

MAX_MESSAGE = 64 * 1024
"""The most bytes of a message that are kept: the rest of a longer one is dropped."""
MAX_DIGITS = 9
"""The most digits of an octet count: a longer count is not framing (nor is a billion bytes
a message)."""

_START, _COUNT, _OCTETS, _SKIP, _LINE, _DISCARD = range(6)
"""Where a stream is: at a frame's start, in its octet count, in an octet-counted message
(kept, or skipped past L{MAX_MESSAGE}), in an LF-framed one (kept, or dropped to the LF)."""

_DIGIT_LINE = re.compile(rb"\n[0-9]")
"""Where a run of LF-framed frames ends: at a frame that starts with a digit."""


class Framing:
    """
    RFC 6587 framing of one TCP syslog stream: each frame is octet-counted (C{LEN SP MSG}) or
    ended by LF (non-transparent framing), decided per frame by its first byte, as rsyslog
    does: a digit starts an octet count.

    An LF-framed message loses one C{\\r} before its LF, and an empty one (a blank line) is
    skipped; NUL ends nothing.  An octet-counted message is handed out exactly as sent.

    A frame whose count is not framing (more than L{MAX_DIGITS} digits, a count of 0, or
    digits not followed by a space, as in C{127.0.0.1 - -}) is counted in C{malformed} and read
    as an LF-framed frame from its first digit on, as rsyslog does with a count too long
    (rsyslog goes on counting after digits not followed by a space; a syslog message starts
    with C{<}, so such a frame is most likely a bare line sent without framing).

    @ivar max_message: the most bytes of a message that are kept.
    @ivar cut: how many messages were longer than C{max_message} and were cut to it: their first
        C{max_message} bytes are handed out as soon as they are in, the rest dropped unkept.
    @ivar malformed: how many frames were not framing (see above), or were octet-counted and
        left unfinished by the stream's end (L{end}).
    """

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        """
        @param max_message: the most bytes of a message that are kept, at least 1.
        """
        if max_message < 1:
            raise ValueError(f"max_message must be at least 1, not {max_message}")
        self.max_message = max_message
        self.cut = 0
        self.malformed = 0
        self._state = _START
        self._digits = b""
        self._pending = bytearray()
        self._count = 0
        self._remaining = 0

    @property
    def held(self) -> int:
        """
        How many bytes of an unfinished frame are held: at most C{max_message + 1}, or the
        L{MAX_DIGITS} of an octet count if that is more.
        """
        return len(self._digits) + len(self._pending)

    def feed(self, data: bytes) -> list[bytes]:
        """
        Read more of the stream.

        @param data: the bytes that came next, any number of them.
        @return: the messages that they finish, in order, and those that they make longer than
            C{max_message}, cut to it.
        """
        out: list[bytes] = []
        if self._state == _COUNT:
            data = self._digits + data
            self._digits = b""
            self._state = _START
        position = 0
        while position < len(data):
            state = self._state
            if state == _START:
                position = self._frames(data, position, out)
            elif state == _LINE:
                position = self._line(data, position, out)
            elif state == _OCTETS:
                position = self._octets(data, position, out)
            else:
                position = self._skip(data, position)
        return out

    def end(self) -> list[bytes]:
        """
        The stream is over: hand out what its unfinished frame holds, if it can, and start anew.

        @return: the message of an unfinished LF-framed frame, as rsyslog does, without a
            trailing C{\\r} (none if it is empty or was cut already); an unfinished octet count
            or octet-counted message is dropped, and counted in C{malformed}.
        """
        out: list[bytes] = []
        if self._state == _LINE:
            message = bytes(self._pending).removesuffix(b"\r")
            if message:
                out.append(message)
        elif self._state in (_COUNT, _OCTETS):
            self.malformed += 1
        self._state = _START
        self._digits = b""
        self._pending.clear()
        return out

    def _frames(self, data: bytes, position: int, out: list[bytes]) -> int:
        """
        Read the frames that start at C{position} and that C{data} holds whole, then set the
        state for the one it does not.

        @return: where the frame that C{data} does not hold whole starts (or goes on).
        """
        size = len(data)
        limit = self.max_message
        find = data.find
        digit_line = _DIGIT_LINE.search
        while position < size:
            if 0x30 <= data[position] <= 0x39:  # a digit: an octet count
                space = find(b" ", position, position + MAX_DIGITS + 1)
                digits = data[position:space] if space > 0 else b""
                if digits.isdigit() and (count := int(digits)):
                    start = space + 1
                    stop = start + count
                    if stop <= size and count <= limit:
                        out.append(data[start:stop])
                        position = stop
                        continue
                    self._count = self._remaining = count
                    self._state = _OCTETS
                    return start
                if space < 0 and size - position <= MAX_DIGITS and data[position:].isdigit():
                    self._digits = data[position:]
                    self._state = _COUNT
                    return size
                self.malformed += 1  # and read as LF-framed, from this first digit on
            newline = find(b"\n", position)
            if newline < 0:
                self._state = _LINE
                return position
            if newline + 1 < size and not 0x30 <= data[newline + 1] <= 0x39:
                found = digit_line(data, newline)  # a run of LF-framed frames: split in C
                stop = data.rfind(b"\n") + 1 if found is None else found.start() + 1
                messages = data[position:stop].replace(b"\r\n", b"\n").split(b"\n")
                if stop - position > limit and max(map(len, messages)) > limit:
                    self.cut += sum(len(message) > limit for message in messages)
                    messages = [message[:limit] for message in messages]
                out.extend(filter(None, messages))
                position = stop
                continue
            message = data[position:newline].removesuffix(b"\r")
            if len(message) > limit:
                self.cut += 1
                message = message[:limit]
            if message:
                out.append(message)
            position = newline + 1
        return position

    def _line(self, data: bytes, position: int, out: list[bytes]) -> int:
        """
        Go on with an LF-framed frame, whose first bytes the pending buffer may hold.

        @return: where the frame ends in C{data}, or the end of C{data}.
        """
        pending = self._pending
        limit = self.max_message
        room = limit + 1 - len(pending)
        newline = data.find(b"\n", position, position + room + 1)
        if newline < 0:
            stop = min(len(data), position + room)
            pending += data[position:stop]
            if len(pending) <= limit:
                return stop
            if pending[-1] == 0x0D and stop == len(data):  # "\r": is an LF next?
                return stop
            out.append(bytes(pending[:limit]))
            self.cut += 1
            pending.clear()
            self._state = _DISCARD
            return stop
        pending += data[position:newline]
        if pending.endswith(b"\r"):
            del pending[-1]
        if len(pending) > limit:
            out.append(bytes(pending[:limit]))
            self.cut += 1
        elif pending:
            out.append(bytes(pending))
        pending.clear()
        self._state = _START
        return newline + 1

    def _octets(self, data: bytes, position: int, out: list[bytes]) -> int:
        """
        Go on with an octet-counted message, keeping at most C{max_message} bytes of it.

        @return: where the message ends in C{data}, or the end of C{data}.
        """
        pending = self._pending
        limit = self.max_message
        taken = min(self._remaining, len(data) - position)
        pending += data[position:position + min(taken, limit - len(pending))]
        self._remaining -= taken
        if self._count > limit:
            if len(pending) < limit:
                return position + taken
            self.cut += 1
        elif self._remaining:
            return position + taken
        out.append(bytes(pending))
        pending.clear()
        self._state = _SKIP if self._remaining else _START
        return position + taken

    def _skip(self, data: bytes, position: int) -> int:
        """
        Drop what is left of a message longer than C{max_message}, by count or to its LF.

        @return: where the message ends in C{data}, or the end of C{data}.
        """
        if self._state == _SKIP:
            taken = min(self._remaining, len(data) - position)
            self._remaining -= taken
            if not self._remaining:
                self._state = _START
            return position + taken
        newline = data.find(b"\n", position)
        if newline < 0:
            return len(data)
        self._state = _START
        return newline + 1
