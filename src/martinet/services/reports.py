"""Reading back sends: per-recipient reports, overall status, history, balance, cancellation.

`lanes` is what the caller's API key is limited to (None: every lane): a key limited to lanes reads and cancels
the sends of those lanes only, as it sends on those lanes only.
"""

from __future__ import annotations

from collections.abc import Collection

from martinet.domain.status import send_status
from martinet.store.accounts import AccountStore
from martinet.store.reports import Cancelled, ReportStore, SendSummary

Lanes = Collection[str] | None


class ReportService:
    def __init__(self, reports: ReportStore, accounts: AccountStore) -> None:
        self._reports = reports
        self._accounts = accounts

    async def recipients(self, account_id: int, send_id: str, lanes: Lanes = None) -> list[tuple[str, int]] | None:
        return await self._reports.recipient_codes(account_id, send_id, lanes)

    async def status(self, account_id: int, send_id: str, lanes: Lanes = None) -> int | None:
        codes = await self._reports.recipient_codes(account_id, send_id, lanes)
        if codes is None:
            return None
        return send_status([code for _, code in codes])

    async def history(self, account_id: int, start: int, count: int, lanes: Lanes = None) -> list[SendSummary]:
        return await self._reports.list_sends(account_id, start, count, lanes)

    async def balance(self, account_id: int) -> int:
        return await self._accounts.balance(account_id)

    async def cancel(
        self, account_id: int, send_id: str | None, msisdn: str | None, lanes: Lanes = None
    ) -> Cancelled | None:
        """Cancel a scheduled send, named by its ID or as the latest scheduled send to a number."""
        if not send_id and msisdn:
            send_id = await self._reports.latest_scheduled_send_to(account_id, msisdn, lanes)
        if not send_id:
            return None
        return await self._reports.cancel_scheduled(account_id, send_id, lanes=lanes)

    async def cancel_message(self, account_id: int, send_id: str, seq: int, lanes: Lanes = None) -> Cancelled | None:
        """Cancel one scheduled recipient of a send (the REST door cancels messages, not sends)."""
        return await self._reports.cancel_scheduled(account_id, send_id, seq, lanes)
