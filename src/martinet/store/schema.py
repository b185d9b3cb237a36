"""The tables, in SQLAlchemy Core, shared by SQLite and PostgreSQL.

Times are integer milliseconds since the epoch (UTC): they compare and index the same way on both databases,
cost eight bytes, and need no time-zone handling in SQL. Credits are integer millicredits (see
`martinet.domain.credits`). Primary keys of high-volume tables are BIGINT on PostgreSQL and INTEGER on SQLite,
where only `INTEGER PRIMARY KEY` is the fast rowid alias.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    literal_column,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

BigId = BigInteger().with_variant(Integer(), "sqlite")

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("login", String(50), nullable=False, unique=True),
    Column("password_hash", String(200)),
    Column("parent_id", Integer, ForeignKey("accounts.id"), index=True),
    Column("language", String(2), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("lane", String(16), nullable=False),
    Column("non_gsm", String(16), nullable=False),
    # Test mode: the account's messages go to the sandbox connector, never to a carrier.
    Column("sandbox", Boolean, nullable=False, server_default=false()),
    # Share of its lane's capacity against other accounts (fair queuing), and sends/s accepted (None: default).
    Column("weight", SmallInteger, nullable=False, server_default="1"),
    Column("rate_limit", Float),
    # Callbacks: where status reports and replies go when a send names no URL, and the key that signs them
    # (kept usable, not hashed: the gateway must compute signatures with it; see docs/webhooks.md).
    Column("callback_url", Text),
    Column("reply_url", Text),
    Column("webhook_secret", String(64)),
    # "all": a callback for every reportable status change (smsmode's way); "final": only for final statuses.
    Column("callback_statuses", String(8), nullable=False, server_default="all"),
    # Cache of SUM(ledger.amount) for this account, updated in the same transaction as every ledger row.
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    # The account tree (docs/resellers.md): an operator account manages every account; a closed (deleted)
    # sub-account can neither send nor authenticate, its history stays readable by its ancestors.
    Column("operator", Boolean, nullable=False, server_default=false()),
    Column("closed_at", BigInteger),
    # Limits a parent sets on a child, inherited down its subtree (NULL: no limit of its own): lanes and
    # destination countries, comma-separated ("otp,notification", "FR,BE").
    Column("allowed_lanes", Text),
    Column("allowed_countries", Text),
    # "any": any valid sender ID; "approved": alphanumeric senders must be approved (table sender_ids).
    Column("sender_policy", String(8), nullable=False, server_default="any"),
    Column("profile", Text),  # JSON: what createSubAccount.do was given (name, company, address...)
    # Console sessions: a session cookie holds the generation it was signed at, and is void once signing out
    # has bumped it (cookies are stateless; this is what lets sign-out end them on the server).
    Column("console_generation", Integer, nullable=False, server_default="0"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    # SHA-256 of the token: tokens are 190-bit random strings, so a fast hash is enough and lets the lookup be
    # an index probe; the plain token is shown once and never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(100), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
    # Limits of the key (NULL: none): lanes it may send on, comma-separated ("otp,notification"), and the
    # networks requests must come from, comma-separated CIDR ranges ("10.0.0.0/8,2001:db8::/32").
    Column("lanes", Text),
    Column("networks", Text),
    Column("expires_at", BigInteger),  # after it the key authenticates nothing (NULL: never)
)

sends = Table(
    "sends",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("scheduled_at", BigInteger),
    Column("text", Text, nullable=False),
    Column("encoding", String(8), nullable=False),
    Column("segments", SmallInteger, nullable=False),
    Column("classe", SmallInteger, nullable=False),
    Column("sender", String(16)),
    Column("ref_client", String(40)),
    Column("notification_url", Text),
    Column("notification_url_reponse", Text),
    Column("lane", String(16), nullable=False),
    Column("recipient_count", Integer, nullable=False),
    Column("cost", BigInteger, nullable=False),
    Column("cancelled_at", BigInteger),
    Column("validity", Integer),  # seconds, when the send asked for its own
    # How its callbacks are sent: "smsmode" (GET with the smsmode parameters) or "json" (POST of the REST
    # resource), after the door the send came through.
    Column("callback_format", String(8), nullable=False, server_default="smsmode"),
    # "sms", or "voice" for a text read aloud in a phone call (domain/voice.py): its title and language.
    Column("channel", String(8), nullable=False, server_default="sms"),
    Column("voice_title", Text),
    Column("voice_language", String(8)),
    Index("ix_sends_account_created", "account_id", "created_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("send_id", String(16), ForeignKey("sends.id"), nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("msisdn", String(20), nullable=False),
    Column("country", String(2)),
    Column("state", String(16), nullable=False),
    Column("code", Integer, nullable=False),
    Column("cost", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # Queue columns: when the message may next be dispatched, and who holds it until when.
    Column("due_at", BigInteger),
    Column("lease_owner", String(64)),
    Column("lease_until", BigInteger),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("connector", String(32)),
    Column("error", Text),
    # Copied from the send so that the queue is claimed lane by lane and account by account from one index.
    Column("lane", String(16), nullable=False, server_default="marketing"),
    Column("expires_at", BigInteger),  # end of validity: not submitted after it (status 37, refunded)
    Column("reply_from", String(20)),  # the reply-capable number a classe_msg=4 message was sent from
    Column("seq", Integer, nullable=False, server_default="0"),  # position among its send's recipients
    # Personalised sends (group templates, CSV campaigns): this message's own text, sender, reference and parts;
    # NULL: the send's.
    Column("text", Text),
    Column("sender", String(16)),
    Column("ref_client", String(40)),
    Column("segments", SmallInteger),
    Index("ix_messages_send", "send_id"),
    # Partial indexes, one per queue state that is searched by time: small, and never a tempting (and slow)
    # plan for the queries of another state. Queries name the state as a literal so both databases use them.
    Index(
        "ix_messages_scheduled",
        "due_at",
        "id",
        sqlite_where=text("state = 'scheduled'"),
        postgresql_where=text("state = 'scheduled'"),
    ),
    Index("ix_messages_lane", "lane", "state", "account_id", "due_at", "id"),
    # Only queued messages, so the expiry sweep finds the overdue ones without reading the backlog.
    Index(
        "ix_messages_expiry",
        "expires_at",
        sqlite_where=text("state = 'queued'"),
        postgresql_where=text("state = 'queued'"),
    ),
    Index(
        "ix_messages_leased",
        "lease_until",
        sqlite_where=text("state = 'submitting'"),
        postgresql_where=text("state = 'submitting'"),
    ),
    Index("ix_messages_msisdn", "msisdn"),
)

parts = Table(
    "parts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", BigInteger, ForeignKey("messages.id"), nullable=False),
    Column("seq", SmallInteger, nullable=False),
    Column("connector", String(32), nullable=False),
    Column("carrier_id", String(80), nullable=False),
    Column("state", String(16), nullable=False),
    Column("code", Integer, nullable=False),
    Column("submitted_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # When the part should have had its final receipt (the connector's receipt deadline, within the message's
    # validity); past it the engine asks the carrier or concludes "unknown" (store/receipts.py, docs/engine.md).
    Column("receipt_due", BigInteger),
    UniqueConstraint("message_id", "seq"),
    Index("ix_parts_carrier", "connector", "carrier_id"),
    Index(
        "ix_parts_receipt_due",
        "receipt_due",
        sqlite_where=text("state = 'sent'"),
        postgresql_where=text("state = 'sent'"),
    ),
)

status_history = Table(
    "status_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", BigInteger, ForeignKey("messages.id"), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("code", Integer, nullable=False),
    Column("part_seq", SmallInteger),
    Column("detail", Text),
    Index("ix_status_history_message", "message_id", "id"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("send_id", String(16)),
    Column("note", Text),
    # Transfers: the client's reference and the account on the other side of the movement.
    Column("reference", String(64)),
    Column("counterparty_id", Integer),
    Index("ix_ledger_account", "account_id", "id"),
)

sender_ids = Table(
    "sender_ids",
    metadata,
    # Alphanumeric sender IDs (`emetteur`) an account asked for, and what its parent or the operator decided.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("sender", String(11), nullable=False),
    Column("status", String(10), nullable=False),  # requested, approved, refused
    Column("requested_at", BigInteger, nullable=False),
    Column("decided_at", BigInteger),
    Column("decided_by", Integer),  # the account that approved or refused it
    UniqueConstraint("account_id", "sender"),
)

unmatched_receipts = Table(
    "unmatched_receipts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("connector", String(32), nullable=False),
    Column("carrier_id", String(80), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("code", Integer, nullable=False),
    Column("detail", Text),
    Column("handset", String(32)),  # the phone the receipt names (its source address), when given
    # NULL: `carrier_id` is the part's ID for sure. Otherwise the receipt is uncertain (domain/receipts.py): one
    # row per reading of its ID ("literal", "decimal", "hex"), the rows of one receipt sharing `receipt_key`.
    Column("reading", String(8)),
    Column("receipt_key", BigInteger),
    Index("ix_unmatched_receipts_carrier", "connector", "carrier_id"),
    Index("ix_unmatched_receipts_received", "received_at"),  # forgetting the oldest (receipts.unmatched_ttl)
)

inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("connector", String(32), nullable=False),
    Column("source", String(32), nullable=False),
    Column("destination", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("parts", SmallInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    # Which account and send the reply belongs to, once matched (replies and opt-out build on this).
    Column("account_id", Integer, ForeignKey("accounts.id")),
    Column("send_id", String(16)),
    Index("ix_inbound_messages_received", "received_at"),
    Index("ix_inbound_messages_account", "account_id", "received_at"),
    Index("ix_inbound_messages_source", "source"),
)


engine_nodes = Table(
    "engine_nodes",
    metadata,
    # One row per running engine process (`node:pid`); the live ones share each connector's throughput.
    Column("owner", String(64), primary_key=True),
    Column("node", String(64), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("heartbeat_at", BigInteger, nullable=False),
    # JSON written at every heartbeat: each connector's name, whether it is ready (bound), its parts/s since the
    # previous heartbeat. Read by /readyz and `martinet status`, which cannot ask the engine process itself.
    Column("status", Text),
)

store_probes = Table(
    "store_probes",
    metadata,
    # One row per process that checks readiness (`node:pid`), rewritten by each check: the write that proves a
    # send could be committed (docs/operations.md). Rows of processes silent for a day are removed.
    Column("owner", String(64), primary_key=True),
    Column("written_at", BigInteger, nullable=False),
)


opt_outs = Table(
    "opt_outs",
    metadata,
    # Numbers that asked an account to stop: its later sends in blocked lanes (marketing) are not sent to them.
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("msisdn", String(20), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),  # "reply" (a STOP answer) or "manual"
)

reply_conversations = Table(
    "reply_conversations",
    metadata,
    # Which account a reply number talks to a phone for (docs/compatibility.md, Replies): taken when a message
    # expecting replies leaves from `number` to `msisdn`, held while `last_at` is within the conversation time.
    # Both are digits only, as `messages.msisdn`.
    Column("msisdn", String(20), primary_key=True),
    Column("number", String(20), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("last_at", BigInteger, nullable=False),
)

callbacks = Table(
    "callbacks",
    metadata,
    # The outbox of HTTP callbacks, written in the transaction of the status change it reports (one row per
    # history row that has somewhere to go), delivered by the engine's notifier, in id order per `order_key`.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # "status" (delivery report) or "reply"
    Column("history_id", BigInteger, unique=True),  # the status change reported (kind "status")
    Column("inbound_id", BigInteger, unique=True),  # the reply posted (kind "reply")
    Column("order_key", String(40), nullable=False),  # callbacks of one key are delivered one after the other
    Column("url", Text, nullable=False),
    Column("state", String(12), nullable=False),  # pending, delivered, failed
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("next_at", BigInteger, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", BigInteger),
    Column("delivered_at", BigInteger),
    Column("last_status", Integer),
    Column("last_error", Text),
    Index("ix_callbacks_order", "order_key", "id"),
    Index(
        "ix_callbacks_due",
        "next_at",
        sqlite_where=text("state = 'pending'"),
        postgresql_where=text("state = 'pending'"),
    ),
    # Dead letters, for `martinet callbacks list --failed` (a full index on state would tempt the planner away
    # from ix_callbacks_order in the claim's "no older pending callback of the same key" test).
    Index(
        "ix_callbacks_failed",
        "id",
        sqlite_where=text("state = 'failed'"),
        postgresql_where=text("state = 'failed'"),
    ),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # The first answer to a request that carried an `Idempotency-Key`, written in the transaction of the send
    # it accepted, so a retry gets the same answer and never a second send (kept 24 hours).
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # SHA-256 of the request (method, path, JSON body)
    Column("status", SmallInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_idempotency_keys_created", "created_at"),
)

contact_groups = Table(
    "contact_groups",
    metadata,
    # An account's named lists of contacts (smsmode's `groupe`): the name is unique within the account.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("account_id", "name"),
)

contacts = Table(
    "contacts",
    metadata,
    # The address book: one row per account and mobile (digits, international, as `messages.msisdn`), so a
    # number added twice is merged, never doubled. `fields` holds the free fields as a JSON object.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("msisdn", String(20), nullable=False),
    Column("country", String(2)),
    Column("last_name", String(100), nullable=False, server_default=""),
    Column("first_name", String(100), nullable=False, server_default=""),
    Column("company", String(100), nullable=False, server_default=""),
    Column("birth_date", String(10)),  # ISO yyyy-mm-dd
    Column("other", Text, nullable=False, server_default=""),
    Column("fields", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("account_id", "msisdn"),
    Index("ix_contacts_account_name", "account_id", "last_name", "id"),
)

contact_group_members = Table(
    "contact_group_members",
    metadata,
    Column("group_id", Integer, ForeignKey("contact_groups.id"), primary_key=True),
    Column("contact_id", BigInteger, ForeignKey("contacts.id"), primary_key=True),
    Index("ix_contact_group_members_contact", "contact_id"),
)


def in_state(state: str) -> ColumnElement[bool]:
    """`messages.state = '<state>'` with the state written as a constant, not a parameter: the partial indexes
    above are used only when the query names their state as a constant (SQLite always, PostgreSQL with the
    generic plans of prepared statements)."""
    if not state.isalpha():
        raise ValueError(f"not a state: {state!r}")
    return messages.c.state == literal_column(f"'{state}'")
