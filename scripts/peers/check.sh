#!/usr/bin/env bash
# The AWS CLI peer of `pinfra diff plans/pinterest.toml` (scripts/bench_peers.py): reads the
# pipeline's resources one `aws` call at a time and compares key settings of each with the values
# the plan gives them. Exit 0: all as expected; 1: mismatches (each on stderr); other: a failed call
# (a resource that is not there).
#
#     scripts/peers/check.sh ENDPOINT_URL PLUGIN_ZIP
#
# Credentials and region come from the environment. Each `aws` call is a new Python process, as in
# any script of this kind. When AWS_LOG names a file, each call appends a line to it.
set -euo pipefail

endpoint=$1
plugin_zip=$2
user_id=0a1b2c3d4e5f
role=$user_id-ec2-access-role
bucket=user-$user_id-bucket
failures=0

aws_text() { # SERVICE OPERATION ARGS...: one `aws` process, text output
    echo "$1 $2" >>"${AWS_LOG:-/dev/null}"
    aws --endpoint-url "$endpoint" --output text "$@"
}

expect() { # WHAT ACTUAL EXPECTED-FIELDS...: the fields, tab-separated as `aws --output text` prints them
    local IFS=$'\t'
    local want="${*:3}"
    if [[ $2 != "$want" ]]; then
        printf 'differs: %s\n  is:     %q\n  wanted: %q\n' "$1" "$2" "$want" >&2
        failures=$((failures + 1))
    fi
}

# MSK: the cluster the plan names (not the plan's), its IAM brokers, the plan's topics.
row=$(aws_text kafka list-clusters-v2 --cluster-name-filter pinterest-msk-cluster \
    --query "ClusterInfoList[?ClusterName=='pinterest-msk-cluster'].[ClusterArn, State, Provisioned.BrokerNodeGroupInfo.SecurityGroups[0]]")
read -r cluster_arn cluster_state broker_sg <<<"$row"
expect "cluster state" "$cluster_state" ACTIVE
brokers=$(aws_text kafka get-bootstrap-brokers --cluster-arn "$cluster_arn" --query BootstrapBrokerStringSaslIam)
expect "IAM brokers' port" "${brokers##*:}" 9098
topics=$(aws_text kafka list-topics --cluster-arn "$cluster_arn" --topic-name-filter "$user_id." \
    --query 'Topics[].[TopicName, PartitionCount, ReplicationFactor]' | sort)
expect "topics (name, partitions, replication)" "$topics" "$(printf '%s\t3\t3\n' "$user_id.geo" "$user_id.pin" "$user_id.user")"
configs=$(aws_text kafka describe-topic --cluster-arn "$cluster_arn" --topic-name "$user_id.pin" --query Configs | base64 -d)
expect "$user_id.pin retention" "$(grep '^retention.ms=' <<<"$configs" || true)" retention.ms=604800000

# IAM: the role, its trust, its inline policy; the instance profile.
row=$(aws_text iam get-role --role-name "$role" \
    --query '[Role.Arn, Role.Description, Role.AssumeRolePolicyDocument.Statement[].Principal.[Service, AWS][][]][]')
role_arn=${row%%$'\t'*}
expect "role" "$row" "arn:aws:iam::123456789012:role/$role" "Kafka client and MSK Connect role of a pinfra pipeline" \
    ec2.amazonaws.com kafkaconnect.amazonaws.com "$role_arn"
row=$(aws_text iam get-role-policy --role-name "$role" --policy-name pinfra-pipeline \
    --query '[PolicyDocument.Statement[0].Resource[0], PolicyDocument.Statement[3].Resource[0], PolicyDocument.Statement[].Sid][]')
expect "role policy" "$row" "$cluster_arn" "arn:aws:s3:::$bucket" ConnectToCluster PipelineTopics PipelineGroups SinkBucket SinkObjects
row=$(aws_text iam get-instance-profile --instance-profile-name "$role" --query 'InstanceProfile.[Arn, length(Roles), Roles[0].RoleName]')
profile_arn=${row%%$'\t'*}
expect "instance profile" "$row" "arn:aws:iam::123456789012:instance-profile/$role" 1 "$role"

# S3: the sink bucket.
expect "bucket region" "$(aws_text s3api get-bucket-location --bucket "$bucket" --query LocationConstraint)" None
expect "bucket public access block" "$(aws_text s3api get-public-access-block --bucket "$bucket" \
    --query 'PublicAccessBlockConfiguration.[BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets]')" True True True True
expect "bucket encryption" "$(aws_text s3api get-bucket-encryption --bucket "$bucket" \
    --query 'ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm')" AES256
versioning=$(aws_text s3api get-bucket-versioning --bucket "$bucket" --query Status)
expect "bucket versioning (never enabled, or suspended)" "${versioning/Suspended/None}" None
expect "bucket tags" "$(aws_text s3api get-bucket-tagging --bucket "$bucket" --query 'TagSet[].[Key, Value]' | sort)" \
    "$(printf '%s\t%s\n' pinfra:env dev pinfra:plan pinterest team data-engineering)"

# EC2: the client's security group, the brokers' rule for it, the S3 endpoint, the instance.
row=$(aws_text ec2 describe-security-groups --filters "Name=group-name,Values=$user_id-kafka-client" \
    --query 'SecurityGroups[].[GroupId, VpcId, Description, length(IpPermissions), IpPermissions[0].[IpProtocol, FromPort, ToPort, IpRanges[0].CidrIp], length(IpPermissionsEgress), IpPermissionsEgress[0].[IpProtocol, IpRanges[0].CidrIp]][][]')
IFS=$'\t' read -r sg_id vpc_id _ <<<"$row"
expect "client security group" "$row" "$sg_id" "$vpc_id" "Kafka client and REST proxy of a pinfra pipeline" 1 tcp 8082 8082 0.0.0.0/0 1 -1 0.0.0.0/0
expect "brokers' rule for the client" "$(aws_text ec2 describe-security-group-rules --filters "Name=group-id,Values=$broker_sg" \
    --query "SecurityGroupRules[?ReferencedGroupInfo.GroupId=='$sg_id' && !IsEgress].[IpProtocol, FromPort, ToPort]")" tcp 9098 9098
expect "S3 gateway endpoint" "$(aws_text ec2 describe-vpc-endpoints --filters "Name=tag:Name,Values=$user_id-connector-s3" \
    --query 'VpcEndpoints[].[VpcId, ServiceName, VpcEndpointType, State]')" "$vpc_id" com.amazonaws.us-east-1.s3 Gateway available
row=$(aws_text ec2 describe-instances --filters "Name=tag:Name,Values=$user_id-kafka-client" Name=instance-state-name,Values=pending,running \
    --query 'Reservations[].Instances[].[InstanceType, State.Name, length(SecurityGroups), SecurityGroups[0].GroupId, IamInstanceProfile.Arn, PublicDnsName]')
public_dns=${row##*$'\t'}
expect "Kafka client instance" "$row" t3.micro running 1 "$sg_id" "$profile_arn" "$public_dns"

# MSK Connect: the plugin, named after its zip's SHA-256, and the connector.
sha=$(sha256sum "$plugin_zip")
sha=${sha%% *}
row=$(aws_text kafkaconnect list-custom-plugins --name-prefix "$user_id-plugin" \
    --query 'customPlugins[].[name, customPluginState, description, customPluginArn]')
plugin_arn=${row##*$'\t'}
expect "plugin" "$row" "$user_id-plugin-${sha:0:12}" ACTIVE "pinfra: sha256 $sha" "$plugin_arn"
row=$(aws_text kafkaconnect list-connectors --connector-name-prefix "$user_id-connector" \
    --query "connectors[?connectorName=='$user_id-connector'].[connectorState, connectorArn]")
read -r connector_state connector_arn <<<"$row"
expect "connector state" "$connector_state" RUNNING
expect "connector" "$(aws_text kafkaconnect describe-connector --connector-arn "$connector_arn" \
    --query '[kafkaConnectVersion, capacity.provisionedCapacity.[mcuCount, workerCount], serviceExecutionRoleArn, plugins[0].customPlugin.customPluginArn, kafkaCluster.apacheKafkaCluster.bootstrapServers, connectorConfiguration.["topics.regex", "s3.bucket.name", "connector.class"]][]')" \
    2.7.1 1 1 "$role_arn" "$plugin_arn" "$brokers" "$user_id\\..*" "$bucket" io.confluent.connect.s3.S3SinkConnector

# API Gateway: the REST API, its proxy route to the instance, its stage's throttling.
row=$(aws_text apigateway get-rest-apis --query "items[?name=='$user_id-api'].[id, endpointConfiguration.types[0]]")
read -r api_id _ <<<"$row"
expect "REST API (one, regional)" "$row" "$api_id" REGIONAL
expect "proxy route" "$(aws_text apigateway get-resources --rest-api-id "$api_id" --embed methods \
    --query "items[?path=='/{proxy+}'].resourceMethods.ANY.[httpMethod, authorizationType, methodIntegration.type, methodIntegration.uri]")" \
    ANY NONE HTTP_PROXY "http://$public_dns:8082/{proxy}"
expect "stage dev" "$(aws_text apigateway get-stage --rest-api-id "$api_id" --stage-name dev \
    --query '[!!deploymentId, methodSettings."*/*".[throttlingRateLimit, throttlingBurstLimit]][]')" True 100.0 200

if ((failures > 0)); then
    echo "$failures settings differ from the plan's" >&2
    exit 1
fi
echo "No changes: every setting checked is the plan's."
