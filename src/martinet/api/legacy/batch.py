"""`sendSMSBatch.do`: a CSV file of personalised messages, uploaded as `multipart/form-data`, read as it arrives.

The upload goes through python-multipart's streaming parser and the file part straight into the campaign file
reader (`services.campaign_files`, which `martinet send --file` shares), and each row into the send service's
`Campaign`, which checks it and makes its message at once, and spools the message to disk: the worker holds
neither the upload nor its rows nor their messages, so its memory does not grow with the file. The first refused
row ends the reading and the answer is `35` naming it; nothing is stored. Once the whole file is read the campaign
is accepted as one send (its spool written in the acceptance transaction), whose ID is the answer; the spool is
removed once the campaign is answered.

The file part is named `fichier` (or `file`); its header names the columns `numero`, `message`, `emetteur` and
optionally `refClient`, in any order. A `charset=` on the part's Content-Type (`text/csv; charset=windows-1250`)
is honoured as the REST contacts import honours the body's (`csv_records.declared_codec`); an unknown one is `35`
naming `fichier`. The parameters are those of the query string; text parts are ignored.
"""

from __future__ import annotations

from collections.abc import Callable

from python_multipart.multipart import MultipartParser, parse_options_header

from martinet.api.asgi import Receive
from martinet.api.legacy import counting, params
from martinet.api.legacy.decoding import decode_value
from martinet.api.legacy.endpoints import Call, LegacyServices
from martinet.api.legacy.multipart_form import PartHeaders
from martinet.domain.csv_records import CsvError, charset_of, declared_codec
from martinet.services.accept import InvalidParameter, SendRequest
from martinet.services.campaign_files import CampaignFile
from martinet.services.personal_sends import Campaign, CampaignRow

#: The endpoint's path name, as the door matches it (lower case).
PATH_NAME = "sendsmsbatch.do"

FILE_PARTS = (b"fichier", b"file")
#: Bytes of the text parts together: parameters, not data.
MAX_FIELDS_BYTES = 64 * 1024


class _FileHeaders(PartHeaders):
    """A part's headers as `PartHeaders` gathers them, and its Content-Type too: the file's declared charset."""

    def __init__(self) -> None:
        super().__init__()
        self.content_type = b""

    def begin(self) -> None:
        super().begin()
        self.content_type = b""

    def end(self) -> None:
        if bytes(self._name).strip().lower() == b"content-type":
            self.content_type = bytes(self._value)
        super().end()


class BatchUpload:
    """Feed it the body's chunks; `finish` gives the form's parameters (lower-case names) and the rows.

    Raises InvalidParameter at the first problem: not multipart, a second file, a refused row, too many rows.
    """

    def __init__(self, content_type: str | None, max_rows: int, on_row: Callable[[CampaignRow], None]) -> None:
        kind, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise InvalidParameter("fichier", "expected a multipart/form-data upload")
        self._max_rows = max_rows
        self._on_row = on_row
        self._headers = _FileHeaders()
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._headers.field,
                "on_header_value": self._headers.value,
                "on_header_end": self._headers.end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )
        self.params: dict[str, str] = {}
        self._part_name: bytes | None = None
        self._in_file = False
        self._file_seen = False
        self._field = bytearray()
        self._fields_size = 0
        self._file: CampaignFile | None = None

    def feed(self, chunk: bytes) -> None:
        self._parser.write(chunk)

    def finish(self) -> dict[str, str]:
        """The form's text parts (lower-case names), once the whole upload is read."""
        self._parser.finalize()
        if not self._file_seen:
            raise InvalidParameter("fichier", "missing")
        if self._file is None or not self._file.rows:
            raise InvalidParameter("fichier", "no row")
        return self.params

    # --- multipart events ---

    def _part_begin(self) -> None:
        self._headers.begin()
        self._part_name = None

    def _headers_finished(self) -> None:
        _, options = self._headers.disposition()
        name = options.get(b"name", b"").lower()
        self._part_name = name
        self._in_file = name in FILE_PARTS
        if self._in_file:
            if self._file_seen:
                raise InvalidParameter("fichier", "more than one file")
            self._file_seen = True
            try:
                codec = declared_codec(charset_of(self._headers.content_type.decode("latin-1")))
            except CsvError as exc:
                raise InvalidParameter("fichier", exc.problem) from None
            self._file = CampaignFile(self._max_rows, self._on_row, codec)
        self._field.clear()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._in_file:
            self._reader().feed(chunk)
            return
        self._fields_size += len(chunk)
        if self._fields_size > MAX_FIELDS_BYTES:
            raise InvalidParameter("body", f"more than {MAX_FIELDS_BYTES} bytes of form fields")
        self._field += chunk

    def _part_end(self) -> None:
        if self._in_file:
            self._reader().close()
            self._in_file = False
        elif self._part_name:
            name = self._part_name.decode("latin-1").strip()
            self.params[name] = decode_value(bytes(self._field), None)

    def _reader(self) -> CampaignFile:
        assert self._file is not None
        return self._file


def batch_request(call: Call, rows: Campaign | None = None) -> SendRequest:
    """The campaign as one send: the query's parameters as for `sendSMS.do`, the rows as its messages."""
    p = call.params
    return SendRequest(
        account=call.account,
        text=None,
        recipients=None,
        rows=rows,
        classe=params.integer(p, "classe_msg", 2),
        scheduled_at=params.schedule(p, call.account.timezone),
        sender=p.get("emetteur"),
        ref_client=p.get("refclient"),
        max_parts=params.integer(p, "nbr_msg", 5),
        notification_url=p.get("notification_url"),
        notification_url_reponse=p.get("notification_url_reponse"),
        stop=params.integer(p, "stop", 0),
        validity=params.optional_integer(p, "validity"),
    )


async def open_campaign(services: LegacyServices, call: Call) -> Campaign:
    """The campaign the upload's rows are added to as they are read (its parameters checked first)."""
    return await services.sends.open_campaign(batch_request(call))


@counting.send_endpoint
async def send_batch(services: LegacyServices, call: Call, campaign: Campaign) -> str:
    return await counting.accept(services.sends, batch_request(call, campaign), call.language)


async def read_upload(receive: Receive, upload: BatchUpload, max_bytes: int, declared: bytes | None) -> None:
    """Feed the body to `upload` as it arrives; refused (`35`) beyond `max_bytes`, announced or actual."""
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise InvalidParameter("fichier", f"more than {max_bytes} bytes")
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidParameter("fichier", "the upload was cut short")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise InvalidParameter("fichier", f"more than {max_bytes} bytes")
        if chunk:
            upload.feed(chunk)
        if not message.get("more_body", False):
            return
