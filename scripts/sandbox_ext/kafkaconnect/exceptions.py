"""MSK Connect's errors: ``{"message"}`` with ``x-amzn-ErrorType`` and the model's status."""

from __future__ import annotations

import json

from werkzeug.wrappers import Response

# -------------------------------------------------------------------------------- errors
ERROR_STATUS = {
    "BadRequestException": 400,
    "NotFoundException": 404,
    "ConflictException": 409,
}


class KafkaConnectError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def response(self) -> Response:
        resp = Response(json.dumps({"message": self.message}), status=ERROR_STATUS[self.code], mimetype="application/json")
        resp.headers["x-amzn-ErrorType"] = self.code
        return resp


def bad_request(message: str) -> KafkaConnectError:
    return KafkaConnectError("BadRequestException", message)


def not_found(message: str) -> KafkaConnectError:
    return KafkaConnectError("NotFoundException", message)


def conflict(message: str) -> KafkaConnectError:
    return KafkaConnectError("ConflictException", message)
