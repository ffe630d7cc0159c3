"""The OpenAPI 3.0 document of the integration API (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

_ERR = {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string"}, "field": {"type": "string"},
    "errors": {"type": "array", "items": {"type": "object", "properties": {
        "field": {"type": "string"}, "reason": {"type": "string"}}}}}}
_COLOR = {"type": "string", "enum": ["red", "yellow", "green"]}
_DATE = {"type": "string", "format": "date",
         "description": "YYYY-MM-DD, from 1 January five years before this year "
                        "to 31 December five years after it"}
_STAGE = {"type": "string", "enum": ["提前介入", "审查逮捕", "审查起诉"],
          "description": "阶段, forward only: 提前介入 → 审查逮捕 → 审查起诉 (a case taken in at "
                         "intake, 放行 or 先收后补, moves to 审查起诉 by itself)"}
_TEXT = {"type": "string", "maxLength": 1000,
         "description": "no control or bidi formatting characters; line breaks and tabs allowed"}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "error", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}} for c in codes}


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "casebot integration API", "version": "1.0.0",
             "description": "案件码 integration for the case-management system. "
                            "Authenticate with `Authorization: Bearer $CASEBOT_API_TOKEN`."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": _ERR,
            "Deduction": {"type": "object", "additionalProperties": False,
                          "required": ["item", "points", "problem", "requirement"],
                          "properties": {"item": {"type": "string"},
                                         "points": {"type": "integer", "minimum": 0,
                                                    "description": "1..the item's max_points; 0 "
                                                                   "only on an item in vetoes"},
                                         "problem": _TEXT, "purpose": _TEXT, "matters": _TEXT,
                                         "requirement": _TEXT}},
            "NewCase": {"type": "object", "additionalProperties": False,
                        "required": ["title", "stage", "police_unit", "prosecutor",
                                     "investigators"],
                        "properties": {
                            "title": {"type": "string", "maxLength": 200},
                            "stage": _STAGE,
                            "police_unit": {"type": "string"},
                            "prosecutor": {"type": "string"},
                            "investigators": {"type": "array", "items": {"type": "string"}},
                            "investigation_deadline": _DATE, "custody_deadline": _DATE,
                            "external_id": {
                                "type": "string", "maxLength": 64,
                                "description": "the case's id in the case-management system "
                                               "(统一受案号), unique: a create with an id a case "
                                               "already has answers 200 with that case's code "
                                               "and creates nothing (the other fields are not "
                                               "compared)"}}},
            "NewEvaluation": {"type": "object", "additionalProperties": False,
                              "required": ["by"],
                              "properties": {
                                  "by": {"type": "string"},
                                  "deductions": {"type": "array", "maxItems": 10,
                                                 "items": {"$ref": "#/components/schemas/Deduction"}},
                                  "vetoes": {"type": "array", "maxItems": 10,
                                             "items": {"type": "string"},
                                             "description": "一票否决: ids of veto items "
                                                            "(veto: true in the score template); "
                                                            "each also needs its entry in "
                                                            "deductions (problem, requirement), "
                                                            "which may deduct 0 points"},
                                  "comment": _TEXT,
                                  "base_version": {
                                      "type": "integer", "minimum": 0,
                                      "description": "the version this score was made on (0: "
                                                     "unscored). If the case has another "
                                                     "version now, nothing is recorded: a "
                                                     "resend of the very score that made it "
                                                     "answers 200 with that version, anything "
                                                     "else 409 naming who scored it and when"}}},
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/score-template": {"get": {
            "summary": "The score sheet: items with id, label, dimension, max points, veto",
            "responses": {"200": _json({"type": "object", "required": ["version", "items"],
                                        "properties": {"version": {"type": "string"},
                                                       "items": {"type": "array"}}}),
                          **_errors(401, 503)}}},
        "/api/v1/cases": {"post": {
            "summary": "Create a case; returns its code (e.g. HY-2026-0042)",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/NewCase"}}}},
            "responses": {"201": _json({"type": "object", "required": ["code"],
                                        "properties": {"code": {"type": "string"}}},
                                       "created"),
                          "200": _json({"type": "object", "required": ["code"],
                                        "properties": {"code": {"type": "string"}}},
                                       "a case with this external_id exists: its code"),
                          **_errors(400, 401, 413, 422, 503)}}},
        "/api/v1/cases/{code}": {"patch": {
            "summary": "Change deadlines, move the stage forward, close/reopen a case or "
                       "reassign it (改派) to another prosecutor; pending reminders follow. A "
                       "stage back (审查起诉 → 审查逮捕) is a 422 and nothing in the request is "
                       "applied; so is any change (status, stage, deadlines, prosecutor) of a "
                       "case its prosecutor withdrew (撤销案件): it is frozen",
            "parameters": [{"name": "code", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "minProperties": 1,
                "properties": {"investigation_deadline": {**_DATE, "nullable": True},
                               "custody_deadline": {**_DATE, "nullable": True},
                               "status": {"type": "string", "enum": ["open", "closed"]},
                               "stage": _STAGE,
                               "prosecutor": {
                                   "type": "string",
                                   "description": "改派: the person id of the case's new "
                                                  "prosecutor, a prosecutor on the roster in "
                                                  "the case's office (else 422); the same one "
                                                  "changes nothing. The new prosecutor gets "
                                                  "the case and what waits on it in their 1:1 "
                                                  "chat; the old one's cards lose their "
                                                  "prosecutor buttons"}}}}}},
            "responses": {"200": _json({"type": "object", "required": ["code"],
                                        "properties": {"code": {"type": "string"}}}),
                          **_errors(400, 401, 404, 413, 422, 503)}}, "get": {
            "summary": "Current score, colour and history",
            "parameters": [{"name": "code", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json({"type": "object", "required": ["code", "history"],
                                        "properties": {"code": {"type": "string"},
                                                       "external_id": {"type": "string",
                                                                       "nullable": True},
                                                       "status": {"type": "string",
                                                                  "enum": ["open", "closed",
                                                                           "withdrawn"]},
                                                       "stage": _STAGE,
                                                       "closed_at": {
                                                           "type": "string",
                                                           "format": "date-time",
                                                           "nullable": True},
                                                       # 撤销案件 by its prosecutor
                                                       "withdrawn": {
                                                           "type": "object", "nullable": True,
                                                           "properties": {
                                                               "by": {"type": "string"},
                                                               "at": {"type": "string",
                                                                      "format": "date-time"},
                                                               "reason": {"type": "string"}}},
                                                       "score": {"type": "integer",
                                                                 "nullable": True},
                                                       "color": {**_COLOR, "nullable": True},
                                                       "history": {"type": "array"}}}),
                          **_errors(401, 404, 503)}}},
        "/api/v1/cases/{code}/evaluations": {"post": {
            "summary": "Score the case (by its prosecutor): a new immutable version",
            "parameters": [{"name": "code", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/NewEvaluation"}}}},
            "responses": {**{str(status): _json(
                {"type": "object", "required": ["version", "score", "color"],
                 "properties": {"version": {"type": "integer"}, "score": {"type": "integer"},
                                "color": _COLOR}}) for status in (200, 201)},
                          **_errors(400, 401, 403, 404, 409, 413, 422, 503)}}},
        "/draw/verify": {"get": {
            "summary": "The verify page for people (HTML); ?session=<id> re-runs that session "
                       "(404: no such session)",
            "security": [],
            "parameters": [{"name": "session", "in": "query", "required": False,
                            "schema": {"type": "string"}}],
            "responses": {str(c): {"description": "the page", "content": {
                "text/html": {"schema": {"type": "string"}}}} for c in (200, 400, 404)}},
            "post": {
            "summary": "Re-run a 检务督导 draw (public, no token): the publication itself, "
                       "{\"publication\": …} (the object or its JSON text) or {\"session\": id}. "
                       "match is false only when the inputs were read and the re-run differs; "
                       "input that checked nothing is a 400 (not JSON, no publication) or a 404 "
                       "(unknown or not yet drawn session), error saying 无法复核：…",
            "security": [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "session": {"type": "string", "description": "e.g. DD20261102-01"},
                    "publication": {"oneOf": [{"type": "object"}, {"type": "string"}]},
                    "manifest": {"type": "object"}, "result": {"type": "object"}}}}}},
            "responses": {"200": _json({"type": "object",
                                        "required": ["match", "result", "first_difference",
                                                     "message"],
                                        "properties": {
                                            "match": {"type": "boolean"},
                                            "result": {"type": "string",
                                                       "description": "MATCH or MISMATCH: …, "
                                                                      "as casebot draw verify"},
                                            "first_difference": {"type": "string",
                                                                 "nullable": True},
                                            "message": {"type": "string",
                                                        "description": "复核一致 / 复核不一致：…"}}}),
                          **{str(c): {"description": "无法复核：…", "content": {
                              "application/json": {
                                  "schema": {"$ref": "#/components/schemas/Error"}},
                              # a form post, or a body not sent as JSON: the verify page
                              "text/html": {"schema": {"type": "string"}}}}
                             for c in (400, 404)}}}},
    },
}


def console_openapi() -> dict[str, Any]:
    """The console JSON API (SPEC §5) as OpenAPI, for fuzzing and for tool authors."""
    message = {"type": "object", "required": ["id", "chat", "at", "text", "card"], "properties": {
        "id": {"type": "integer"}, "chat": {"type": "string"}, "at": {"type": "string"},
        "text": {"type": "string", "nullable": True},
        "card": {"type": "object", "nullable": True}}}
    messages = _json({"type": "object", "required": ["messages"], "properties": {
        "messages": {"type": "array", "items": message}}})
    listing = _json({"type": "object", "required": ["messages", "more", "next_updated_after"],
                     "properties": {"messages": {"type": "array", "items": message},
                                    "more": {"type": "boolean"},
                                    "next_updated_after": {"type": "string"},
                                    "updated": {"type": "array", "items": message}}})

    def query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": required, "schema": schema}

    body = {"type": "object", "properties": {
        "user": {"type": "string"}, "chat": {"type": "string"}, "text": {"type": "string"},
        "message_id": {"type": "integer"}, "action": {"type": "string"},
        "form": {"type": "object"}}}

    def post(required: list[str], codes: tuple[int, ...]) -> dict[str, Any]:
        return {"post": {"requestBody": {"required": True, "content": {"application/json": {
            "schema": {**body, "required": required}}}},
            "responses": {"200": messages, **_errors(*codes)}}}

    return {
        "openapi": "3.0.3",
        "info": {"title": "casebot console API", "version": "1.0.0"},
        "components": {"schemas": {"Error": _ERR}},
        "paths": {
            "/console/api/send": post(["user", "chat", "text"], (400, 403, 413)),
            "/console/api/click": post(["user", "message_id", "action"], (400, 403, 404, 413)),
            "/console/api/messages": {"get": {
                "summary": "Messages with id > after, oldest first; see the README for the "
                           "optional limit, latest, before, updated_after and updated_from",
                "parameters": [query("chat", {"type": "string"}, required=True),
                               query("after", {"type": "integer"}),
                               query("before", {"type": "integer"}),
                               query("limit", {"type": "integer"}),
                               query("latest", {"type": "string", "enum": ["0", "1"]}),
                               query("updated_after", {"type": "string",
                                                       "format": "date-time"}),
                               query("updated_from", {"type": "integer"})],
                "responses": {"200": listing, **_errors(400)}}},
            "/console/api/users": {"get": {"responses": {"200": _json({
                "type": "object", "required": ["users"],
                "properties": {"users": {"type": "array"}}})}}},
            "/console/api/chats": {"get": {"responses": {"200": _json({
                "type": "object", "required": ["chats"],
                "properties": {"chats": {"type": "array"}}})}}},
        },
    }
