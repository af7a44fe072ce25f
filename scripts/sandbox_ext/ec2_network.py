"""EC2 networking as AWS sets it up, where moto 5.2.5 differs (what ``network``'s path checks
and pinfra's network reads depend on). Model patches only (moto's backend operations and read
properties; no constructor is rewritten): no request hook, no control route.

1. The default VPC has an internet gateway attached and its main route table routes
   ``0.0.0.0/0`` to it (AWS VPC guide, "Default VPCs": "Default VPC components"); moto makes the
   VPC, its default subnets and a main table with the local route only.
2. A VPC's ``default`` security group admits all traffic from itself (AWS VPC guide, "Default
   security groups for your VPCs": inbound, source the group itself, all traffic); moto's has no
   inbound rule.
3. A network ACL made with CreateNetworkAcl has the final ``*`` deny entries, numbered 32767,
   inbound and outbound (AWS VPC guide, "Custom network ACLs": "Each custom network ACL ...
   denies all traffic until you add rules"; DescribeNetworkAcls lists ``*`` as 32767, as moto
   does for the default ACL); moto's has no entries.
4. DescribeRouteTables shows a route whose target is gone as ``"State": "blackhole"`` (a
   deleted NAT gateway or endpoint, an internet gateway detached from the VPC, a deleted
   interface, a terminated instance; AWS VPC guide, "Route tables": route state); moto: always
   ``active``. ``network.route_state`` decides.
5. Gateway VPC endpoints (CreateVpcEndpoint; the type defaults to ``Gateway`` as in EC2's API
   reference, moto leaves it empty): a route table that already routes the service's prefix
   list (another S3 gateway endpoint serves it) is refused with 400 ``RouteAlreadyExists``
   "route table rtb-… already has a route with destination-prefix-list-id pl-…", as EC2 answers
   (the code and wording as EC2 returned them in eksctl-io/eksctl issues #2473 and #4377, through
   CloudFormation: "Service: AmazonEC2; Status Code: 400; Error Code: RouteAlreadyExists";
   botocore's ec2 model lists no error shapes; moto's ``RouteAlreadyExistsError`` has another
   wording, so ``EC2ClientError`` is raised with EC2's). An unknown route table is refused
   before anything is made (moto stored the endpoint, then failed). ModifyVpcEndpoint
   ``AddRouteTableIds`` is checked the same way and adds the prefix-list route
   (``pl-…`` -> ``vpce-…``) to the new tables, ``RemoveRouteTableIds`` removes it (moto changed
   only the endpoint's list). CreateVpcEndpoint's routes are moto's own (checked by the tests).
6. DescribePrefixLists answers each list's ``Cidrs`` (moto: none).
7. An instance launched without block device mappings has its root volume at the AMI's root
   device name, which DescribeInstances reports as ``RootDeviceName`` (e.g. ``/dev/xvda`` for
   Amazon Linux 2023); moto attached it at ``/dev/sda1``.
8. An instance's ``SecurityGroups`` are its primary interface's groups: launched with
   ``NetworkInterfaces=[{"Groups": [...]}]`` or with no group at all (the VPC's default group),
   moto answered ``[]``. ModifyInstanceAttribute ``GroupId`` changes the interface's groups too
   (moto changed only the instance's list, so DescribeNetworkInterfaces kept the old ones), and
   they keep their order (moto: a set).
"""

from __future__ import annotations

import functools
from typing import Any

from .core import Sandbox
from .network import route_state


def install(_sandbox: Sandbox) -> None:
    from moto.ec2.exceptions import EC2ClientError, InvalidRouteTableIdError
    from moto.ec2.models import elastic_network_interfaces, instances, managed_prefixes, network_acls, route_tables, security_groups, vpcs

    # ------------------------------------------------------------ 1. the default VPC's gateway
    original_default_vpc = vpcs.VPCBackend.create_default_vpc

    @functools.wraps(original_default_vpc)
    def create_default_vpc(self: Any) -> Any:
        vpc = original_default_vpc(self)
        gateway = self.create_internet_gateway()
        self.attach_internet_gateway(gateway.id, vpc.id)
        main = next(t for t in self.route_tables.values() if t.vpc_id == vpc.id and t.main_association_id is not None)
        self.create_route(main.id, "0.0.0.0/0", gateway_id=gateway.id)
        return vpc

    vpcs.VPCBackend.create_default_vpc = create_default_vpc  # type: ignore[method-assign]

    # ------------------------------------------------------------ 2. the default group's rule
    original_create_group = security_groups.SecurityGroupBackend.create_security_group

    @functools.wraps(original_create_group)
    def create_security_group(self: Any, *args: Any, **kwargs: Any) -> Any:
        group = original_create_group(self, *args, **kwargs)
        if group.is_default and group.vpc_id and not group.ingress_rules:
            owner = self.account_id
            group.ingress_rules.append(
                security_groups.SecurityGroupRule(
                    self,
                    "-1",
                    group.id,
                    None,
                    None,
                    None,
                    source_group={"GroupId": group.id, "OwnerId": owner, "UserId": owner},
                    is_egress=False,
                )
            )
        return group

    security_groups.SecurityGroupBackend.create_security_group = create_security_group  # type: ignore[method-assign]

    # ------------------------------------------------------------ 3. a custom ACL's "*" entries
    original_create_acl = network_acls.NetworkAclBackend.create_network_acl

    @functools.wraps(original_create_acl)
    def create_network_acl(self: Any, vpc_id: str, tags: Any = None, default: bool = False) -> Any:
        acl = original_create_acl(self, vpc_id, tags, default)
        if not default:
            for egress in (True, False):
                self.create_network_acl_entry(acl.id, 32767, "-1", "deny", egress, "0.0.0.0/0", None, None, None, None, None)
        return acl

    network_acls.NetworkAclBackend.create_network_acl = create_network_acl  # type: ignore[method-assign]

    # ------------------------------------------------------------ 4. blackhole routes
    route_tables.Route.state = property(lambda self: route_state(self.route_table.ec2_backend, self))  # type: ignore[assignment,method-assign]

    # ------------------------------------------------------------ 5. gateway endpoints
    def service_prefix_list(backend: Any, service_name: str) -> str | None:
        return next((p.id for p in backend.managed_prefix_lists.values() if p.prefix_list_name == service_name), None)

    def check_route_tables(backend: Any, table_ids: list[str], prefix_list: str | None) -> None:
        for table_id in table_ids:
            table = backend.route_tables.get(table_id)
            if table is None:
                raise InvalidRouteTableIdError(table_id)
            if prefix_list and any(r.destination_prefix_list_id == prefix_list for r in table._routes.values()):
                raise EC2ClientError("RouteAlreadyExists", f"route table {table_id} already has a route with destination-prefix-list-id {prefix_list}")

    def is_gateway(endpoint_type: str | None) -> bool:
        return not endpoint_type or endpoint_type.lower() == "gateway"

    original_create_endpoint = vpcs.VPCBackend.create_vpc_endpoint

    @functools.wraps(original_create_endpoint)
    def create_vpc_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint_type = kwargs.get("endpoint_type")
        if is_gateway(endpoint_type):
            kwargs["endpoint_type"] = endpoint_type or "Gateway"
            table_ids = list(dict.fromkeys(kwargs.get("route_table_ids") or []))
            kwargs["route_table_ids"] = table_ids
            self.get_vpc(kwargs.get("vpc_id"))
            check_route_tables(self, table_ids, service_prefix_list(self, kwargs.get("service_name") or ""))
        return original_create_endpoint(self, *args, **kwargs)

    vpcs.VPCBackend.create_vpc_endpoint = create_vpc_endpoint  # type: ignore[method-assign]

    original_modify_endpoint = vpcs.VPCBackend.modify_vpc_endpoint

    @functools.wraps(original_modify_endpoint)
    def modify_vpc_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = self.describe_vpc_endpoints(vpc_end_point_ids=[kwargs.get("vpc_id")])[0]
        prefix_list = endpoint.destination_prefix_list_id if is_gateway(endpoint.vpc_endpoint_type) else None
        added = [t for t in dict.fromkeys(kwargs.get("add_route_tables") or []) if t not in endpoint.route_table_ids]
        removed = [t for t in dict.fromkeys(kwargs.get("remove_route_tables") or []) if t in endpoint.route_table_ids]
        if prefix_list:
            check_route_tables(self, added, prefix_list)
        answer = original_modify_endpoint(self, *args, **kwargs)
        if prefix_list:
            for table_id in added:
                self.create_route(table_id, None, gateway_id=endpoint.id, destination_prefix_list_id=prefix_list)
            for table_id in removed:
                table = self.route_tables.get(table_id)
                if table is not None:
                    table._routes.pop(f"{table_id}~{prefix_list}", None)
        return answer

    vpcs.VPCBackend.modify_vpc_endpoint = modify_vpc_endpoint  # type: ignore[method-assign]

    # ------------------------------------------------------------ 6. DescribePrefixLists' Cidrs
    def cidrs(self: Any) -> list[str]:
        if not self.entries:
            return []
        latest = self.entries.get(self.version) or list(self.entries.values())[-1]
        return [e["Cidr"] for e in latest or [] if e.get("Cidr")]

    managed_prefixes.ManagedPrefixList.cidrs = property(cidrs)  # type: ignore[attr-defined]

    # ------------------------------------------------------------ 7. the root device
    def setup_defaults(self: Any) -> None:
        volume = self.ec2_backend.create_volume(size=8, zone_name=self._placement.zone)
        self.ec2_backend.attach_volume(volume.id, self.id, self.root_device_name or "/dev/sda1", True)

    instances.Instance.setup_defaults = setup_defaults  # type: ignore[method-assign]

    # ------------------------------------------------------------ 8. an instance's groups
    # Set once moto's backend has launched the instances (every EC2 instance moto makes, through
    # RunInstances, CloudFormation, fleets or Auto Scaling, is made by run_instances).
    original_run_instances = instances.InstanceBackend.run_instances

    @functools.wraps(original_run_instances)
    def run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = original_run_instances(self, *args, **kwargs)
        for instance in reservation.instances:
            nic = instance.nics.get(0) if instance.nics else None
            if nic is not None and not instance.security_groups:
                instance.security_groups = list(nic._group_set)
        return reservation

    instances.InstanceBackend.run_instances = run_instances  # type: ignore[method-assign]

    original_modify_groups = instances.InstanceBackend.modify_instance_security_groups

    @functools.wraps(original_modify_groups)
    def modify_instance_security_groups(self: Any, instance_id: str, new_group_id_list: list[str]) -> Any:
        instance = original_modify_groups(self, instance_id, new_group_id_list)
        nic = instance.nics.get(0) if instance.nics else None
        if nic is not None:
            nic._group_set = list(instance.security_groups)
        return instance

    instances.InstanceBackend.modify_instance_security_groups = modify_instance_security_groups  # type: ignore[method-assign]

    def group_set(self: Any) -> list[Any]:
        """The interface's groups in their order (moto: a set, so in any order, once the instance
        has groups of its own)."""
        groups = list(self._group_set)
        if self.instance is not None:
            groups += [g for g in self.instance.security_groups if g not in groups]
        return groups

    elastic_network_interfaces.NetworkInterface.group_set = property(group_set)  # type: ignore[assignment,method-assign]
