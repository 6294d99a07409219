"""The OpenAPI 3.1 description of /api/v1, written by hand so it says what the API promises."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_TICKET = {"$ref": "#/components/schemas/Ticket"}


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build a JSON response object."""
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _op(summary: str, *, path_params: tuple[str, ...] = (), query: tuple[str, ...] = (), body: bool = False,
        ok: str = "200", errors: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Describe one operation of a channel endpoint (JSON in, JSON out)."""
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "integer" if n.endswith("id") else "string"}}
        for n in path_params
    ] + [{"name": n, "in": "query", "schema": {"type": "string"}} for n in query]
    op: dict[str, Any] = {"summary": summary, "parameters": params, "responses": {ok: _resp("OK", {"type": "object"})}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    op["responses"].update(errors or {})
    return op


def channel_paths(errors: dict[str, Any]) -> dict[str, Any]:
    """Return the paths of the channel features: calls, voicemail, SMS and mail quarantine."""
    not_found = {"404": _resp("Not found", _ERROR), **errors}
    return {
        "/calls": {"get": _op("Calls; missed=1 gives the callback list", query=("state", "missed", "limit"), errors=errors)},
        "/calls/{call_id}": {"get": _op("One call", path_params=("call_id",), errors=not_found)},
        "/calls/{call_id}/ticket": {"post": _op(
            "Log a complaint from a call (or link it to ticket_code)", path_params=("call_id",), body=True, ok="201",
            errors=not_found)},
        "/calls/{call_id}/callback": {"post": _op(
            "Click-to-call: ring the operator, then dial the citizen", path_params=("call_id",), ok="202",
            errors={"409": _resp("no_extension, no_number or in_progress", _ERROR), **not_found})},
        "/voicemails": {"get": _op("Voicemails with transcripts", query=("status",), errors=errors)},
        "/voicemails/{voicemail_id}": {"get": _op(
            "One voicemail: transcript, words, confidences", path_params=("voicemail_id",), errors=not_found)},
        "/voicemails/{voicemail_id}/audio": {"get": {
            "summary": "The recording (audited)", "parameters": [{"name": "voicemail_id", "in": "path", "required": True,
                                                                  "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "audio/wav"}, **not_found}}},
        "/voicemails/{voicemail_id}/correction": {"post": _op(
            "An operator's corrected transcript", path_params=("voicemail_id",), body=True, errors=not_found)},
        "/voicemails/{voicemail_id}/publish": {"post": _op(
            "Allow or forbid the redacted transcript on the public page", path_params=("voicemail_id",), body=True,
            errors=not_found)},
        "/sms": {"get": _op("SMS queue (in and out)", query=("direction", "state", "limit"), errors=errors)},
        "/tickets/{code}/sms": {"post": _op("An operator's SMS reply to the citizen", path_params=("code",), body=True,
                                            ok="201", errors=not_found)},
        "/organisations/{code}/work-order": {"post": _op(
            "A work order by SMS to the organisation's duty team", path_params=("code",), body=True, ok="201",
            errors=not_found)},
        "/mail/quarantine": {"get": _op("Mail that could not be parsed, kept for an operator", errors=errors)},
        "/mail/quarantine/{item_id}/release": {"post": _op(
            "Turn a quarantined mail into a ticket", path_params=("item_id",), errors=not_found)},
    }  # fmt: skip


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document."""
    errors = {
        "400": _resp("Bad request", _ERROR),
        "401": _resp("Not logged in", _ERROR),
        "403": _resp("Not allowed", _ERROR),
        "503": _resp("Database unavailable; retry after the Retry-After header", _ERROR),
    }
    code_param = {
        "name": "code",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "example": "48-2026-000123"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sistem 48 API",
            "version": "1",
            "description": "Tickets from every channel, the 48-hour answer clock and live events for operators.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/tickets": {
                "post": {
                    "summary": "Open a ticket (or return the one this Idempotency-Key already made)",
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewTicket"}}},
                    },
                    "responses": {
                        "201": _resp("Created", _TICKET),
                        "200": _resp("Already created with this Idempotency-Key", _TICKET),
                        "413": _resp("Report too large", _ERROR),
                        **errors,
                    },
                },
                "get": {
                    "summary": "List tickets, newest first",
                    "parameters": [
                        {"name": n, "in": "query", "schema": {"type": "string"}}
                        for n in ("phone", "status", "channel", "organisation", "q")
                    ]
                    + [{"name": n, "in": "query", "schema": {"type": "integer"}} for n in ("limit", "offset")],
                    "responses": {
                        "200": _resp(
                            "Tickets",
                            {"type": "object", "properties": {"tickets": {"type": "array", "items": _TICKET},
                                                              "count": {"type": "integer"}}},
                        ),
                        **errors,
                    },
                },
            },
            "/tickets/{code}": {
                "get": {
                    "summary": "Read a ticket with its history",
                    "parameters": [code_param],
                    "responses": {"200": _resp("Ticket", _TICKET), "404": _resp("No such ticket", _ERROR), **errors},
                }
            },
            "/tickets/{code}/status": {
                "post": {
                    "summary": "Change status with a public and an internal note",
                    "parameters": [code_param],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StatusChange"}}},
                    },
                    "responses": {
                        "200": _resp("Updated ticket", _TICKET),
                        "404": _resp("No such ticket", _ERROR),
                        "409": _resp("Transition not allowed or public note missing", _ERROR),
                        **errors,
                    },
                }
            },
            "/history": {
                "get": {
                    "summary": "Caller history for a phone number (screen pop)",
                    "parameters": [{"name": "phone", "in": "query", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": _resp("History", {"type": "object"}), **errors},
                }
            },
            **channel_paths(errors),
            "/events": {
                "get": {
                    "summary": "Live events after a cursor (resync after reconnect)",
                    "parameters": [
                        {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}},
                    ],
                    "responses": {
                        "200": _resp(
                            "Events in seq order",
                            {"type": "object", "properties": {
                                "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                                "last_seq": {"type": "integer"}, "more": {"type": "boolean"}}},
                        ),
                        **errors,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Token from `sistem48 token create`"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"],
                                             "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
                },
                "NewTicket": {
                    "type": "object",
                    "required": ["channel", "description"],
                    "additionalProperties": False,
                    "properties": {
                        "channel": {"enum": ["phone", "voicemail", "sms", "email", "walk-in", "web", "open311"]},
                        "description": {"type": "string", "minLength": 1, "maxLength": 1000000},
                        "phone": {"type": "string"},
                        "email": {"type": "string"},
                        "name": {"type": "string"},
                        "category": {"type": "string", "description": "category code, e.g. voda"},
                        "place": {"type": "string"},
                    },
                },
                "StatusChange": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"enum": ["new", "assigned", "in_progress", "waiting", "resolved", "referred",
                                            "closed", "reopened"]},
                        "public_note": {"type": "string"},
                        "internal_note": {"type": "string"},
                        "organisation": {"type": "string"},
                    },
                },
                "Ticket": {
                    "type": "object",
                    "required": ["code", "status", "channel", "answer_due", "resolve_due", "created_at"],
                    "properties": {
                        "code": {"type": "string", "pattern": "^48-[0-9]{4}-[0-9]{6}$"},
                        "status": {"type": "string"},
                        "channel": {"type": "string"},
                        "category": {},
                        "organisation": {},
                        "citizen": {"type": ["object", "null"],
                                    "properties": {"phone": {"type": ["string", "null"]}}},
                        "answer_due": {"type": "string", "format": "date-time"},
                        "resolve_due": {"type": "string", "format": "date-time"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "history": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Event": {
                    "type": "object",
                    "required": ["seq", "type", "at"],
                    "properties": {"seq": {"type": "integer"}, "type": {"type": "string"},
                                   "at": {"type": "string", "format": "date-time"}},
                },
            },
        },
    }  # fmt: skip
