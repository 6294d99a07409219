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
