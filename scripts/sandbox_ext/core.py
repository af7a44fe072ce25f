"""The sandbox WSGI application: moto's dispatcher wrapped in pinfra's layers.

Request flow (``Sandbox.__call__``)::

    /_sandbox/...        -> control routes (health, call log, extension routes)
    /moto-api/...        -> moto (POST /moto-api/reset also runs reset hooks)
    anything else (AWS)  -> classify + record in the call log
                         -> sleep latency_ms
                         -> request hooks, in order; the first that returns a
                            response answers the request (fault injection,
                            services or operations moto lacks)
                         -> moto's DomainDispatcherApplication

A hook may also let the request take effect and then answer something else:
``sandbox.forward(request, after="<its name>")`` runs the later hooks and moto and hands
back their response (faults that hit after the operation happened).

See ``sandbox_ext/__init__.py`` for how extensions plug in.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.test import run_wsgi_app
from werkzeug.wrappers import Request, Response

from .calls import Call, CallLog, classify

ControlHandler = Callable[[Request], Response]


@dataclass
class AwsRequest:
    """What a request hook sees: the raw WSGI environ plus its classification."""

    environ: dict[str, Any]
    call: Call

    @property
    def method(self) -> str:
        return str(self.environ.get("REQUEST_METHOD", "GET")).upper()

    @property
    def path(self) -> str:
        return str(self.environ.get("PATH_INFO", ""))

    def werkzeug(self) -> Request:
        """A werkzeug Request over the same environ (the body stays readable)."""
        return Request(self.environ)


RequestHook = Callable[[AwsRequest], "Response | None"]

# The time scale F: the quotas' refill rates are F times AWS's (quotas.py) and the emulators'
# asynchronous durations (every ``SettingsStore.seconds``: MSK cluster and topic transitions and
# staleness, EC2 instance states and profile propagation, MSK Connect plugins and connectors) are
# AWS's divided by F, so that a test sees AWS's timing F times faster. From --time-scale (the
# launcher hands it on through this variable) at start and on reset; POST /_sandbox/quotas
# {"scale": F} changes it at run time.
TIME_SCALE_ENV = "PINFRA_SANDBOX_TIME_SCALE"


def parse_time_scale(value: Any) -> float:
    """A time scale: a finite number above zero (or such a number as text, from the environment)."""
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number) or number <= 0:
        raise ValueError(f"expected a number above zero, got {value!r}")
    return float(number)


class TimeScale:
    """The process's time scale (``TIME_SCALE``), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 1.0

    def get(self) -> float:
        with self._lock:
            return self._value

    def set(self, value: Any) -> float:
        scale = parse_time_scale(value)
        with self._lock:
            self._value = scale
        return scale

    def reset(self) -> None:
        """Back to $PINFRA_SANDBOX_TIME_SCALE (default 1); a bad value raises ValueError."""
        raw = os.environ.get(TIME_SCALE_ENV)
        try:
            scale = 1.0 if raw in (None, "") else parse_time_scale(raw)
        except ValueError as err:
            raise ValueError(f"${TIME_SCALE_ENV}: {err}") from None
        with self._lock:
            self._value = scale


TIME_SCALE = TimeScale()


class SettingsStore:
    """An extension's settings, thread-safe: read from the environment at start and on reset
    (``from_env``), changed through a control route (each value checked by ``validate``).
    ``store["topic_delay_ms"]`` reads one as set (AWS's time), ``store.seconds(key)`` a delay in
    the sandbox's seconds: divided by the time scale (``TIME_SCALE``)."""

    def __init__(self, from_env: Callable[[], dict[str, Any]], validate: Callable[[str, Any], Any]) -> None:
        self.lock = threading.Lock()
        self._from_env = from_env
        self._validate = validate
        self._values = from_env()

    def __getitem__(self, key: str) -> Any:
        with self.lock:
            return self._values[key]

    def seconds(self, key: str) -> float:
        return float(self[key]) / 1000.0 / TIME_SCALE.get()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return dict(self._values)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        validated = {k: self._validate(k, v) for k, v in changes.items()}
        with self.lock:
            self._values.update(validated)
            return dict(self._values)

    def reset(self) -> None:
        values = self._from_env()
        with self.lock:
            self._values = values


def read_body(environ: dict[str, Any]) -> bytes:
    """A request's body; the stream is put back so that moto (or a later hook) can read it too."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    data = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    return data


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


class Sandbox:
    """Composable WSGI app. Extensions call the ``add_*`` methods in ``install``."""

    def __init__(self, latency_ms: int = 0) -> None:
        # Imported here so that `--help` and argument errors stay fast.
        from moto.server import DomainDispatcherApplication, create_backend_app

        self.moto_app = DomainDispatcherApplication(create_backend_app)
        self.latency_ms = latency_ms
        self.calls = CallLog()
        self._control: dict[tuple[str, str], ControlHandler] = {}
        self._hooks: list[tuple[str, RequestHook]] = []
        self._reset_hooks: list[Callable[[], None]] = []
        try:
            TIME_SCALE.reset()
        except ValueError as err:
            raise SystemExit(f"sandbox: {err}") from None
        self.add_reset_hook(TIME_SCALE.reset)

        self.add_control_route("GET", "/_sandbox/health", lambda _r: Response("ok", mimetype="text/plain"))
        self.add_control_route("GET", "/_sandbox/calls", self._get_calls)
        self.add_control_route("POST", "/_sandbox/calls/reset", self._reset_calls)

    # ----------------------------------------------------------- extension API
    def add_control_route(self, method: str, path: str, handler: ControlHandler) -> None:
        """Serve ``METHOD /_sandbox/...`` with ``handler(request) -> Response``.

        Control requests are never recorded and never delayed.
        """
        if not path.startswith("/_sandbox/"):
            raise ValueError(f"control routes live under /_sandbox/: {path}")
        self._control[(method.upper(), path.rstrip("/"))] = handler

    def add_request_hook(self, name: str, hook: RequestHook) -> None:
        """Run ``hook(aws_request)`` on every AWS request, after recording and
        latency, before moto. Returning a werkzeug ``Response`` (or any WSGI
        app) answers the request; returning ``None`` passes it on."""
        self._hooks.append((name, hook))

    def add_reset_hook(self, hook: Callable[[], None]) -> None:
        """Called on ``POST /moto-api/reset`` (before moto resets its backends)."""
        self._reset_hooks.append(hook)

    def forward(self, request: AwsRequest, after: str) -> Response:
        """The answer the request gets from the hooks installed after hook ``after`` and
        from moto (the request takes effect), buffered into a ``Response``."""
        names = [name for name, _hook in self._hooks]
        if after not in names:
            raise ValueError(f"no request hook named {after!r}")
        app = functools.partial(self._dispatch, request, names.index(after) + 1)
        body, status, headers = run_wsgi_app(app, request.environ, buffered=True)
        return Response(b"".join(body), status=status, headers=headers)

    @staticmethod
    def add_backend_url_pattern(service: str, url_regex: str) -> None:
        """Route ``http://<host>`` matching ``url_regex`` to ``moto.<service>``.

        moto picks the backend from the SigV4 scope as ``<service>.<region>.amazonaws.com``
        and matches it against ``moto.backend_index.backend_url_patterns`` (the
        dispatcher holds that very list, so appending works after creation).
        """
        import moto.backend_index as backend_index

        backend_index.backend_url_patterns.append((service, re.compile(url_regex)))

    # ---------------------------------------------------------------- routes
    def _get_calls(self, _request: Request) -> Response:
        return json_response({"calls": [c.to_json() for c in self.calls.snapshot()]})

    def _reset_calls(self, _request: Request) -> Response:
        self.calls.clear()
        return json_response({"status": "ok"})

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET").upper()

        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            handler = self._control.get((method, path.rstrip("/")))
            if handler is None:
                known = sorted(f"{m} {p}" for m, p in self._control)
                response = json_response({"error": f"no control route {method} {path}", "routes": known}, 404)
            else:
                response = handler(Request(environ))
            return response(environ, start_response)

        if path.startswith("/moto-api") or path == "/favicon.ico":
            if method == "POST" and path.rstrip("/") == "/moto-api/reset":
                for hook in self._reset_hooks:
                    hook()
            return self.moto_app(environ, start_response)

        call = classify(environ)
        self.calls.append(call)
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000.0)

        return self._dispatch(AwsRequest(environ, call), 0, environ, start_response)

    def _dispatch(self, request: AwsRequest, first_hook: int, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Request hooks from index ``first_hook`` on, then moto."""
        for _name, hook in self._hooks[first_hook:]:
            answer = hook(request)
            if answer is not None:
                return answer(environ, start_response)
        return self.moto_app(environ, start_response)
