"""What a connector learned about its carrier's message IDs, and the receipts it keeps, are visible to operators:
`martinet status` (read from the store, as the command does) and `/metrics`."""

from __future__ import annotations

from prometheus_client import REGISTRY

from martinet.cli.status import gather, render
from martinet.clock import now_ms
from martinet.domain.receipts import Receipt
from martinet.domain.status import State
from martinet.smsc import Simulator
from martinet.store.receipts import ReceiptStore
from tests.engine.carriers import carrier_config, smpp_connector
from tests.gateway import Gateway, running_gateway, wait_for


async def test_the_learned_reading_and_kept_receipts_show_in_status_and_metrics(database_url: str) -> None:
    config = carrier_config(message_id_format="decimal", message_id_start=1, receipt_delay=0.01)
    async with Simulator(config) as smsc:
        connectors = [smpp_connector("counter", smsc.port)]
        async with running_gateway(database_url, credits=100, connectors=connectors, engine={"heartbeat": 0.2}) as gw:
            before = await _connector(gw)
            assert before["id_reading"] in ("learning", None)
            numbers = ",".join(f"336{n:08d}" for n in range(40_000_000, 40_000_040))
            async with gw.client() as http:
                reply = await http.post(
                    "/sendSMS.do", data={"accessToken": gw.token, "numero": numbers, "message": "x"}
                )
            assert reply.text.startswith("0 | ")

            async def learned() -> bool:
                return (await _connector(gw))["id_reading"] == "literal"

            await wait_for(learned, timeout=20)
            # A receipt for a part this gateway never recorded: kept, visible, never applied elsewhere.
            await ReceiptStore(gw.db, now_ms).apply(
                [Receipt("counter", "999999", State.DELIVERED, 11, now_ms(), "id:999999 stat:DELIVRD")]
            )
            report = await gather(gw.db, gw.settings)
    counter = report["connectors"]["counter"]
    assert counter["kept_receipts"] == 1 and counter["uncertain_receipts"] == 0
    line = next(line for line in render(report).splitlines() if line.strip().startswith("counter"))
    assert "literal" in line and line.rstrip().endswith("1")
    assert REGISTRY.get_sample_value("martinet_receipt_id_reading", {"connector": "counter", "reading": "literal"}) == 1


async def _connector(gw: Gateway) -> dict[str, object]:
    report = await gather(gw.db, gw.settings)
    return dict(report["connectors"]["counter"])
