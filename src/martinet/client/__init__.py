"""Martinet's Python SDK: the REST API v1, the smsmode HTTP API 1.6 and callback verification (docs/sdk.md).

```python
from martinet.client import Client

with Client("https://sms.example.com", "API_KEY") as client:
    message = client.send("+33612345678", "Your code is 123456", flow="OTP")
```

May import `domain` (webhook signatures) and the package version only: it is a client, not a part of the gateway.
"""

from __future__ import annotations

from martinet.client.contacts import AsyncContactsClient, Contact, ContactsClient, Group, ImportReport
from martinet.client.errors import (
    AuthenticationError,
    ConflictError,
    InsufficientCreditError,
    InvalidRequestError,
    MartinetError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from martinet.client.legacy import AsyncLegacyClient, DeliveryReport, LegacyClient
from martinet.client.models import Balance, Message, Page, Preview, PreviewRecipient, Price, Reply, Status
from martinet.client.rest import AsyncClient, Client, SendOptions
from martinet.client.webhooks import EVENT_HEADER, SIGNATURE_HEADER, parse_callback, verify_signature

__all__ = [
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "AsyncClient",
    "AsyncContactsClient",
    "AsyncLegacyClient",
    "AuthenticationError",
    "Balance",
    "Client",
    "ConflictError",
    "Contact",
    "ContactsClient",
    "DeliveryReport",
    "Group",
    "ImportReport",
    "InsufficientCreditError",
    "InvalidRequestError",
    "LegacyClient",
    "MartinetError",
    "Message",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "Preview",
    "PreviewRecipient",
    "Price",
    "RateLimitedError",
    "Reply",
    "SendOptions",
    "ServerError",
    "Status",
    "TransportError",
    "parse_callback",
    "verify_signature",
]
