"""The SIP voice connector: calls the recipient through a SIP trunk and reads the message (docs/voice.md).

May import `connectors.base`, `sip`, `voice`, `domain` and `config`.
"""
