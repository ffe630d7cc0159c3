"""The OpenAPI 3.0 document of the integration API (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

_ERR = {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string"}, "field": {"type": "string"},
    "errors": {"type": "array", "items": {"type": "object", "properties": {
        "field": {"type": "string"}, "reason": {"type": "string"}}}}}}
_COLOR = {"type": "string", "enum": ["red", "yellow", "green"]}
_DATE = {"type": "string", "format": "date"}


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
                                         "points": {"type": "integer", "minimum": 1},
                                         "problem": {"type": "string"},
                                         "purpose": {"type": "string"},
                                         "matters": {"type": "string"},
                                         "requirement": {"type": "string"}}},
            "NewCase": {"type": "object", "additionalProperties": False,
                        "required": ["title", "stage", "police_unit", "prosecutor",
                                     "investigators"],
                        "properties": {
                            "title": {"type": "string", "maxLength": 200},
                            "stage": {"type": "string", "enum": ["提前介入", "审查逮捕", "审查起诉"]},
                            "police_unit": {"type": "string"},
                            "prosecutor": {"type": "string"},
                            "investigators": {"type": "array", "items": {"type": "string"}},
                            "investigation_deadline": _DATE, "custody_deadline": _DATE}},
            "NewEvaluation": {"type": "object", "additionalProperties": False,
                              "required": ["by"],
                              "properties": {
                                  "by": {"type": "string"},
                                  "deductions": {"type": "array",
                                                 "items": {"$ref": "#/components/schemas/Deduction"}},
                                  "vetoes": {"type": "array", "items": {"type": "string"}},
                                  "comment": {"type": "string"}}},
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
                                        "properties": {"code": {"type": "string"}}}),
                          **_errors(400, 401, 422, 503)}}},
        "/api/v1/cases/{code}": {"get": {
            "summary": "Current score, colour and history",
            "parameters": [{"name": "code", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json({"type": "object", "required": ["code", "history"],
                                        "properties": {"code": {"type": "string"},
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
            "responses": {"201": _json({"type": "object",
                                        "required": ["version", "score", "color"],
                                        "properties": {"version": {"type": "integer"},
                                                       "score": {"type": "integer"},
                                                       "color": _COLOR}}),
                          **_errors(400, 401, 403, 404, 409, 422, 503)}}},
    },
}
