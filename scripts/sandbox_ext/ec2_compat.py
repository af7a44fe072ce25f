"""EC2 instances as real EC2 runs them, where moto 5.2.5 differs (pinfra's Kafka client instance).

1. RunInstances honours ``ClientToken``: the same token (same account and region) answers the
   original reservation and instances (their current state) instead of launching again, until
   ``POST /moto-api/reset`` (EC2 keeps a token at least 24 hours after the instance terminated).
   The same token with other parameters: 400 ``IdempotentParameterMismatch``. A launch without a
   token shows no ``clientToken`` (moto: ``ABCDE``). DescribeInstances accepts the
   ``client-token`` filter (moto: HTTP 500).
2. Instance states: StartInstances, StopInstances, TerminateInstances check the state as EC2 does
   (400 ``IncorrectInstanceState``; already there: success, no change) and answer the real
   current state. ModifyInstanceAttribute ``InstanceType``/``UserData``/``EbsOptimized`` needs a
   ``stopped`` instance (moto changes a running one). With ``state_delay_ms`` > 0, ``pending``,
   ``stopping`` and ``shutting-down`` last that long (moto: the end state at once).
3. ``IamInstanceProfile`` naming an unknown profile: 400 ``InvalidParameterValue`` "Value (x) for
   parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name", as EC2
   (moto: IAM's 404 ``NoSuchEntity``). With ``profile_propagation_ms`` > 0 a profile created
   less than that long ago is refused the same way (IAM's eventual consistency).
4. RunInstances checks ``ImageId`` (``InvalidAMIID.NotFound``/``.Malformed``), ``KeyName``
   (``InvalidKeyPair.NotFound``) and ``InstanceType`` (``InvalidParameterValue`` "Invalid value
   'x' for InstanceType.") as EC2 does (moto's validations, off by default, turned on).
5. An instance launched without a subnet gets its private IP from the default subnet it lands
   in (moto: a random 10.x address outside the subnet), and the network interface's
   ``association.publicDnsName`` is EC2's ``ec2-<ip>.compute-1.amazonaws.com`` /
   ``ec2-<ip>.<region>.compute.amazonaws.com`` (moto: ``ip-<ip>.ec2.internal``); an interface
   without a public address has no ``association`` (moto: an empty one).
6. DescribeVolumes as EC2 answers it: an attachment carries ``deleteOnTermination`` (the
   instance's block device mapping's, false for AttachVolume; moto: absent), a gp3 volume created
   without ``Throughput`` reports EC2's default 125 MiB/s and ``multiAttachEnabled`` is false
   unless set (moto: both absent). A key pair created without ``KeyType`` is ``rsa`` (EC2's
   default; moto: no ``keyType`` in DescribeKeyPairs).
7. An instance's ``IamInstanceProfile`` is ``{Arn, Id}`` of the profile it is associated with,
   ``Id`` being the profile's ``InstanceProfileId`` (botocore ``ec2`` service-2.json, shape
   ``IamInstanceProfile``: "Id: The ID of the instance profile"; moto: the association's id),
   and it follows ReplaceIamInstanceProfileAssociation (moto: the old profile's). A profile
   deleted and made again under the same name has the same ARN and another id: the instance
   stays associated with the deleted one.

    GET  /_sandbox/ec2/settings   {"state_delay_ms", "profile_propagation_ms", "rules_per_security_group"}
    POST /_sandbox/ec2/settings   set any subset (JSON object); answers the new settings;
                                  400 on an unknown key or a bad value

Defaults from ``PINFRA_SANDBOX_EC2_STATE_DELAY_MS`` and ``PINFRA_SANDBOX_EC2_PROFILE_PROPAGATION_MS``
(both 0); reset restores them. ``rules_per_security_group`` (``PINFRA_SANDBOX_EC2_RULES_PER_SECURITY_GROUP``,
default 60, AWS's) is the account's quota of inbound (and of outbound) rules per VPC security
group: raised, the sandbox stands for an account that asked for more in Service Quotas (a fleet
of more than 60 environments adds one rule each to the brokers' group); beyond it,
AuthorizeSecurityGroupIngress/Egress fail with ``RulesPerSecurityGroupLimitExceeded`` as moto
answers. A delay is read when the transition starts, divided by the time
scale (``core.TIME_SCALE``). Transitions are applied when an EC2 request arrives, before it is
answered.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from .core import AwsRequest, Sandbox, SettingsStore, json_response

GP3_DEFAULT_THROUGHPUT = 125  # MiB/s
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
SETTINGS_ENV = {
    "state_delay_ms": "PINFRA_SANDBOX_EC2_STATE_DELAY_MS",
    "profile_propagation_ms": "PINFRA_SANDBOX_EC2_PROFILE_PROPAGATION_MS",
    "rules_per_security_group": "PINFRA_SANDBOX_EC2_RULES_PER_SECURITY_GROUP",
}
# Settings that are counts, not delays, with their defaults: a VPC security group's inbound (or
# outbound) rules, 60 by default, adjustable (Amazon VPC user guide, "Amazon VPC quotas",
# security groups: "Inbound or outbound rules per security group", 60, adjustable; moto: 60).
COUNT_DEFAULTS = {"rules_per_security_group": 60}
# Parameters that are not "the request's parameters" for IdempotentParameterMismatch.
NOT_COMPARED = {"Action", "Version", "ClientToken"}
MISMATCH = "Arguments on this idempotent request are inconsistent with arguments used in previous request(s)."


def public_dns_name(ip: str, region: str) -> str:
    dashed = ip.replace(".", "-")
    if region == "us-east-1":
        return f"ec2-{dashed}.compute-1.amazonaws.com"
    return f"ec2-{dashed}.{region}.compute.amazonaws.com"


def validate_setting(key: str, value: Any) -> int:
    if key not in SETTINGS_ENV:
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(SETTINGS_ENV)}")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if key in COUNT_DEFAULTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key}: expected a positive integer, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key}: expected a non-negative integer (milliseconds), got {value!r}")
    return value


def settings_from_env() -> dict[str, int]:
    settings = {}
    for key, env in SETTINGS_ENV.items():
        raw = os.environ.get(env)
        try:
            settings[key] = COUNT_DEFAULTS.get(key, 0) if raw in (None, "") else validate_setting(key, raw)
        except ValueError as err:
            raise SystemExit(f"sandbox: ${env}: {err}") from None
    return settings


@dataclass
class Transition:
    due: float  # time.monotonic()
    instance: Any
    target: str


class Ec2State:
    """Settings, client tokens and state transitions under way."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.settings = SettingsStore(settings_from_env, validate_setting)
        # (account, region, token) -> (parameters, reservation id)
        self.tokens: dict[tuple[str, str, str], tuple[tuple[Any, ...], str]] = {}
        self.transitions: list[Transition] = []
        self.replay = threading.local()

    def reset(self) -> None:
        with self.lock:
            self.settings.reset()
            self.tokens.clear()
            self.transitions.clear()

    def begin(self, instance: Any, transitional: str, target: str) -> None:
        """The instance (already in ``target`` in moto) shows ``transitional`` for a while."""
        delay = self.settings.seconds("state_delay_ms")
        with self.lock:
            self.transitions = [t for t in self.transitions if t.instance is not instance]
            if delay > 0:
                set_state(instance, transitional)
                self.transitions.append(Transition(time.monotonic() + delay, instance, target))

    def settle(self) -> None:
        now = time.monotonic()
        with self.lock:
            due = [t for t in self.transitions if t.due <= now]
            if not due:
                return
            self.transitions = [t for t in self.transitions if t.due > now]
            for t in due:
                set_state(t.instance, t.target)


def set_state(instance: Any, name: str) -> None:
    instance._state.name = name
    instance._state.code = STATE_CODES[name]


def state_of(instance: Any) -> dict[str, Any]:
    return {"Code": instance.state_code, "Name": instance.state}


def incorrect_state(message: str) -> Exception:
    from moto.ec2.exceptions import EC2ClientError

    return EC2ClientError("IncorrectInstanceState", message)


def install(sandbox: Sandbox) -> None:
    from moto import settings as moto_settings
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.ec2 import utils as ec2_utils
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import (
        elastic_block_store,
        elastic_network_interfaces,
        instances,
        key_pairs,
    )
    from moto.ec2.responses import instances as instance_responses
    from moto.ec2.responses._base_response import EC2BaseResponse

    state = Ec2State()
    patch_rule_quota(state)
    Response_ = instance_responses.InstanceResponse

    # ------------------------------------------------------------ 1. ClientToken
    ec2_utils.filter_dict_attribute_mapping["client-token"] = "client_token"

    def run_state(value: Any) -> Any:
        # moto answers every RunInstances with "pending"; a replay shows the current state.
        return value if getattr(state.replay, "active", False) else {"Code": 0, "Name": "pending"}

    EC2BaseResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER["RunInstances.Reservation.Instances.Instance.State"] = run_state

    original_run = Response_.run_instances

    def launch(self: Any) -> Any:
        """moto's RunInstances, with EC2's codes and wording for a bad KeyName/InstanceType."""
        try:
            return original_run(self)
        except EC2ClientError as err:
            if err.code == "InvalidKeyPair.NotFound":
                raise EC2ClientError(err.code, f"The key pair '{self._get_param('KeyName')}' does not exist") from None
            if err.code == "InvalidInstanceType.NotFound":
                raise EC2ClientError("InvalidParameterValue", f"Invalid value '{self._get_param('InstanceType')}' for InstanceType.") from None
            raise

    def run_instances(self: Any) -> Any:
        state.replay.active = False
        token = self._get_param("ClientToken") or None
        if token is None:
            result = launch(self)
            for instance in result.result.instances:
                instance.client_token = None
            return after_launch(result)
        key = (self.current_account, self.region, token)
        parameters = tuple(sorted((k, tuple(v)) for k, v in self.querystring.items() if k not in NOT_COMPARED))
        with state.lock:
            known = state.tokens.get(key)
            if known is not None:
                if known[0] != parameters:
                    raise EC2ClientError("IdempotentParameterMismatch", MISMATCH)
                reservation = self.ec2_backend.reservations.get(known[1])
                if reservation is not None:
                    self.error_on_dryrun()
                    state.replay.active = True
                    return ActionResult(reservation)
            result = launch(self)
            state.tokens[key] = (parameters, result.result.id)
        return after_launch(result)

    def after_launch(result: Any) -> Any:
        for instance in result.result.instances:
            state.begin(instance, "pending", "running")
        return result

    Response_.run_instances = run_instances  # type: ignore[method-assign]

    # ------------------------------------------------------------ 2. states
    def start_instances(self: Any) -> Any:
        ids = self._get_param("InstanceIds", [])
        self.error_on_dryrun()
        found = self.ec2_backend.get_multi_instances_by_id(ids)
        for instance in found:
            if instance.state in ("stopping", "shutting-down", "terminated"):
                raise incorrect_state(f"The instance '{instance.id}' is not in a state from which it can be started.")
        answers = []
        for instance in found:
            previous = state_of(instance)
            if instance.state == "stopped":
                instance.start()
                state.begin(instance, "pending", "running")
                current = {"Code": 0, "Name": "pending"}
            else:
                current = previous
            answers.append({"InstanceId": instance.id, "CurrentState": current, "PreviousState": previous})
        return ActionResult({"StartingInstances": answers})

    def stop_instances(self: Any) -> Any:
        ids = self._get_param("InstanceIds", [])
        self.error_on_dryrun()
        found = self.ec2_backend.get_multi_instances_by_id(ids)
        for instance in found:
            if instance.state in ("pending", "shutting-down", "terminated"):
                raise incorrect_state(f"This instance '{instance.id}' is not in a state from which it can be stopped.")
        answers = []
        for instance in found:
            previous = state_of(instance)
            if instance.state == "running":
                self.ec2_backend.stop_instances([instance.id])  # checks DisableApiStop
                state.begin(instance, "stopping", "stopped")
                current = {"Code": 64, "Name": "stopping"}
            else:
                current = previous
            answers.append({"InstanceId": instance.id, "CurrentState": current, "PreviousState": previous})
        return ActionResult({"StoppingInstances": answers})

    def terminate_instances(self: Any) -> Any:
        ids = self._get_param("InstanceIds", [])
        self.error_on_dryrun()
        found = self.ec2_backend.get_multi_instances_by_id(ids)
        previous = {instance.id: state_of(instance) for instance in found}
        live = [i for i in found if i.state != "terminated"]
        if live:
            # As moto's handler: DisableApiTermination is checked, autoscaling and ELB hear of it.
            from moto.autoscaling import autoscaling_backends
            from moto.elbv2 import elbv2_backends

            live_ids = [i.id for i in live]
            self.ec2_backend.terminate_instances(live_ids)
            autoscaling_backends[self.current_account][self.region].notify_terminate_instances(live_ids)
            elbv2_backends[self.current_account][self.region].notify_terminate_instances(live_ids)
            for instance in live:
                state.begin(instance, "shutting-down", "terminated")
        answers = []
        for instance in found:
            current = {"Code": 48, "Name": "terminated"} if instance not in live else {"Code": 32, "Name": "shutting-down"}
            answers.append({"InstanceId": instance.id, "CurrentState": current, "PreviousState": previous[instance.id]})
        return ActionResult({"TerminatingInstances": answers})

    Response_.start_instances = start_instances  # type: ignore[method-assign]
    Response_.stop_instances = stop_instances  # type: ignore[method-assign]
    Response_.terminate_instances = terminate_instances  # type: ignore[method-assign]

    original_modify = Response_.modify_instance_attribute
    needs_stopped = {"instanceType": "InstanceType", "userData": "UserData", "ebsOptimized": "EbsOptimized"}

    def modify_instance_attribute(self: Any) -> Any:
        attribute = self._get_param("Attribute")
        touched = attribute in needs_stopped or any(
            k.split(".")[0] in needs_stopped.values() for k in self.querystring
        )
        if touched:
            instance = self.ec2_backend.get_instance(self._get_param("InstanceId"))
            if instance.state != "stopped":
                raise incorrect_state(f"The instance '{instance.id}' is not in the 'stopped' state.")
        return original_modify(self)

    Response_.modify_instance_attribute = modify_instance_attribute  # type: ignore[method-assign]

    # ------------------------------------------------------------ 3. instance profiles
    original_profiles = instance_responses.filter_iam_instance_profiles

    def filter_iam_instance_profiles(account_id: str, partition: str, iam_instance_profile_arn: str | None, iam_instance_profile_name: str | None) -> Any:
        from moto.iam.exceptions import NotFoundException

        parameter, value, kind = (
            ("iamInstanceProfile.arn", iam_instance_profile_arn, "ARN")
            if iam_instance_profile_arn
            else ("iamInstanceProfile.name", iam_instance_profile_name, "name")
        )
        invalid = EC2ClientError("InvalidParameterValue", f"Value ({value}) for parameter {parameter} is invalid. Invalid IAM Instance Profile {kind}")
        try:
            profile = original_profiles(account_id, partition, iam_instance_profile_arn, iam_instance_profile_name)
        except NotFoundException:
            raise invalid from None
        propagation = state.settings.seconds("profile_propagation_ms")
        if profile is not None and propagation > 0 and utcnow() - profile.create_date < timedelta(seconds=propagation):
            raise invalid
        return profile

    instance_responses.filter_iam_instance_profiles = filter_iam_instance_profiles

    # ------------------------------------------------------------ 7. profile associations
    from moto.ec2.models import iam_instance_profile as profile_models

    def show_profile(association: Any) -> None:
        profile = association.iam_instance_profile
        association.ec2_backend.modify_instance_attribute(association.instance_id, "iam_instance_profile", {"Arn": profile.arn, "Id": profile.id})

    # Every association moto makes (RunInstances, AssociateIamInstanceProfile, CloudFormation) is
    # made by associate_iam_instance_profile; moto's own constructor has just shown the
    # association's id, which show_profile replaces.
    original_associate = profile_models.IamInstanceProfileAssociationBackend.associate_iam_instance_profile

    def associate(self: Any, *args: Any, **kwargs: Any) -> Any:
        association = original_associate(self, *args, **kwargs)
        show_profile(association)
        return association

    profile_models.IamInstanceProfileAssociationBackend.associate_iam_instance_profile = associate  # type: ignore[method-assign]
    original_replace = profile_models.IamInstanceProfileAssociationBackend.replace_iam_instance_profile_association

    def replace_association(self: Any, *args: Any, **kwargs: Any) -> Any:
        association = original_replace(self, *args, **kwargs)
        show_profile(association)
        return association

    profile_models.IamInstanceProfileAssociationBackend.replace_iam_instance_profile_association = replace_association  # type: ignore[method-assign]

    # ------------------------------------------------------------ 4. validation
    # RunInstances checks ImageId, KeyName and InstanceType as EC2 does (moto: off by default);
    # launch() above gives EC2's codes and wording.
    moto_settings.ENABLE_AMI_VALIDATION = True
    moto_settings.ENABLE_KEYPAIR_VALIDATION = True
    moto_settings.EC2_ENABLE_INSTANCE_TYPE_VALIDATION = True

    # ------------------------------------------------------------ 5. addresses and names
    original_prep_nics = instances.Instance.prep_nics

    def prep_nics(self: Any, nic_spec: list[dict[str, Any]], private_ip: str | None = None, *args: Any, **kwargs: Any) -> None:
        if not nic_spec and private_ip is None and not self._subnet_id:
            subnet = self.ec2_backend.get_default_subnets().get(self._placement.zone)
            if subnet is not None:
                private_ip = subnet.get_available_subnet_ip(instance=self)
                self._private_ips.add(private_ip)
        original_prep_nics(self, nic_spec, private_ip, *args, **kwargs)

    instances.Instance.prep_nics = prep_nics  # type: ignore[method-assign]

    original_association: Any = elastic_network_interfaces.NetworkInterface.association  # a property

    def association(self: Any) -> dict[str, Any] | None:
        answer = original_association.fget(self)
        if answer.get("publicIp"):
            answer["publicDnsName"] = public_dns_name(answer["publicIp"], self.ec2_backend.region_name)
        # No public address: no association at all (moto: an empty one, which SDKs read as present).
        return answer or None

    elastic_network_interfaces.NetworkInterface.association = property(association)  # type: ignore[assignment]

    # ------------------------------------------------------------ 6. volumes and key pairs
    ebs_backend = elastic_block_store.EBSBackend
    original_create_volume = ebs_backend.create_volume
    original_attach_volume = ebs_backend.attach_volume

    def create_volume(self: Any, *args: Any, **kwargs: Any) -> Any:
        volume = original_create_volume(self, *args, **kwargs)
        if volume.volume_type == "gp3" and volume.throughput is None:
            volume.throughput = GP3_DEFAULT_THROUGHPUT
        if volume.multi_attach_enabled is None:
            volume.multi_attach_enabled = False
        return volume

    def attach_volume(self: Any, volume_id: str, instance_id: str, device_path: str, delete_on_termination: bool = False) -> Any:
        attachment: Any = original_attach_volume(self, volume_id, instance_id, device_path, delete_on_termination)
        if attachment is not None:
            attachment.delete_on_termination = bool(delete_on_termination)
        return attachment

    ebs_backend.create_volume = create_volume  # type: ignore[method-assign]
    ebs_backend.attach_volume = attach_volume  # type: ignore[method-assign]

    original_create_key_pair = key_pairs.KeyPairBackend.create_key_pair

    def create_key_pair(self: Any, name: str, key_type: str | None, tags: dict[str, str]) -> Any:
        return original_create_key_pair(self, name, key_type or "rsa", tags)

    key_pairs.KeyPairBackend.create_key_pair = create_key_pair  # type: ignore[method-assign]

    # ------------------------------------------------------------ routes and hooks
    def get_settings(_request: Request) -> Response:
        return json_response(state.settings.snapshot())

    def post_settings(request: Request) -> Response:
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            return json_response(state.settings.update(changes))
        except ValueError as err:
            return json_response({"error": str(err)}, 400)

    def settle(request: AwsRequest) -> None:
        if request.call.service == "ec2":
            state.settle()
        return None

    sandbox.add_control_route("GET", "/_sandbox/ec2/settings", get_settings)
    sandbox.add_control_route("POST", "/_sandbox/ec2/settings", post_settings)
    sandbox.add_request_hook("ec2_compat", settle)
    sandbox.add_reset_hook(state.reset)


def patch_rule_quota(state: Ec2State) -> None:
    """moto's rule count check with the quota of ``rules_per_security_group`` (moto: 60 fixed)."""
    from moto.ec2.exceptions import RulesPerSecurityGroupLimitExceededError
    from moto.ec2.models.security_groups import SecurityGroupBackend

    def verify(
        _backend: Any, group: Any, current_rule_nb: int, ip_ranges: list[str], source_groups: list[dict[str, str]] | None = None, egress: bool = False
    ) -> None:
        quota = int(state.settings["rules_per_security_group"]) if group.vpc_id else 100
        if current_rule_nb + len(ip_ranges or []) + len(source_groups or []) > quota:
            raise RulesPerSecurityGroupLimitExceededError

    SecurityGroupBackend._verify_group_will_respect_rule_count_limit = verify  # type: ignore[method-assign,assignment]
