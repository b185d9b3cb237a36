"""What the REST door adds for voice messages: `channel` VOICE on `POST /sms/v1/messages` (docs/voice.md)."""

from __future__ import annotations

from martinet.api.rest.models import SendIn
from martinet.services.voice_sends import VoiceRequest


def voice_request(body: SendIn) -> VoiceRequest | None:
    """The voice part of a send, or None for an SMS."""
    if body.channel != "VOICE":
        return None
    if body.voice is None:
        return VoiceRequest()
    return VoiceRequest(title=body.voice.title, language=body.voice.language)
