"""The OpenAPI 3.1 document served at ``GET /api/openapi.json``.

Written by hand, next to the routes it describes; tests/test_api_openapi.py
compares its paths and methods with the app's URL map, and the schemathesis
run checks every response against it.

The request schemas say as exactly as JSON Schema can what the data layer
accepts (``conversations.clean_title`` and ``check_message``), so that valid
requests generated from them are accepted: a title or a user message has a
character that is not white space, and no text has NUL.
"""

from __future__ import annotations

from typing import Any

from webapp.api.inputs import CONVERSATIONS_PER_PAGE, MESSAGES_PER_PAGE
from webapp.branches import MESSAGES_PAGE_MAX
from webapp.conversations import CONVERSATIONS_PAGE_MAX, USER_MESSAGE_MAX
from webapp.models import IMPORT_STATUSES, MESSAGE_ROLES, MESSAGE_STATUSES, TITLE_MAX
from webapp.search import MAX_QUERY, RESULTS, SNIPPETS

API_VERSION = "1.0.0"

_NO_NUL = r"^[^\u0000]*$"
_NOT_BLANK_NO_NUL = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error_responses(*statuses: int) -> dict[str, Any]:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        413: "TooLarge",
        422: "Invalid",
        429: "RateLimited",
    }
    return {str(status): _ref("responses", names[status]) for status in statuses}


_TIMESTAMP = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC, ending in Z."}

_CONVERSATION = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "title",
        "user_id",
        "created_at",
        "updated_at",
        "message_count",
        "current_message_id",
        "pinned",
        "archived",
        "deleted_at",
    ],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "title": {"type": ["string", "null"], "maxLength": TITLE_MAX},
        "user_id": {"type": "integer"},
        "created_at": _TIMESTAMP,
        "updated_at": {
            **_TIMESTAMP,
            "description": "Last activity: a new message or a title change. Lists are ordered by it.",
        },
        "message_count": {"type": "integer", "minimum": 0, "description": "Every message of every branch."},
        "current_message_id": {
            "type": ["integer", "null"],
            "description": "The last message of the shown branch; null before the first message.",
        },
        "pinned": {"type": "boolean", "description": "Pinned threads head the sidebar."},
        "archived": {"type": "boolean", "description": "Kept out of the sidebar; a new message brings it back."},
        "deleted_at": {
            "oneOf": [_TIMESTAMP, {"type": "null"}],
            "description": "When it was moved to the trash; null unless it is there.",
        },
    },
}

_MESSAGE_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "conversation_id": {"type": "string", "format": "uuid"},
    "parent_id": {"type": ["integer", "null"], "description": "The message it follows; null for a first message."},
    "role": {"enum": list(MESSAGE_ROLES)},
    "content": {"type": "string"},
    "tool_calls": {"type": ["array", "null"], "items": {}},
    "status": {
        "enum": list(MESSAGE_STATUSES),
        "description": "An assistant reply's progress; other messages are complete.",
    },
    "created_at": _TIMESTAMP,
}

_MESSAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": list(_MESSAGE_PROPERTIES),
    "properties": _MESSAGE_PROPERTIES,
}

_MESSAGE_CREATED = {
    "type": "object",
    "additionalProperties": False,
    "required": list(_MESSAGE_PROPERTIES),
    "properties": {
        **_MESSAGE_PROPERTIES,
        "reply": {
            **_ref("schemas", "Message"),
            "description": 'Present when the request asked for a reply: the assistant\'s message, "pending" and '
            "empty at first; poll the conversation's messages to see it fill in.",
        },
    },
}


def _page(item: str, cursor_parameter: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("schemas", item)},
            "next_cursor": {
                "type": ["string", "null"],
                "description": f"Pass as `{cursor_parameter}` for the next page; null on the last page.",
            },
        },
    }


_SHARE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "created_at"],
    "properties": {
        "url": {"type": "string", "description": "The link: anyone who has it can read the snapshot."},
        "created_at": {**_TIMESTAMP, "description": "When the link was first made (refreshing keeps it)."},
    },
}

_SEARCH_HIT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["conversation", "messages"],
    "properties": {
        "conversation": _ref("schemas", "Conversation"),
        "messages": {
            "type": "array",
            "maxItems": SNIPPETS,
            "description": "Up to 3 of its messages that hold every word, newest first (none when only the "
            "title does).",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [*_MESSAGE_PROPERTIES, "snippet"],
                "properties": {
                    **_MESSAGE_PROPERTIES,
                    "snippet": {"type": "string", "description": "Plain text around the first matching word."},
                },
            },
        },
    },
}

_IMPORT_JOB = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "status",
        "imported",
        "skipped",
        "failed",
        "errors",
        "messages",
        "progress",
        "files",
        "formats",
        "created_at",
        "finished_at",
    ],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {
            "enum": list(IMPORT_STATUSES),
            "description": "queued (waiting for the imports before it), running, done, or failed: nothing could "
            "be read (the errors say why), or the import stopped.",
        },
        "imported": {"type": "integer", "minimum": 0, "description": "Threads imported so far."},
        "skipped": {"type": "integer", "minimum": 0, "description": "Threads the account already had (same source)."},
        "failed": {"type": "integer", "minimum": 0, "description": "Threads that could not be imported."},
        "errors": {
            "type": "array",
            "description": "Why each failed thread failed, and each file that could not be read (the first 500).",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["file", "thread", "message"],
                "properties": {
                    "file": {"type": ["string", "null"], "description": "The file (and ZIP entry)."},
                    "thread": {"type": ["string", "null"], "description": "The thread's title; null for a file."},
                    "message": {"type": "string"},
                },
            },
        },
        "messages": {"type": "integer", "minimum": 0, "description": "Messages of the threads imported."},
        "progress": {"type": "number", "minimum": 0, "maximum": 1, "description": "Share of the files read."},
        "files": {"type": "array", "items": {"type": "string"}, "description": "The uploaded files' names."},
        "formats": {
            "type": "array",
            "items": {"enum": ["ChatGPT", "Open WebUI", "Parley"]},
            "description": "The formats found.",
        },
        "created_at": _TIMESTAMP,
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

_IMPORT_JOB_ANSWER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["job"],
    "properties": {"job": _ref("schemas", "ImportJob")},
}

_ZIP = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}

_ERROR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable, for programs: bad_request, not_json, invalid_json, unauthorized, "
                    "invalid_token, csrf_failed, not_found, method_not_allowed, too_large, invalid, "
                    "rate_limited, server_error.",
                },
                "message": {"type": "string", "description": "For people: what was wrong and what to do."},
                "field": {"type": "string", "description": "The input the error is about, when there is one."},
            },
        }
    },
}

_TITLE_INPUT = {
    "type": ["string", "null"],
    "minLength": 1,
    "maxLength": TITLE_MAX,
    "pattern": _NOT_BLANK_NO_NUL,
    "description": f"Trimmed, runs of white space made one space; at most {TITLE_MAX} characters. null means no title.",
}

_NEW_CONVERSATION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"title": _TITLE_INPUT},
}

_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "title": _TITLE_INPUT,
        "current_message_id": {
            "type": "integer",
            "minimum": 1,
            "description": "Show the branch that ends at this message of the thread (not activity).",
        },
        "pinned": {"type": "boolean", "description": "Pin or unpin (not activity)."},
        "archived": {"type": "boolean", "description": "Archive, or bring back to the sidebar (not activity)."},
    },
}

_TOOL_CALLS_INPUT = {"type": ["array", "null"], "items": {}, "description": "Stored as given, as JSON."}

_PARENT_INPUT = {
    "type": ["integer", "null"],
    "minimum": 1,
    "description": "The message of this thread it follows (a new branch from there); null: a new first "
    "message. Left out: after the last message of the shown branch.",
}

# One branch per kind of role: only a user message has a length limit and
# may ask for a reply.
_NEW_MESSAGE = {
    "oneOf": [
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["role", "content"],
            "properties": {
                "role": {"const": "user"},
                "content": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": USER_MESSAGE_MAX,
                    "pattern": _NOT_BLANK_NO_NUL,
                },
                "tool_calls": _TOOL_CALLS_INPUT,
                "parent_id": _PARENT_INPUT,
                "reply": {
                    "type": "boolean",
                    "default": False,
                    "description": "Start an assistant reply; its pending message is returned as `reply`.",
                },
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["role", "content"],
            "properties": {
                "role": {"enum": [role for role in MESSAGE_ROLES if role != "user"]},
                "content": {"type": "string", "pattern": _NO_NUL},
                "tool_calls": _TOOL_CALLS_INPUT,
                "parent_id": _PARENT_INPUT,
                "reply": {"const": False},
            },
        },
    ]
}


def _limit(default: int, maximum: int) -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
    }


_CONVERSATION_ID = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
    "description": "Another user's conversation, or a malformed id, is 404.",
}

_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
    "description": "Another user's import, or a malformed id, is 404.",
}

_CONVERSATION_LINKS = {
    name: {"operationId": operation, "parameters": {"conversation_id": "$response.body#/id"}}
    for name, operation in [
        ("GetConversation", "getConversation"),
        ("UpdateConversation", "updateConversation"),
        ("DeleteConversation", "deleteConversation"),
        ("AppendMessage", "appendMessage"),
        ("ListMessages", "listMessages"),
    ]
}


def _error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json(_ref("schemas", "Error"))}
    if headers:
        response["headers"] = headers
    return response


def openapi_document(session_cookie: str = "session") -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Parley API",
            "version": API_VERSION,
            "description": "Conversations and their messages, for scripts and agents. "
            "Authenticate with a personal API token (settings page) as a bearer token, or with "
            "the session cookie of a signed-in browser.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": {
            "/api/conversations": {
                "post": {
                    "operationId": "createConversation",
                    "summary": "Start a conversation",
                    "requestBody": {"required": False, "content": _json(_ref("schemas", "NewConversation"))},
                    "responses": {
                        "201": {
                            "description": "Created.",
                            "headers": {
                                "Location": {"required": True, "schema": {"type": "string"}},
                            },
                            "content": _json(_ref("schemas", "Conversation")),
                            "links": _CONVERSATION_LINKS,
                        },
                        **_error_responses(400, 401, 403, 413, 422, 429),
                    },
                },
                "get": {
                    "operationId": "listConversations",
                    "summary": "The caller's conversations, newest activity first",
                    "parameters": [
                        _limit(CONVERSATIONS_PER_PAGE, CONVERSATIONS_PAGE_MAX),
                        {
                            "name": "state",
                            "in": "query",
                            "required": False,
                            "schema": {"enum": ["active", "archived", "trash"], "default": "active"},
                            "description": "active: neither archived nor in the trash.",
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "pattern": r"^[0-9]{1,17}-[0-9a-f]{32}$"},
                            "description": "`next_cursor` of the previous page.",
                        },
                    ],
                    "responses": {
                        "200": {"description": "A page.", "content": _json(_ref("schemas", "ConversationPage"))},
                        **_error_responses(401, 422),
                    },
                },
            },
            "/api/conversations/{conversation_id}": {
                "parameters": [_ref("parameters", "ConversationId")],
                "get": {
                    "operationId": "getConversation",
                    "summary": "One conversation",
                    "responses": {
                        "200": {"description": "The conversation.", "content": _json(_ref("schemas", "Conversation"))},
                        **_error_responses(401, 404),
                    },
                },
                "patch": {
                    "operationId": "updateConversation",
                    "summary": "Rename (or, with null, clear the title; counts as activity), show another branch, "
                    "pin, archive",
                    "requestBody": {"required": True, "content": _json(_ref("schemas", "Update"))},
                    "responses": {
                        "200": {"description": "Updated.", "content": _json(_ref("schemas", "Conversation"))},
                        **_error_responses(400, 401, 403, 404, 413, 422, 429),
                    },
                },
                "delete": {
                    "operationId": "deleteConversation",
                    "summary": "Move the conversation to the trash; with permanent=1, delete it and its messages "
                    "for good (from the trash too)",
                    "parameters": [
                        {
                            "name": "permanent",
                            "in": "query",
                            "required": False,
                            "schema": {"enum": ["0", "1"], "default": "0"},
                        }
                    ],
                    "responses": {
                        "204": {"description": "In the trash, or deleted."},
                        **_error_responses(401, 403, 404, 422, 429),
                    },
                },
            },
            "/api/conversations/{conversation_id}/restore": {
                "parameters": [_ref("parameters", "ConversationId")],
                "post": {
                    "operationId": "restoreConversation",
                    "summary": "Bring the conversation back from the trash, where it was (not activity)",
                    "responses": {
                        "200": {"description": "Restored.", "content": _json(_ref("schemas", "Conversation"))},
                        **_error_responses(401, 403, 404, 429),
                    },
                },
            },
            "/api/conversations/{conversation_id}/messages": {
                "parameters": [_ref("parameters", "ConversationId")],
                "post": {
                    "operationId": "appendMessage",
                    "summary": "Add a message at the end; counts as activity",
                    "requestBody": {"required": True, "content": _json(_ref("schemas", "NewMessage"))},
                    "responses": {
                        "201": {"description": "Added.", "content": _json(_ref("schemas", "MessageCreated"))},
                        **_error_responses(400, 401, 403, 404, 413, 422, 429),
                    },
                },
                "get": {
                    "operationId": "listMessages",
                    "summary": "The shown branch's latest messages before a cursor, oldest first; with all=1 "
                    "every message of every branch, in the order added",
                    "parameters": [
                        _limit(MESSAGES_PER_PAGE, MESSAGES_PAGE_MAX),
                        {
                            "name": "all",
                            "in": "query",
                            "required": False,
                            "schema": {"enum": ["0", "1"], "default": "0"},
                        },
                        {
                            "name": "before",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "pattern": r"^[0-9]{1,18}$"},
                            "description": "`next_cursor` of the previous page: it reaches further back.",
                        },
                    ],
                    "responses": {
                        "200": {"description": "A page.", "content": _json(_ref("schemas", "MessagePage"))},
                        **_error_responses(401, 404, 422),
                    },
                },
            },
            "/api/conversations/{conversation_id}/share": {
                "parameters": [_ref("parameters", "ConversationId")],
                "post": {
                    "operationId": "shareConversation",
                    "summary": "Make the conversation's read-only share link, or refresh what it shows (the same "
                    "link): a snapshot of the shown branch as it is now",
                    "responses": {
                        "201": {"description": "Made.", "content": _json(_ref("schemas", "Share"))},
                        "200": {"description": "Refreshed.", "content": _json(_ref("schemas", "Share"))},
                        **_error_responses(401, 403, 404, 429),
                    },
                },
                "delete": {
                    "operationId": "stopSharingConversation",
                    "summary": "Turn the share link off; it answers 404 from then on",
                    "responses": {
                        "204": {"description": "Turned off."},
                        **_error_responses(401, 403, 404, 429),
                    },
                },
            },
            "/api/search": {
                "get": {
                    "operationId": "search",
                    "summary": "The caller's conversations whose title or messages hold every word of q (each the "
                    'start of a word, any case, accents ignored; "quoted words" as a phrase), newest activity first',
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "maxLength": MAX_QUERY, "pattern": _NO_NUL},
                            "description": "Empty or absent: no results.",
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "pattern": r"^[0-9]{1,17}-[0-9a-f]{32}$"},
                            "description": "`next_cursor` of the previous page.",
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": f"A page of up to {RESULTS} conversations.",
                            "content": _json(_ref("schemas", "SearchPage")),
                        },
                        **_error_responses(401, 422),
                    },
                }
            },
            "/api/export": {
                "get": {
                    "operationId": "exportAccount",
                    "summary": "Every conversation of the caller's (not the trash) as a ZIP: conversations.json "
                    "(a list of {conversation, messages}, every branch) and a Markdown file per conversation",
                    "responses": {
                        "200": {"description": "The ZIP, streamed.", "content": _ZIP},
                        **_error_responses(401),
                    },
                }
            },
            "/api/import": {
                "post": {
                    "operationId": "startImport",
                    "summary": "Import a ChatGPT, Open WebUI or Parley export (told apart by their content) in the "
                    "background; poll the job for its progress and report",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {
                                        "file": {
                                            "type": "string",
                                            "format": "binary",
                                            "description": "The export: a ZIP, or a JSON file. Repeat the field "
                                            "for several files (ChatGPT's conversations-000.json, -001…).",
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Started.",
                            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
                            "content": _json(_ref("schemas", "ImportJobAnswer")),
                            "links": {
                                "GetImport": {
                                    "operationId": "getImport",
                                    "parameters": {"job_id": "$response.body#/job/id"},
                                }
                            },
                        },
                        **_error_responses(401, 403, 413, 422, 429),
                    },
                }
            },
            "/api/import/{job_id}": {
                "parameters": [_ref("parameters", "JobId")],
                "get": {
                    "operationId": "getImport",
                    "summary": "An import's progress, then its report",
                    "responses": {
                        "200": {"description": "The job.", "content": _json(_ref("schemas", "ImportJob"))},
                        **_error_responses(401, 404),
                    },
                },
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "getOpenApiDocument",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1.", "content": _json({"type": "object"})}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (parley_…), made on the settings page.",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": session_cookie,
                    "description": "The session of a signed-in browser. Writes (POST, PATCH, DELETE) must "
                    "also send the page's CSRF token in the X-CSRFToken header.",
                },
            },
            "parameters": {"ConversationId": _CONVERSATION_ID, "JobId": _JOB_ID},
            "schemas": {
                "Conversation": _CONVERSATION,
                "Message": _MESSAGE,
                "MessageCreated": _MESSAGE_CREATED,
                "ConversationPage": _page("Conversation", "cursor"),
                "MessagePage": _page("Message", "before"),
                "NewConversation": _NEW_CONVERSATION,
                "Update": _UPDATE,
                "NewMessage": _NEW_MESSAGE,
                "Error": _ERROR,
                "SearchHit": _SEARCH_HIT,
                "SearchPage": _page("SearchHit", "cursor"),
                "Share": _SHARE,
                "ImportJob": _IMPORT_JOB,
                "ImportJobAnswer": _IMPORT_JOB_ANSWER,
            },
            "responses": {
                "BadRequest": _error_response("The body is not JSON, or not valid JSON."),
                "Unauthorized": _error_response(
                    "No credentials, or a token that is wrong or revoked.",
                    {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
                ),
                "Forbidden": _error_response("A cookie-authenticated write without a valid X-CSRFToken header."),
                "NotFound": _error_response(
                    "No such conversation (or import) among the caller's (or, for its share link, none, or sharing is off)."
                ),
                "TooLarge": _error_response(
                    "The body is larger than the server accepts (an upload: PARLEY_IMPORT_MAX_MB)."
                ),
                "Invalid": _error_response("A field is missing, unknown, of the wrong type or out of range."),
                "RateLimited": _error_response(
                    "Too many writes; wait the number of seconds in Retry-After.",
                    {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}},
                ),
            },
        },
    }
