"""Incremental splitting of an SMPP byte stream into PDUs, without doing any I/O.

SMPP frames are length-prefixed (the first four octets are command_length), so a reader only
needs to buffer until a whole frame is present.  Two ways to drive it:

* ``reader.feed(data) -> list[PDU | PDUError]``: hand over what the socket produced and get
  every complete PDU, in order.  A malformed frame appears *in the list* as its
  :class:`PDUError` at its place in the stream, so PDUs that arrived before and after it are
  not lost and the session answers each one in order (``error_response`` builds the nack).
* ``reader.receive_data(data)`` then ``reader.next_pdu()`` until it returns None, in the
  style of h11: errors are raised instead of returned.

Recoverable errors (unknown command_id, bad body) consume their frame, so the next call
continues with the next PDU.  A *fatal* error (command_length < 16 or above the maximum)
leaves the stream unsplittable: the reader stops buffering (a hostile peer cannot make it
grow) and every later call reports the same error, until the session closes the connection.
"""

from __future__ import annotations

from .errors import InvalidCommandLength, PDUError
from .pdu import PDU, check_command_length, decode
from .wire import DEFAULT_MAX_COMMAND_LENGTH, HEADER_SIZE

__all__ = ["PDUReader"]


class PDUReader:
    """Buffers bytes and yields complete PDUs; one instance per connection."""

    __slots__ = ("_buffer", "_fatal", "_lenient", "_max_command_length")

    def __init__(self, *, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH, lenient: bool = False) -> None:
        """``lenient``: frames are decoded with `decode`'s ``lenient`` (an ESME reading its SMSC)."""
        if max_command_length < HEADER_SIZE:
            raise ValueError(f"max_command_length must be at least {HEADER_SIZE}")
        self._buffer = bytearray()
        self._lenient = lenient
        self._max_command_length = max_command_length
        self._fatal: InvalidCommandLength | None = None

    @property
    def buffered(self) -> int:
        """Octets received but not yet returned as a PDU (a partial frame, usually)."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Append bytes read from the connection (discarded once the stream is unusable)."""
        if self._fatal is None:
            self._buffer += data

    def next_pdu(self) -> PDU | None:
        """Return the next complete PDU, or None when more data is needed.

        Raises :class:`PDUError` for a malformed frame (see module docstring for which
        errors consume the frame).
        """
        if self._fatal is not None:
            raise self._fatal
        buffer = self._buffer
        try:
            length = check_command_length(buffer, self._max_command_length)
        except InvalidCommandLength as exc:
            self._fatal = exc
            raise
        if length is None or len(buffer) < length:
            return None
        frame = bytes(buffer[:length])
        # Deleting from the front of a bytearray is amortised O(1) in CPython.
        del buffer[:length]
        return decode(frame, max_command_length=self._max_command_length, lenient=self._lenient)

    def feed(self, data: bytes) -> list[PDU | PDUError]:
        """Append ``data`` and return every complete PDU, malformed ones as their error."""
        self.receive_data(data)
        out: list[PDU | PDUError] = []
        while True:
            try:
                pdu = self.next_pdu()
            except PDUError as exc:
                out.append(exc)
                if exc.fatal:
                    return out
                continue
            if pdu is None:
                return out
            out.append(pdu)
