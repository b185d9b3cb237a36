"""The connector interface.

The engine hands a connector whole messages (all parts of one recipient, already segmented) and gets back, per
message, either the carrier's ID of every part or an error classified temporary or permanent. Delivery receipts
and inbound messages flow the other way through sinks that the engine gives the connector at start; a sink
returns only once what it was given is durable, so a connector acknowledges its carrier after `await sink(...)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from martinet.domain.inbound import InboundMessage
from martinet.domain.receipts import Receipt
from martinet.domain.text import Encoding
from martinet.domain.valueclass import valueclass
from martinet.domain.voice import Spoken


@valueclass
class OutboundMessage:
    message_id: int
    msisdn: str
    sender: str | None
    parts: tuple[str, ...]
    encoding: Encoding
    lane: str
    expires_at: int | None = None  # Unix ms after which the carrier should stop trying (SMPP validity_period)
    voice: Spoken | None = None  # a voice message: `parts` is its one text, read aloud in a call (connectors/sip)


@valueclass
class Accepted:
    message_id: int
    carrier_ids: tuple[str, ...]


@valueclass
class Refused:
    """The carrier (or the connector itself) did not take the message.

    `temporary` errors are retried later (and, once routing exists, elsewhere); permanent ones are final and
    carry the smsmode status code the recipient's report will show.
    """

    message_id: int
    temporary: bool
    code: int
    detail: str


SubmitResult = Accepted | Refused

#: Told each message's result the moment it is known, before `submit` returns (see `Connector.submit`); may
#: return an awaitable that completes once the result is durable.
ResultListener = Callable[[SubmitResult], Awaitable[None] | None]


@valueclass
class InFlight:
    """A part the carrier took and has not reported final yet (given back to a connector after a restart)."""

    carrier_id: str
    msisdn: str
    code: int


ReceiptSink = Callable[[Sequence[Receipt]], Awaitable[None]]
InboundSink = Callable[[Sequence[InboundMessage]], Awaitable[None]]


class Connector(Protocol):
    @property
    def name(self) -> str: ...

    async def start(self, receipts: ReceiptSink, inbound: InboundSink) -> None:
        """Begin work; the sinks return only once what they were given is durable."""
        ...

    async def stop(self) -> None: ...

    @property
    def ready(self) -> bool:
        """Whether a submission now has a chance: bound (SMPP), started (sandbox). The router skips one that
        is not ready rather than waiting for its refusal."""
        ...

    def capacity(self, lane: str) -> int:
        """How many more parts of `lane` the connector can take now without building a queue of its own.

        The dispatcher claims no more than this for the lanes below OTP, so that what waits in memory stays
        small and a new one-time password is never queued behind parts already pulled for a campaign. OTP is
        claimed regardless and goes to the head of the connector's queue.
        """
        ...

    def set_share(self, fraction: float) -> None:
        """Use `fraction` of the configured throughput: engines sharing a database split each carrier's
        throughput among the live ones."""
        ...

    async def submit(
        self, batch: Sequence[OutboundMessage], on_result: ResultListener | None = None
    ) -> list[SubmitResult]:
        """Hand over `batch`; one result per message, in the same order.

        `on_result`, when given, is called with each message's result as soon as the carrier has answered it,
        while the rest of the batch is still on its way: the engine records an accepted message at once, so that
        a crash re-sends no more than what was on the wire (docs/engine.md, "After a crash"). When it returns an
        awaitable (the recording), a connector with a window counts the message's parts against the window until
        it completes: parts answered but not yet durable are as much at risk as parts on the wire.
        """
        ...

    async def resume(self, in_flight: Sequence[InFlight]) -> None:
        """Called once after start with the parts still awaiting receipts from an earlier run."""
        ...


@runtime_checkable
class ReadsCarrierIds(Protocol):
    """A connector whose carrier's receipts name parts by an ID that may be written in several ways (SMPP)."""

    @property
    def id_reading(self) -> str | None:
        """How the carrier writes message IDs in receipts ("literal", "decimal", "hex"), configured or learned
        from traffic; None while it is still being learned. Kept receipts of the connector are resolved with it."""
        ...


@runtime_checkable
class ReportsWindow(Protocol):
    """A connector with a window of unacknowledged requests and the carrier's refusals by command_status (SMPP),
    which the engine reports at its heartbeat for the operator's pages."""

    @property
    def window_in_use(self) -> int:
        """Requests sent and not yet answered (or answered and not yet recorded), over every bind."""
        ...

    @property
    def refusals(self) -> Mapping[int, int]:
        """Submissions the carrier refused since the connector started, by command_status."""
        ...


@runtime_checkable
class QueriesCarrier(Protocol):
    """A connector that can ask its carrier where a part stands (SMPP query_sm), for parts whose final receipt is
    overdue."""

    async def query(self, carrier_ids: Sequence[str]) -> dict[str, Receipt]:
        """The final status the carrier gives for each of `carrier_ids` it knows a final status of (a receipt
        for it); parts it does not know, or still holds, are left out. Empty when querying is not enabled."""
        ...
