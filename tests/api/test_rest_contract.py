"""Contract test of the REST door: schemathesis fuzzes every operation of `/sms/v1/openapi.json` on a real gateway.

For every operation, requests generated from the document (positive data, and negative data that breaks it) must
never get a 5xx, and every answer must have a documented status code, its documented content type and match its
schema. The gateway (uvicorn and the engine) runs in the test's event loop; schemathesis and hypothesis are
synchronous (requests), so they run in a worker thread (`asyncio.to_thread`) while the loop serves them.

SQLite only: the door's contract does not depend on the store (both stores answer through the same services and
resources, which the rest of the suite runs on both), and running every operation twice would double the slowest
test of the suite for no extra coverage of the door.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from martinet.api.rest.models import ProblemOut
from tests.gateway import running_gateway

#: Examples per operation and generation mode: (most operations, the account operations). The account operations
#: (sub-accounts, transfers, keys, ledger...) are plain JSON in and out, with few paths through their handlers.
#: `make test` runs the smaller budget; the long run (`pytest -m long`) fuzzes five times as much.
EXAMPLES = (20, 8)
LONG_EXAMPLES = (100, 40)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'martinet.db'}"


def _fuzz(base: str, token: str, budget: tuple[int, int]) -> list[str]:
    """Run every operation in both generation modes; return the failures (operation, mode, what failed)."""
    schema = schemathesis.openapi.from_url(f"{base}/sms/v1/openapi.json", timeout=10)
    session = requests.Session()
    headers = {"X-Api-Key": token}
    failures: list[str] = []
    sent: list[str] = []  # ids of the messages accepted so far, for the operations on one message
    statuses: Counter[tuple[str, int]] = Counter()
    # The address book's operations (/sms/v1/contacts, /sms/v1/groups) are stateful CRUD whose answers are checked
    # against the same output models in tests/api/test_rest_contacts.py; fuzzing them here would triple this test.
    operations = {
        result.ok().label: result.ok()
        for result in schema.get_all_operations()
        if not result.ok().path.startswith(("/sms/v1/contacts", "/sms/v1/groups"))
    }
    assert len(operations) == 25, list(operations)
    # Sends first (random numbers are mostly invalid: one run gets real ones), then the rest.
    for label in sorted(operations, key=lambda label: label != "POST /sms/v1/messages"):
        operation = operations[label]
        strategies = [
            (mode.value, operation.as_strategy(generation_mode=mode))
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
        if label.startswith("POST /sms/v1/messages"):  # the examples of the document (the others have none)
            strategies.append(("examples", st.one_of(operation.get_strategies_from_examples())))
            strategies.append(("positive, real recipients", strategies[0][1].map(_real_recipients)))
        if "{messageId}" in label and sent:
            message = st.sampled_from(sent).flatmap(partial(_with_message_id, operation))
            strategies.append(("existing message", message))
        for name, strategy in strategies:
            account = "/accounts/" in label or "transfers" in label or "keys" in label
            test = _operation_test(strategy, base, session, headers, sent, statuses, budget[1 if account else 0])
            try:
                test()
            except Exception as exc:  # one failing operation must not hide the others
                failures.append(f"{label} [{name}]: {exc}")
    # The fuzzing reached the interesting answers, not only refusals.
    assert statuses[("POST /sms/v1/messages", 201)] >= 10, statuses
    assert statuses[("GET /sms/v1/messages/{messageId}", 200)] >= 5, statuses
    assert statuses[("GET /sms/v1/accounts/{accountId}", 200)] >= 1, statuses
    return failures


def _with_message_id(operation: Any, message_id: str) -> Any:
    return operation.as_strategy(path_parameters={"messageId": message_id})


def _real_recipients(case: Any) -> Any:
    """Valid French mobiles in place of the generated recipients, the rest of the body left as generated.

    The document cannot say "exactly one of recipient and recipients" (both are optional), so generated bodies
    have none or both as often as one: keep the list when there is one, else one recipient."""
    if isinstance(case.body, dict):
        recipients = case.body.pop("recipients", None)
        if isinstance(recipients, list) and recipients:
            case.body.pop("recipient", None)
            case.body["recipients"] = [{"to": f"+336123456{i % 100:02d}"} for i in range(len(recipients))]
        else:
            case.body["recipient"] = {"to": "+33612345678"}
    return case


def _operation_test(
    strategy: Any,
    base: str,
    session: requests.Session,
    headers: dict[str, str],
    sent: list[str],
    statuses: Counter[tuple[str, int]],
    max_examples: int,
) -> Callable[[], None]:
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def test(case: Any) -> None:
        answer = case.call_and_validate(base_url=base, session=session, headers=headers, checks=CHECKS, timeout=10)
        statuses[(case.operation.label, answer.status_code)] += 1
        if answer.status_code == 201 and case.operation.label == "POST /sms/v1/messages":
            document = answer.json()
            sent.extend(message["messageId"] for message in document.get("messages", [document]))

    return test  # type: ignore[no-any-return]


async def test_every_operation_keeps_its_contract(sqlite_url: str) -> None:
    await _keeps_its_contract(sqlite_url, EXAMPLES)


@pytest.mark.long
async def test_every_operation_keeps_its_contract_under_long_fuzzing(sqlite_url: str) -> None:
    await _keeps_its_contract(sqlite_url, LONG_EXAMPLES)


async def _keeps_its_contract(sqlite_url: str, budget: tuple[int, int]) -> None:
    # Negative cases send broken keys: without limits on refused keys, so that the other cases reach the handlers.
    limits = {"auth_failures_per_minute": 0, "login_failures_per_minute": 0}
    async with running_gateway(sqlite_url, credits=10**6, accounts={"rate_limit": 0}, security=limits) as gw:
        failures = await asyncio.to_thread(_fuzz, gw.base, gw.token, budget)
    assert not failures, "\n\n".join(failures)


async def test_wrong_key_is_a_401_problem(sqlite_url: str) -> None:
    async with running_gateway(sqlite_url, with_engine=False) as gw:

        def calls() -> list[requests.Response]:
            wrong = {"X-Api-Key": "not-" + gw.token}
            return [
                requests.post(
                    f"{gw.base}/sms/v1/messages",
                    json={"recipient": {"to": "+33612345678"}, "body": {"text": "hi"}},
                    headers=wrong,
                    timeout=10,
                ),
                requests.get(f"{gw.base}/sms/v1/messages", headers=wrong, timeout=10),
                requests.get(f"{gw.base}/commons/v1/balance", timeout=10),  # no key at all
            ]

        answers = await asyncio.to_thread(calls)
    for answer in answers:
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        problem = ProblemOut.model_validate(answer.json())
        assert (problem.status, problem.errorCode) == (401, "UNAUTHORIZED")
