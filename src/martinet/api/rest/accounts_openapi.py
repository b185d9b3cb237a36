"""The account endpoints in the OpenAPI document: their paths, written as data next to their models
(`martinet.api.rest.account_models`), merged into the door's document by `martinet.api.rest.openapi`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from martinet.api.rest import account_models as m
from martinet.api.rest.models import MessagePage

Ref = Callable[[type[Any]], dict[str, str]]
Errors = Callable[..., dict[str, Any]]


def account_paths(
    ref: Ref, json: Callable[[dict[str, Any], str], dict[str, Any]], errors: Errors, paging: list[Any]
) -> dict[str, Any]:
    def body(model: type[BaseModel]) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": ref(model)}}}

    account_id = {
        "name": "accountId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^(me|[0-9]{1,9})$"},
        "description": "an account id, or `me`",
    }
    date_query = [
        {"name": name, "in": "query", "required": True, "schema": {"type": "string", "format": "date"}}
        for name in ("from", "to")
    ]
    whole_day = "until this time (inclusive); a date without a time: to the end of that day"
    ledger_params = [
        *[{**p, "description": whole_day} if p["name"] == "endDate" else p for p in paging],
        {
            "name": "format",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["json", "csv"]},
            "description": "csv: the whole period as a CSV file",
        },
    ]
    csv = {"text/csv": {"schema": {"type": "string"}}}
    return {
        "/sms/v1/accounts/{accountId}": {
            "parameters": [account_id],
            "get": {
                "operationId": "getAccount",
                "summary": "The caller's account (`me`) or one it manages",
                "responses": {"200": json(ref(m.AccountOut), "the account"), **errors(404, 422)},
            },
            "patch": {
                "operationId": "setAccountLimits",
                "summary": "Cap a sub-account: rate, flows, destination countries, sender policy",
                "requestBody": body(m.LimitsIn),
                "responses": {"200": json(ref(m.AccountOut), "the account"), **errors(400, 404, 409, 413, 415, 422)},
            },
            "delete": {
                "operationId": "deleteAccount",
                "summary": "Delete a sub-account: no more sends or logins, its credits back to its parent",
                "responses": {"200": json(ref(m.AccountOut), "the deleted account"), **errors(404, 409, 422)},
            },
        },
        "/sms/v1/accounts/{accountId}/subaccounts": {
            "parameters": [account_id],
            "get": {
                "operationId": "listSubAccounts",
                "summary": "The account's direct sub-accounts",
                "responses": {"200": json(ref(m.AccountList), "the sub-accounts"), **errors(404, 422)},
            },
            "post": {
                "operationId": "createSubAccount",
                "summary": "Create a sub-account (and its first API key)",
                "requestBody": body(m.SubAccountIn),
                "responses": {
                    "201": json(ref(m.CreatedAccountOut), "the new sub-account"),
                    **errors(400, 404, 409, 413, 415, 422),
                },
            },
        },
        "/sms/v1/accounts/{accountId}/ledger": {
            "parameters": [account_id],
            "get": {
                "operationId": "getLedger",
                "summary": "Every credit movement, oldest first, with the balance after it",
                "parameters": ledger_params,
                "responses": {
                    "200": {
                        "description": "a page of the ledger, or the CSV export",
                        "content": {"application/json": {"schema": ref(m.LedgerPage)}, **csv},
                    },
                    **errors(404, 422),
                },
            },
        },
        "/sms/v1/accounts/{accountId}/messages": {
            "parameters": [account_id],
            "get": {
                "operationId": "listAccountMessages",
                "summary": "The messages of an account the caller manages (a deleted sub-account's too)",
                "parameters": paging,
                "responses": {"200": json(ref(MessagePage), "a page of messages"), **errors(404, 422)},
            },
        },
        "/sms/v1/accounts/{accountId}/usage": {
            "parameters": [account_id],
            "get": {
                "operationId": "getUsage",
                "summary": "Messages, parts and credits per day (the account's time zone), for invoicing",
                "parameters": date_query,
                "responses": {"200": json(ref(m.UsageOut), "one entry per day"), **errors(404, 422)},
            },
        },
        "/sms/v1/accounts/{accountId}/senders": {
            "parameters": [account_id],
            "get": {
                "operationId": "listSenders",
                "summary": "The sender IDs the account asked for and their status",
                "responses": {"200": json(ref(m.SenderList), "the sender IDs"), **errors(404, 422)},
            },
            "post": {
                "operationId": "requestSender",
                "summary": "Ask for an alphanumeric sender ID (approved by an account above, or an operator)",
                "requestBody": body(m.SenderIn),
                "responses": {"201": json(ref(m.SenderOut), "the request"), **errors(400, 404, 413, 415, 422)},
            },
        },
        "/sms/v1/accounts/{accountId}/senders/{sender}": {
            "parameters": [
                account_id,
                {"name": "sender", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 11}},
            ],
            "patch": {
                "operationId": "decideSender",
                "summary": "Approve or refuse a sub-account's sender ID",
                "requestBody": body(m.SenderDecisionIn),
                "responses": {"200": json(ref(m.SenderOut), "the decision"), **errors(400, 404, 413, 415, 422)},
            },
        },
        "/sms/v1/accounts/{accountId}/webhooks": {
            "parameters": [account_id],
            "get": {
                "operationId": "getWebhooks",
                "summary": "Where and when the account is called back when a send names no URL of its own",
                "responses": {"200": json(ref(m.WebhooksOut), "the settings"), **errors(404, 422)},
            },
            "patch": {
                "operationId": "setWebhooks",
                "summary": "Set the account's default callback and reply URLs, and which status changes call back",
                "requestBody": body(m.WebhooksIn),
                "responses": {"200": json(ref(m.WebhooksOut), "the settings"), **errors(400, 404, 409, 413, 415, 422)},
            },
        },
        "/sms/v1/transfers": {
            "post": {
                "operationId": "transferCredits",
                "summary": "Move credits down the tree, or back up to a parent",
                "requestBody": body(m.TransferIn),
                "responses": {
                    "201": json(ref(m.TransferOut), "done: both balances after it"),
                    **errors(400, 402, 404, 409, 413, 415, 422),
                },
            },
        },
        "/sms/v1/keys": {
            "get": {
                "operationId": "listKeys",
                "summary": "API keys of the caller's account or of one it manages (never the keys themselves)",
                "parameters": [{"name": "accountId", "in": "query", "required": False, "schema": {"type": "integer"}}],
                "responses": {"200": json(ref(m.KeyList), "the keys"), **errors(404, 422)},
            },
            "post": {
                "operationId": "createKey",
                "summary": "A new API key, shown once, no wider than the calling key",
                "requestBody": body(m.KeyIn),
                "responses": {"201": json(ref(m.CreatedKeyOut), "the key"), **errors(400, 404, 413, 415, 422)},
            },
        },
        "/sms/v1/keys/{keyId}": {
            "parameters": [{"name": "keyId", "in": "path", "required": True, "schema": {"type": "string"}}],
            "delete": {
                "operationId": "revokeKey",
                "summary": "Revoke a key",
                "responses": {"200": json(ref(m.KeyOut), "the revoked key"), **errors(404)},
            },
        },
    }
