#!/usr/bin/env python3
"""pinfra's local AWS sandbox: moto 5.2.5's server on a loopback port.

    python scripts/sandbox.py [--host 127.0.0.1] [--port 0] [--latency-ms N] [--network enforce|off]
                              [--authz enforce|off] [--quotas on|off] [--time-scale F]

Prints exactly one line, ``http://<host>:<port>``, on stdout once the server
answers, then serves until SIGTERM/SIGINT and exits 0. Everything else (moto
and request logs) goes to stderr. Point SDKs at that URL with any credentials,
e.g. AKIAIOSFODNN7EXAMPLE/test, and path-style S3 addressing.

Beyond moto it serves
    GET  /_sandbox/health        200 "ok"
    GET  /_sandbox/calls         {"calls": [{"service", "operation", "mutating", ...}]}
    POST /_sandbox/calls/reset   clear the call log
    POST /moto-api/reset         moto's own: reset all backends (+ extension state)
    GET|POST /_sandbox/msk/settings  MSK cluster/topic delays and staleness (msk_settings)
    GET|POST /_sandbox/ec2/settings  EC2 instance state delays, profile propagation (ec2_compat)
    POST|GET|DELETE /_sandbox/faults  armed faults (faults)
    GET|POST /_sandbox/network/settings  {"enforce": bool}: whether the data path obeys the
                                 EC2 network (data_path, network.py; default $PINFRA_SANDBOX_NETWORK)
    GET|POST /_sandbox/authz/settings  {"enforce": bool, "idempotent_producer": bool}: whether the
                                 data path's Kafka clients are held to MSK IAM access control
                                 (data_path, kafka_iam.py; default $PINFRA_SANDBOX_AUTHZ), and whether
                                 the stand-in REST proxy's producer is idempotent (default
                                 $PINFRA_SANDBOX_IDEMPOTENT_PRODUCER or false, as kafka-rest 7.6.1)
    POST|GET|DELETE /_sandbox/s3/refuse-delete  DeleteObjects/DeleteObject refusing keys (s3_compat)
    GET|POST|DELETE /_sandbox/quotas  {"enabled": bool, "scale": F}: AWS's request quotas as token
                                 buckets, answered with the service's throttling error (quotas;
                                 default $PINFRA_SANDBOX_QUOTAS or off), and the time scale

AWS managed IAM policies are not loaded unless --iam-managed-policies (or
MOTO_IAM_LOAD_MANAGED_POLICIES=true) is given: attaching
arn:aws:iam::aws:policy/... otherwise fails with NoSuchEntity.

Extensions live in scripts/sandbox_ext/ (see its __init__.py). Normally started
through ``scripts/sandbox start``, which uses the repo's .venv.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import math
import os
import signal
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

LATENCY_ENV = "PINFRA_SANDBOX_LATENCY_MS"
# enforce: the data path (REST proxy, execute-api, S3 sink) lets data through only where the EC2
# network (routes, security groups, network ACLs) does, with the rules of docs/network.md; off:
# it ignores the network. Read here (or --network) and handed to the extensions through the
# environment, which /moto-api/reset restores.
NETWORK_ENV = "PINFRA_SANDBOX_NETWORK"
NETWORK_MODES = ("enforce", "off")
DEFAULT_NETWORK = "enforce"
# enforce: the data path's Kafka clients (the REST proxy as the instance's role, the S3 sink as the
# connector's service execution role) may do only what the role's IAM policies allow them on the
# cluster, its topics and groups (MSK IAM access control); off: everything is allowed. Handed on
# through the environment like the network switch.
AUTHZ_ENV = "PINFRA_SANDBOX_AUTHZ"
AUTHZ_MODES = ("enforce", "off")
DEFAULT_AUTHZ = "enforce"
# on: calls over AWS's documented request quotas get the service's throttling error
# (sandbox_ext/quotas.py); off: nothing is throttled. Handed on through the environment like the
# network switch.
QUOTAS_ENV = "PINFRA_SANDBOX_QUOTAS"
QUOTAS_MODES = ("on", "off")
DEFAULT_QUOTAS = "off"
# F: the emulators' asynchronous durations (MSK, EC2, MSK Connect delays) are divided by F and the
# quotas' refill rates multiplied by it (sandbox_ext/core.py, TIME_SCALE). Handed on through the
# environment like the network switch.
TIME_SCALE_ENV = "PINFRA_SANDBOX_TIME_SCALE"


def time_scale(value: str) -> float:
    """argparse type: a number above zero."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above zero, got {value!r}")
    return number


def loopback_host(value: str) -> str:
    """argparse type: a loopback IP literal ("localhost" means 127.0.0.1)."""
    host = "127.0.0.1" if value == "localhost" else value.strip("[]")
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"refusing to bind {value!r}: only loopback addresses (127.0.0.0/8, ::1) are allowed")


def non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value!r}")
    return number


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", type=loopback_host, default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=non_negative_int, default=0, help="port to bind; 0 picks a free one (default 0)")
    parser.add_argument(
        "--latency-ms",
        type=non_negative_int,
        default=None,
        help=f"sleep this long before every AWS request (default ${LATENCY_ENV} or 0)",
    )
    parser.add_argument(
        "--iam-managed-policies",
        action="store_true",
        help="load AWS managed IAM policies (arn:aws:iam::aws:policy/...); costs ~0.7 s on the first IAM call",
    )
    parser.add_argument(
        "--network",
        choices=NETWORK_MODES,
        default=None,
        help=f"whether the data path obeys the EC2 network (default ${NETWORK_ENV} or {DEFAULT_NETWORK})",
    )
    parser.add_argument(
        "--authz",
        choices=AUTHZ_MODES,
        default=None,
        help=f"whether the data path's Kafka clients are held to MSK IAM access control (default ${AUTHZ_ENV} or {DEFAULT_AUTHZ})",
    )
    parser.add_argument(
        "--quotas",
        choices=QUOTAS_MODES,
        default=None,
        help=f"whether calls over AWS's documented request quotas are throttled (default ${QUOTAS_ENV} or {DEFAULT_QUOTAS})",
    )
    parser.add_argument(
        "--time-scale",
        type=time_scale,
        default=None,
        metavar="F",
        help=f"AWS's time F times faster: asynchronous durations divided by F, quota refill rates times F (default ${TIME_SCALE_ENV} or 1)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request to stderr")
    args = parser.parse_args(argv)
    if args.network is None:
        raw = (os.environ.get(NETWORK_ENV) or DEFAULT_NETWORK).strip().lower()
        if raw not in NETWORK_MODES:
            parser.error(f"${NETWORK_ENV}: expected one of {', '.join(NETWORK_MODES)}, got {raw!r}")
        args.network = raw
    if args.authz is None:
        raw = (os.environ.get(AUTHZ_ENV) or DEFAULT_AUTHZ).strip().lower()
        if raw not in AUTHZ_MODES:
            parser.error(f"${AUTHZ_ENV}: expected one of {', '.join(AUTHZ_MODES)}, got {raw!r}")
        args.authz = raw
    if args.quotas is None:
        raw = (os.environ.get(QUOTAS_ENV) or DEFAULT_QUOTAS).strip().lower()
        if raw not in QUOTAS_MODES:
            parser.error(f"${QUOTAS_ENV}: expected one of {', '.join(QUOTAS_MODES)}, got {raw!r}")
        args.quotas = raw
    if args.time_scale is None:
        try:
            args.time_scale = time_scale(os.environ.get(TIME_SCALE_ENV) or "1")
        except argparse.ArgumentTypeError as err:
            parser.error(f"${TIME_SCALE_ENV}: {err}")
    if args.latency_ms is None:
        try:
            args.latency_ms = non_negative_int(os.environ.get(LATENCY_ENV) or "0")
        except argparse.ArgumentTypeError as err:
            parser.error(f"${LATENCY_ENV}: {err}")
    return args


def url_for(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def wait_healthy(url: str, timeout_s: float = 30.0) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with opener.open(f"{url}/_sandbox/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.iam_managed_policies:
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    os.environ[NETWORK_ENV] = args.network  # data_path's start-up (and reset) value
    os.environ[AUTHZ_ENV] = args.authz  # likewise
    os.environ[QUOTAS_ENV] = args.quotas  # quotas' start-up (and reset) value
    os.environ[TIME_SCALE_ENV] = repr(args.time_scale)  # core.TIME_SCALE's start-up (and reset) value

    from moto.server import MotoRequestHandler
    from werkzeug.serving import make_server

    from sandbox_ext import Sandbox, install_all

    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    app = Sandbox(latency_ms=args.latency_ms)
    install_all(app)

    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_port
    # moto builds some self-referencing URLs from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    url = url_for(args.host, port)

    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, name="sandbox-server", daemon=True)
    thread.start()
    try:
        wait_healthy(url)
    except OSError as err:
        print(f"sandbox: server did not become healthy: {err}", file=sys.stderr)
        server.shutdown()
        return 1

    print(url, flush=True)
    print(f"sandbox: serving {url} (latency {args.latency_ms} ms, network {args.network}, authz {args.authz}, quotas {args.quotas}, time scale {args.time_scale:g}, pid {os.getpid()})", file=sys.stderr, flush=True)

    while not stop.wait(timeout=1.0):
        if not thread.is_alive():
            print("sandbox: server thread died", file=sys.stderr)
            return 1

    print("sandbox: shutting down", file=sys.stderr, flush=True)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
