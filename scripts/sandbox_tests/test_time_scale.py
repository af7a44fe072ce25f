"""The time scale (core.TIME_SCALE): the emulators' asynchronous durations, every
``SettingsStore.seconds``, are AWS's divided by it; the settings answer them as set; reset
restores the start-up value ($PINFRA_SANDBOX_TIME_SCALE, default 1)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sandbox_ext.core import TIME_SCALE, SettingsStore, parse_time_scale
from support import Sandbox, describe_instance, eventually, http, image


@pytest.fixture(autouse=True)
def unscaled() -> Iterator[None]:
    yield
    TIME_SCALE.reset()


def test_a_store_waits_its_delays_divided_by_the_scale() -> None:
    store = SettingsStore(lambda: {"delay_ms": 3000}, lambda _k, v: v)
    assert store.seconds("delay_ms") == 3.0
    TIME_SCALE.set(20)
    assert store.seconds("delay_ms") == pytest.approx(0.15)
    assert store["delay_ms"] == 3000, "the setting itself is AWS's time"


def test_only_a_finite_number_above_zero_is_a_scale() -> None:
    assert parse_time_scale("2.5") == 2.5
    assert parse_time_scale(10) == 10.0
    for bad in (0, -1, "x", "", True, float("inf"), float("nan"), None):
        with pytest.raises(ValueError):
            parse_time_scale(bad)


def test_an_ec2_state_delay_shrinks_by_the_scale_and_reset_restores_it(sandbox: Sandbox) -> None:
    status, settings = sandbox.post("/_sandbox/ec2/settings", {"state_delay_ms": 4000})
    assert status == 200 and settings["state_delay_ms"] == 4000
    TIME_SCALE.set(4)  # 4 s of AWS's time: 1 s here
    ec2 = sandbox.client("ec2")
    started = time.monotonic()
    instance = ec2.run_instances(ImageId=image(sandbox), InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    assert describe_instance(ec2, instance)["State"]["Name"] == "pending"
    assert eventually(lambda: describe_instance(ec2, instance)["State"]["Name"], "running", timeout_s=3.0) == "running"
    assert 0.9 < time.monotonic() - started < 3.0
    assert sandbox.get("/_sandbox/ec2/settings")["state_delay_ms"] == 4000, "answered as set, not scaled"

    http("POST", f"{sandbox.url}/moto-api/reset")
    assert TIME_SCALE.get() == 1.0
