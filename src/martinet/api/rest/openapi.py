"""The OpenAPI 3.1 document of the REST door, generated from its pydantic models (the page showing it:
`martinet.api.rest.docs`).

The paths and their answers are written here as data next to the models' JSON Schemas, so the document cannot
drift from the validation the door really does; the contract test (schemathesis) checks the answers against it.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from martinet.api.rest import account_models, contacts, models
from martinet.api.rest.accounts_openapi import account_paths
from martinet.api.rest.contact_openapi import contact_paths
from martinet.api.rest.handlers import MAX_IDEMPOTENCY_KEY, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from martinet.api.rest.problems import STATUS_OF_CODE, TITLES
from martinet.domain.resources import STATUS_VALUES

OPENAPI_PATH = "/sms/v1/openapi.json"
DOCS_PATH = "/sms/v1/docs"

_OUTPUTS = (
    models.MessageOut,
    models.MessagesOut,
    models.MessagePage,
    models.ReplyOut,
    models.ReplyPage,
    models.PreviewOut,
    models.BalanceOut,
    models.ProblemOut,
)


def _ref(model: type[Any]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    """The problem answers an operation may give: those named, plus what any request may get."""
    every = {401, 403, 405, 429, 500, *statuses}
    answers: dict[str, Any] = {}
    for status in sorted(every):
        codes = [code for code, value in STATUS_OF_CODE.items() if value == status]
        answers[str(status)] = {
            "description": " or ".join(f"{code} ({TITLES[code]})" for code in codes),
            "content": {"application/problem+json": {"schema": _ref(models.ProblemOut)}},
        }
    return answers


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_PAGING = [
    _query("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}, "page number, from 1"),
    _query(
        "pageSize",
        {"type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX, "default": PAGE_SIZE_DEFAULT},
        "items per page",
    ),
    _query("startDate", {"type": "string", "format": "date-time"}, "from this time (inclusive)"),
    _query("endDate", {"type": "string", "format": "date-time"}, "until this time (inclusive)"),
]

_SEND_BODY = {"required": True, "content": {"application/json": {"schema": _ref(models.SendIn)}}}


def _id_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 40}}


def openapi_document() -> dict[str, Any]:
    _, inputs = models_json_schema(
        [(model, "validation") for model in (models.SendIn, *contacts.INPUTS, *account_models.INPUTS)],
        ref_template="#/components/schemas/{model}",
    )
    _, outputs = models_json_schema(
        [(model, "serialization") for model in (*_OUTPUTS, *contacts.OUTPUTS, *account_models.OUTPUTS)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = {**inputs.get("$defs", {}), **outputs.get("$defs", {})}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Martinet REST API",
            "version": "1.0.0",
            "description": "smsmode's REST API v1, served by Martinet, with its extensions (docs/rest-api.md).",
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}, {"bearer": []}],
        "paths": {
            "/sms/v1/messages": {
                "post": {
                    "operationId": "sendMessage",
                    "summary": "Send an SMS (one recipient, or several with the `recipients` extension)",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": MAX_IDEMPOTENCY_KEY,
                                "pattern": "^[!-~]+$",
                            },
                            "description": "the same key and body within 24 h replay the first answer",
                        },
                        _query("dryRun", {"type": "boolean"}, "preview only: nothing is sent or charged"),
                    ],
                    "requestBody": _SEND_BODY,
                    "responses": {
                        "201": _json(
                            {"oneOf": [_ref(models.MessageOut), _ref(models.MessagesOut)]},
                            "accepted: the message, or every message with `recipients`",
                        ),
                        "200": _json(_ref(models.PreviewOut), "with dryRun=true: the preview"),
                        **_errors(400, 402, 413, 415, 422),
                    },
                },
                "get": {
                    "operationId": "listMessages",
                    "summary": "List messages, newest first",
                    "parameters": [
                        *_PAGING,
                        _query("status", {"type": "string", "enum": list(STATUS_VALUES)}, "only this status"),
                        _query("recipient", {"type": "string", "maxLength": 32}, "only to this number"),
                        _query("refClient", {"type": "string", "maxLength": 40}, "only with this reference"),
                    ],
                    "responses": {"200": _json(_ref(models.MessagePage), "a page of messages"), **_errors(422)},
                },
            },
            "/sms/v1/messages:preview": {
                "post": {
                    "operationId": "previewMessage",
                    "summary": "What a send would be: encoding, parts, text as sent, price (nothing is sent)",
                    "requestBody": _SEND_BODY,
                    "responses": {
                        "200": _json(_ref(models.PreviewOut), "the preview"),
                        **_errors(400, 413, 415, 422),
                    },
                },
            },
            "/sms/v1/messages/{messageId}": {
                "parameters": [_id_parameter("messageId")],
                "get": {
                    "operationId": "getMessage",
                    "summary": "One message",
                    "responses": {"200": _json(_ref(models.MessageOut), "the message"), **_errors(404)},
                },
                "delete": {
                    "operationId": "cancelMessage",
                    "summary": "Cancel a scheduled message (refunded)",
                    "responses": {"200": _json(_ref(models.MessageOut), "cancelled"), **_errors(404, 409)},
                },
            },
            "/sms/v1/replies": {
                "get": {
                    "operationId": "listReplies",
                    "summary": "Replies received, newest first",
                    "parameters": _PAGING,
                    "responses": {"200": _json(_ref(models.ReplyPage), "a page of replies"), **_errors(422)},
                },
            },
            "/sms/v1/replies/{responseId}": {
                "parameters": [_id_parameter("responseId")],
                "get": {
                    "operationId": "getReply",
                    "summary": "One reply",
                    "responses": {"200": _json(_ref(models.ReplyOut), "the reply"), **_errors(404)},
                },
            },
            "/commons/v1/balance": {
                "get": {
                    "operationId": "getBalance",
                    "summary": "The account's credit balance",
                    "responses": {"200": _json(_ref(models.BalanceOut), "the balance"), **_errors()},
                },
            },
            **contact_paths(_ref, _json, _errors, _query, _PAGING),
            **account_paths(_ref, _json, _errors, _PAGING),
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "bearer": {"type": "http", "scheme": "bearer", "description": "the same key, for generic tools"},
            },
        },
    }
