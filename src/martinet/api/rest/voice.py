"""What the REST door adds for voice messages: `channel` VOICE on `POST /sms/v1/messages` (docs/voice.md)."""

from __future__ import annotations

from martinet.api.rest.models import SendIn
from martinet.services.accept import InvalidParameter
from martinet.services.voice_sends import VoiceRequest


def voice_request(body: SendIn) -> VoiceRequest | None:
    """The voice part of a send, or None for an SMS.

    A `voice` object on an SMS is refused rather than ignored: the client meant a call, and an SMS to a landline
    it asked to be called would be charged and lost."""
    if body.channel != "VOICE":
        if body.voice is not None:
            raise InvalidParameter("channel", "must be VOICE when voice is given")
        return None
    if body.voice is None:
        return VoiceRequest()
    return VoiceRequest(title=body.voice.title, language=body.voice.language)
