"""`sendVoiceMessage.do`: the smsmode door to voice messages (a text read aloud in a phone call).

The same acceptance as `sendSMS.do` (one service, one transaction, the same answers and codes); only the
parameters differ: `message` (at most 160 characters), `numero`, `title`, `date_envoi`, `language`.
"""

from __future__ import annotations

from martinet.api.legacy import counting, params
from martinet.api.legacy.endpoints import GET_MAX_RECIPIENTS, Call, Endpoint, LegacyServices
from martinet.services.accept import SendRequest
from martinet.services.voice_sends import VoiceRequest


@counting.send_endpoint
async def send_voice_message(services: LegacyServices, call: Call) -> str:
    p = call.params
    request = SendRequest(
        account=call.account,
        text=p.get("message"),
        recipients=p.get("numero"),
        scheduled_at=params.schedule(p, call.account.timezone),
        ref_client=p.get("refclient"),
        notification_url=p.get("notification_url"),
        validity=params.optional_integer(p, "validity"),
        max_recipients=GET_MAX_RECIPIENTS if call.method in ("GET", "HEAD") else None,
        voice=VoiceRequest(title=p.get("title"), language=p.get("language") or None),
    )
    return await counting.accept(services.sends, request, call.language)


VOICE_ENDPOINTS: dict[str, Endpoint] = {"sendVoiceMessage": send_voice_message}
