"""A SIP trunk simulator: the pretend telephone network of the demo and the tests (docs/voice.md).

May import `sip`, `voice` and `logs`; the gateway reaches it only as a peer over the network.
"""
