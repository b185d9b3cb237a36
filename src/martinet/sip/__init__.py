"""SIP and RTP, as much as a voice-message caller and its trunk simulator need (docs/voice.md).

Messages are parsed by `aiosipua` (and digest answers computed by it); what is here is what that library does
not do the way a caller placing many short calls needs: the INVITE client transaction (retransmissions, ACK of
every final answer, CANCEL on ringing timeout), one transport shared by many calls, RTP paced at 20 ms.

May import `voice` (G.711) only.
"""
