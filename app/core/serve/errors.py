"""Errors a client of the local server gets, in OpenAI's error JSON shape:

    {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": null}}

`type` and `code` follow OpenAI's own values where it has one (context_length_exceeded,
model_not_found, invalid_api_key), so clients written for it react as they would there.
"""

from __future__ import annotations

import json


class ApiError(Exception):
    """A request the server answers with `status` and an OpenAI-shaped error body."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})
        self.extra = extra  # more facts for the client (a context overflow's numbers)

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code,
                          **self.extra}}

    def body_bytes(self) -> bytes:
        return json.dumps(self.body(), ensure_ascii=False).encode("utf-8")


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


def server_error(message: str, code: str | None = None, status: int = 500) -> ApiError:
    return ApiError(status, message, type="server_error", code=code)
