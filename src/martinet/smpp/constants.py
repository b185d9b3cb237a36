"""Numeric constants of SMPP 3.4, as ``IntEnum``/``IntFlag`` classes.

Names follow the specification (section 5) so that a reader can check a value against the
spec tables without a translation step.  Everything here is an ``int`` subclass: decoded PDUs
carry plain ``int`` values (a peer may send reserved or vendor-specific codes that no enum
knows, and converting every field on the hot path would cost time), and these enums compare
equal to those ints.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "ESM_CLASS_FEATURE_MASK",
    "ESM_CLASS_MODE_MASK",
    "ESM_CLASS_TYPE_MASK",
    "GENERIC_NACK_ID",
    "REGISTERED_DELIVERY_RECEIPT_MASK",
    "RESPONSE_BIT",
    "SMPP_VERSION_34",
    "VENDOR_TAG_MAX",
    "VENDOR_TAG_MIN",
    "CommandId",
    "CommandStatus",
    "DataCoding",
    "DestFlag",
    "EsmClassFeature",
    "EsmClassMode",
    "EsmClassType",
    "MessageState",
    "MsAvailabilityStatus",
    "Npi",
    "PriorityFlag",
    "RegisteredDelivery",
    "ReplaceIfPresentFlag",
    "SubaddressType",
    "Tag",
    "Ton",
]

#: Bit set in the command_id of every response PDU (spec 5.1.2.1).
RESPONSE_BIT = 0x8000_0000

#: interface_version value for SMPP 3.4 (spec 5.2.4).
SMPP_VERSION_34 = 0x34

#: esm_class sub-field masks (spec 5.2.12): messaging mode, message type, GSM features.
ESM_CLASS_MODE_MASK = 0x03
ESM_CLASS_TYPE_MASK = 0x3C
ESM_CLASS_FEATURE_MASK = 0xC0

#: registered_delivery bits 1-0: the SMSC delivery receipt request (spec 5.2.17).
REGISTERED_DELIVERY_RECEIPT_MASK = 0x03

#: TLV tags reserved for SMSC vendor specific optional parameters (spec 5.3.2).
VENDOR_TAG_MIN = 0x1400
VENDOR_TAG_MAX = 0x3FFF


class CommandId(IntEnum):
    """command_id values (spec table 5-1)."""

    GENERIC_NACK = 0x8000_0000
    BIND_RECEIVER = 0x0000_0001
    BIND_RECEIVER_RESP = 0x8000_0001
    BIND_TRANSMITTER = 0x0000_0002
    BIND_TRANSMITTER_RESP = 0x8000_0002
    QUERY_SM = 0x0000_0003
    QUERY_SM_RESP = 0x8000_0003
    SUBMIT_SM = 0x0000_0004
    SUBMIT_SM_RESP = 0x8000_0004
    DELIVER_SM = 0x0000_0005
    DELIVER_SM_RESP = 0x8000_0005
    UNBIND = 0x0000_0006
    UNBIND_RESP = 0x8000_0006
    REPLACE_SM = 0x0000_0007
    REPLACE_SM_RESP = 0x8000_0007
    CANCEL_SM = 0x0000_0008
    CANCEL_SM_RESP = 0x8000_0008
    BIND_TRANSCEIVER = 0x0000_0009
    BIND_TRANSCEIVER_RESP = 0x8000_0009
    OUTBIND = 0x0000_000B
    ENQUIRE_LINK = 0x0000_0015
    ENQUIRE_LINK_RESP = 0x8000_0015
    SUBMIT_MULTI = 0x0000_0021
    SUBMIT_MULTI_RESP = 0x8000_0021
    ALERT_NOTIFICATION = 0x0000_0102
    DATA_SM = 0x0000_0103
    DATA_SM_RESP = 0x8000_0103


#: Shorthand used by sessions when answering an unparseable PDU.
GENERIC_NACK_ID = CommandId.GENERIC_NACK


class CommandStatus(IntEnum):
    """command_status / error codes (spec table 5-2).

    Values 0x400-0x4FF are reserved for SMSC vendors and are not listed; decoded PDUs keep
    whatever integer the peer sent.
    """

    ESME_ROK = 0x00000000  # No Error
    ESME_RINVMSGLEN = 0x00000001  # Message Length is invalid
    ESME_RINVCMDLEN = 0x00000002  # Command Length is invalid
    ESME_RINVCMDID = 0x00000003  # Invalid Command ID
    ESME_RINVBNDSTS = 0x00000004  # Incorrect BIND Status for given command
    ESME_RALYBND = 0x00000005  # ESME Already in Bound State
    ESME_RINVPRTFLG = 0x00000006  # Invalid Priority Flag
    ESME_RINVREGDLVFLG = 0x00000007  # Invalid Registered Delivery Flag
    ESME_RSYSERR = 0x00000008  # System Error
    ESME_RINVSRCADR = 0x0000000A  # Invalid Source Address
    ESME_RINVDSTADR = 0x0000000B  # Invalid Dest Addr
    ESME_RINVMSGID = 0x0000000C  # Message ID is invalid
    ESME_RBINDFAIL = 0x0000000D  # Bind Failed
    ESME_RINVPASWD = 0x0000000E  # Invalid Password
    ESME_RINVSYSID = 0x0000000F  # Invalid System ID
    ESME_RCANCELFAIL = 0x00000011  # Cancel SM Failed
    ESME_RREPLACEFAIL = 0x00000013  # Replace SM Failed
    ESME_RMSGQFUL = 0x00000014  # Message Queue Full
    ESME_RINVSERTYP = 0x00000015  # Invalid Service Type
    ESME_RINVNUMDESTS = 0x00000033  # Invalid number of destinations
    ESME_RINVDLNAME = 0x00000034  # Invalid Distribution List name
    ESME_RINVDESTFLAG = 0x00000040  # Destination flag is invalid (submit_multi)
    ESME_RINVSUBREP = 0x00000042  # Invalid 'submit with replace' request
    ESME_RINVESMCLASS = 0x00000043  # Invalid esm_class field data
    ESME_RCNTSUBDL = 0x00000044  # Cannot Submit to Distribution List
    ESME_RSUBMITFAIL = 0x00000045  # submit_sm or submit_multi failed
    ESME_RINVSRCTON = 0x00000048  # Invalid Source address TON
    ESME_RINVSRCNPI = 0x00000049  # Invalid Source address NPI
    ESME_RINVDSTTON = 0x00000050  # Invalid Destination address TON
    ESME_RINVDSTNPI = 0x00000051  # Invalid Destination address NPI
    ESME_RINVSYSTYP = 0x00000053  # Invalid system_type field
    ESME_RINVREPFLAG = 0x00000054  # Invalid replace_if_present flag
    ESME_RINVNUMMSGS = 0x00000055  # Invalid number of messages
    ESME_RTHROTTLED = 0x00000058  # Throttling error (ESME has exceeded allowed message limits)
    ESME_RINVSCHED = 0x00000061  # Invalid Scheduled Delivery Time
    ESME_RINVEXPIRY = 0x00000062  # Invalid message validity period (Expiry time)
    ESME_RINVDFTMSGID = 0x00000063  # Predefined Message Invalid or Not Found
    ESME_RX_T_APPN = 0x00000064  # ESME Receiver Temporary App Error Code
    ESME_RX_P_APPN = 0x00000065  # ESME Receiver Permanent App Error Code
    ESME_RX_R_APPN = 0x00000066  # ESME Receiver Reject Message Error Code
    ESME_RQUERYFAIL = 0x00000067  # query_sm request failed
    ESME_RINVOPTPARSTREAM = 0x000000C0  # Error in the optional part of the PDU Body
    ESME_ROPTPARNOTALLWD = 0x000000C1  # Optional Parameter not allowed
    ESME_RINVPARLEN = 0x000000C2  # Invalid Parameter Length
    ESME_RMISSINGOPTPARAM = 0x000000C3  # Expected Optional Parameter missing
    ESME_RINVOPTPARAMVAL = 0x000000C4  # Invalid Optional Parameter Value
    ESME_RDELIVERYFAILURE = 0x000000FE  # Delivery Failure (data_sm_resp)
    ESME_RUNKNOWNERR = 0x000000FF  # Unknown Error


class Ton(IntEnum):
    """Type of Number (spec 5.2.5)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(IntEnum):
    """Numbering Plan Indicator (spec 5.2.6)."""

    UNKNOWN = 0
    ISDN = 1  # E.163 / E.164
    DATA = 3  # X.121
    TELEX = 4  # F.69
    LAND_MOBILE = 6  # E.212
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14  # IP
    WAP_CLIENT_ID = 18


class EsmClassMode(IntEnum):
    """esm_class bits 1-0: messaging mode (spec 5.2.12)."""

    DEFAULT = 0x00  # SMSC default (usually store and forward)
    DATAGRAM = 0x01
    FORWARD = 0x02  # "transaction" mode
    STORE_AND_FORWARD = 0x03


class EsmClassType(IntEnum):
    """esm_class bits 5-2: message type (spec 5.2.12)."""

    DEFAULT = 0x00
    SMSC_DELIVERY_RECEIPT = 0x04
    SME_DELIVERY_ACK = 0x08
    SME_MANUAL_ACK = 0x10
    CONVERSATION_ABORT = 0x18
    INTERMEDIATE_DELIVERY_NOTIFICATION = 0x20


class EsmClassFeature(IntFlag):
    """esm_class bits 7-6: GSM network specific features (spec 5.2.12)."""

    NONE = 0x00
    UDHI = 0x40  # short_message starts with a User Data Header
    REPLY_PATH = 0x80


class RegisteredDelivery(IntFlag):
    """registered_delivery bits (spec 5.2.17).

    Bits 1-0 form a two-bit value (receipt on success-or-failure / on failure only), bits 3-2
    the SME acknowledgements and bit 4 the intermediate notification; IntFlag lets them be
    or-ed together.
    """

    NO_RECEIPT = 0x00
    RECEIPT_SUCCESS_OR_FAILURE = 0x01
    RECEIPT_FAILURE_ONLY = 0x02
    SME_DELIVERY_ACK = 0x04
    SME_MANUAL_ACK = 0x08
    INTERMEDIATE_NOTIFICATION = 0x10


class PriorityFlag(IntEnum):
    """priority_flag (spec 5.2.14); meaning of levels depends on the network."""

    LEVEL_0 = 0
    LEVEL_1 = 1
    LEVEL_2 = 2
    LEVEL_3 = 3


class ReplaceIfPresentFlag(IntEnum):
    """replace_if_present_flag (spec 5.2.18)."""

    DO_NOT_REPLACE = 0
    REPLACE = 1


class DataCoding(IntEnum):
    """data_coding values (spec 5.2.19); GSM 03.38 DCS values above 0xC0 are not listed."""

    SMSC_DEFAULT = 0x00
    IA5 = 0x01  # IA5 (CCITT T.50) / ASCII
    OCTET_UNSPECIFIED = 0x02  # 8-bit binary
    LATIN_1 = 0x03  # ISO-8859-1
    OCTET_UNSPECIFIED_2 = 0x04  # 8-bit binary
    JIS = 0x05  # X 0208-1990
    CYRILLIC = 0x06  # ISO-8859-5
    LATIN_HEBREW = 0x07  # ISO-8859-8
    UCS2 = 0x08  # ISO/IEC-10646
    PICTOGRAM = 0x09
    ISO_2022_JP = 0x0A  # music codes
    EXTENDED_KANJI = 0x0D  # JIS X 0212-1990
    KS_C_5601 = 0x0E


class MessageState(IntEnum):
    """message_state values (spec 5.2.28)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


class DestFlag(IntEnum):
    """dest_flag of a submit_multi dest_address entry (spec 5.2.25)."""

    SME_ADDRESS = 1
    DISTRIBUTION_LIST = 2


class MsAvailabilityStatus(IntEnum):
    """ms_availability_status TLV values (spec 5.3.2.30)."""

    AVAILABLE = 0
    DENIED = 1
    UNAVAILABLE = 2


class SubaddressType(IntEnum):
    """First octet of source_subaddress / dest_subaddress (spec 5.3.2.15)."""

    NSAP_EVEN = 0x80
    NSAP_ODD = 0x88
    USER_SPECIFIED = 0xA0


class Tag(IntEnum):
    """Optional parameter (TLV) tags of SMPP 3.4 (spec table 5-3).

    Tags VENDOR_TAG_MIN..VENDOR_TAG_MAX are reserved for SMSC vendors; they, and any tag not
    listed here, are kept as raw bytes by the codec.
    """

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383
