"""A `multipart/form-data` body's text fields, rewritten as the `application/x-www-form-urlencoded` body they stand
for, so that the door reads them (credentials, charsets, parameter names) exactly as it reads a form.

smsmode documents form bodies, but many programs written for it post multipart: PHP's cURL does so whenever the
parameters are given as an array (`CURLOPT_POSTFIELDS => [...]`), and so do HTML forms with `enctype` set and
some SDK helpers. Refusing them would answer `32` (no credentials found) to a program whose only fault is its
HTTP library's habit. The rewrite keeps each value's bytes as they came (percent-escaped, not decoded), so the
charset is decided afterwards as for any other body (`martinet.api.legacy.decoding`). Parts that carry a file
name are files, not parameters, and are left out (`sendSMSBatch.do` reads its file itself, `batch.py`).

The body is already whole and bounded (`http.max_body_bytes`) when it is rewritten, and the rewrite is no larger
than three times its fields' bytes: this runs only for multipart bodies, off the form path's cost.
"""

from __future__ import annotations

from urllib.parse import quote_from_bytes

from python_multipart.multipart import MultipartParser, parse_options_header

FORM_TYPE = "application/x-www-form-urlencoded"


class UnreadableMultipart(ValueError):
    """The body says it is multipart but cannot be read as such (no boundary, a broken part)."""


def is_multipart(content_type: str) -> bool:
    return content_type[:19].lower() == "multipart/form-data"


def as_form_body(body: bytes, content_type: str) -> bytes:
    """The text fields of a multipart body as a form body (`name=value&…`, every byte but URL-unreserved ones
    percent-escaped), in their order. Raises UnreadableMultipart."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise UnreadableMultipart("no boundary")
    fields = _Fields()
    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": fields.part_begin,
                "on_header_field": fields.headers.field,
                "on_header_value": fields.headers.value,
                "on_header_end": fields.headers.end,
                "on_headers_finished": fields.headers_finished,
                "on_part_data": fields.part_data,
                "on_part_end": fields.part_end,
            },
        )
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart's own errors for a broken stream
        raise UnreadableMultipart(str(exc)) from None
    if not fields.parts or not fields.complete:
        raise UnreadableMultipart("no part" if not fields.parts else "the body ends inside a part")
    return b"&".join(
        quote_from_bytes(name, safe="").encode("ascii") + b"=" + quote_from_bytes(value, safe="").encode("ascii")
        for name, value in fields.pairs
    )


class PartHeaders:
    """A part's `Content-Disposition`, gathered from python-multipart's header events (`field`, `value`, `end`
    for each header; `begin` at each part): all a form's reader needs of a part's headers."""

    def __init__(self) -> None:
        self._name = bytearray()
        self._value = bytearray()
        self._disposition = b""

    def begin(self) -> None:
        self._disposition = b""

    def field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def end(self) -> None:
        if bytes(self._name).strip().lower() == b"content-disposition":
            self._disposition = bytes(self._value)
        self._name.clear()
        self._value.clear()

    def disposition(self) -> tuple[bytes, dict[bytes, bytes]]:
        """The disposition's kind (`form-data`) and its options (`name`, `filename`)."""
        return parse_options_header(self._disposition)


class _Fields:
    """Collects each part's name and bytes; a part with a file name is skipped."""

    def __init__(self) -> None:
        self.pairs: list[tuple[bytes, bytes]] = []
        self.parts = 0
        self.complete = True
        self.headers = PartHeaders()
        self._name: bytes | None = None
        self._value = bytearray()

    def part_begin(self) -> None:
        self.parts += 1
        self.complete = False
        self.headers.begin()
        self._name = None
        self._value.clear()

    def headers_finished(self) -> None:
        kind, options = self.headers.disposition()
        if kind != b"form-data" or b"filename" in options:
            return  # not a field: a file, or a part of no form
        self._name = options.get(b"name")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._name is not None:
            self._value += data[start:end]

    def part_end(self) -> None:
        if self._name:
            self.pairs.append((self._name, bytes(self._value)))
        self.complete = True
