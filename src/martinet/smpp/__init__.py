"""SMPP 3.4 for Martinet, sans-I/O.

Like ``h11`` and ``h2``, this package never touches a socket, a clock or an event loop: it
turns bytes into typed PDUs (:func:`decode`, :class:`PDUReader`) and PDUs into bytes
(:func:`encode`).  Keeping the protocol apart from I/O means

* the codec is tested exhaustively with plain bytes (conformance vectors, property tests)
  without servers, mocks or timing flakiness;
* the same code serves the asyncio gateway, a synchronous test client and offline tools
  (pcap inspection, replay);
* the session state machine built on top stays a pure function of "bytes in / PDUs out",
  with the socket handling confined to a thin adapter.

Public API::

    from martinet.smpp import decode, encode, PDUReader, SubmitSm, CommandStatus

    data = encode(SubmitSm(sequence_number=1, source_addr="Martinet",
                           destination_addr="33612345678", short_message=b"hi"))
    pdu = decode(data)                      # -> SubmitSm(...)
    reader = PDUReader()
    for item in reader.feed(chunk):         # PDUs, or PDUError for malformed frames
        ...

Imports nothing of the project (it is a library of its own inside the package).
"""

from __future__ import annotations

from .constants import (
    ESM_CLASS_FEATURE_MASK,
    ESM_CLASS_MODE_MASK,
    ESM_CLASS_TYPE_MASK,
    REGISTERED_DELIVERY_RECEIPT_MASK,
    RESPONSE_BIT,
    SMPP_VERSION_34,
    VENDOR_TAG_MAX,
    VENDOR_TAG_MIN,
    CommandId,
    CommandStatus,
    DataCoding,
    DestFlag,
    EsmClassFeature,
    EsmClassMode,
    EsmClassType,
    MessageState,
    MsAvailabilityStatus,
    Npi,
    PriorityFlag,
    RegisteredDelivery,
    ReplaceIfPresentFlag,
    SubaddressType,
    Tag,
    Ton,
)
from .errors import (
    FieldTooLong,
    IncompletePDU,
    InvalidCommandLength,
    InvalidField,
    InvalidMessageLength,
    MissingNulTerminator,
    PDUError,
    SMPPError,
    TLVError,
    UnknownCommandId,
)
from .pdu import (
    PDU,
    PDU_CLASSES,
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnsuccessSme,
    decode,
    encode,
    error_response,
)
from .reader import PDUReader
from .tlv import TLV, TLV_SPECS, TLV_SPECS_BY_NAME, TLVKind, TLVSpec, TLVValue
from .wire import DEFAULT_MAX_COMMAND_LENGTH, HEADER_SIZE, MAX_SHORT_MESSAGE

__all__ = [
    "DEFAULT_MAX_COMMAND_LENGTH",
    "ESM_CLASS_FEATURE_MASK",
    "ESM_CLASS_MODE_MASK",
    "ESM_CLASS_TYPE_MASK",
    "HEADER_SIZE",
    "MAX_SHORT_MESSAGE",
    "PDU",
    "PDU_CLASSES",
    "REGISTERED_DELIVERY_RECEIPT_MASK",
    "RESPONSE_BIT",
    "SMPP_VERSION_34",
    "TLV",
    "TLV_SPECS",
    "TLV_SPECS_BY_NAME",
    "VENDOR_TAG_MAX",
    "VENDOR_TAG_MIN",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSm",
    "CancelSmResp",
    "CommandId",
    "CommandStatus",
    "DataCoding",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DestFlag",
    "DistributionList",
    "EnquireLink",
    "EnquireLinkResp",
    "EsmClassFeature",
    "EsmClassMode",
    "EsmClassType",
    "FieldTooLong",
    "GenericNack",
    "IncompletePDU",
    "InvalidCommandLength",
    "InvalidField",
    "InvalidMessageLength",
    "MessageState",
    "MissingNulTerminator",
    "MsAvailabilityStatus",
    "Npi",
    "Outbind",
    "PDUError",
    "PDUReader",
    "PriorityFlag",
    "QuerySm",
    "QuerySmResp",
    "RegisteredDelivery",
    "ReplaceIfPresentFlag",
    "ReplaceSm",
    "ReplaceSmResp",
    "SMPPError",
    "SmeAddress",
    "SubaddressType",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "TLVError",
    "TLVKind",
    "TLVSpec",
    "TLVValue",
    "Tag",
    "Ton",
    "Unbind",
    "UnbindResp",
    "UnknownCommandId",
    "UnsuccessSme",
    "decode",
    "encode",
    "error_response",
]
