//! The identifier kinds maskgate knows: one [`Kind`] per category a user can switch on or off.
//!
//! Each kind names the literal anchors that must occur in or next to an identifier
//! (`i-`, `arn:`, `.amazonaws.com`, `account` …) and a matcher that, given one anchor hit,
//! validates the precise shape around it. The engine finds all anchors in one pass, so a kind
//! costs nothing where its anchors do not occur. Order matters only to break ties between two
//! kinds that claim exactly the same span: the earlier kind wins.
//!
//! This file is the table of kinds and what their matchers share (the hit, label tests); the
//! matchers live by family: `ids`, `arns_hosts`, `buckets`, `accounts`, `secrets`, `addresses`,
//! and `labels` (the value a label names, whatever its shape, for the kinds that trust one).

mod accounts;
mod addresses;
mod arns_hosts;
mod buckets;
mod ids;
mod labels;
pub mod names;
mod resources;
mod secrets;

use std::cell::OnceCell;
use std::ops::Range;

use accounts::*;
use addresses::*;
use arns_hosts::*;
use buckets::*;
use ids::*;
use labels::*;
use names::*;
use resources::*;
use secrets::*;

use super::scan::{
    boundary_after, boundary_before, cidr_suffix, is_base64, is_host_char, is_label_gap,
    is_lower_hex, is_private_ipv4, is_region, is_upper_alnum, parse_arn, parse_aws_host,
    parse_ipv4, parse_uuid, run_len, run_len_within, run_start, run_start_within, skip_gap, Arn,
    AwsHost, HostClass,
};

/// Ends a JSON key in a request's walk text.
const KEY_END: u8 = super::walk_text::KEY_END as u8;

/// Finds the spans an anchor hit stands for. The anchor matched ASCII case-insensitively;
/// matchers check the exact case they need.
pub type Matcher = fn(at: &Hit, out: &mut Vec<Range<usize>>);

/// One occurrence of an anchor in a text. The parses several kinds share (the ARN or the AWS
/// host name the anchor belongs to) run at most once per hit, however many kinds ask.
pub struct Hit<'t> {
    pub text: &'t str,
    /// Where the anchor matched.
    pub range: Range<usize>,
    arn: OnceCell<Option<Arn>>,
    host: OnceCell<Option<AwsHost>>,
    terraform: OnceCell<Vec<TerraformAttribute>>,
}

impl<'t> Hit<'t> {
    pub fn new(text: &'t str, range: Range<usize>) -> Hit<'t> {
        Hit {
            text,
            range,
            arn: OnceCell::new(),
            host: OnceCell::new(),
            terraform: OnceCell::new(),
        }
    }

    /// The ARN starting at the hit.
    fn arn(&self) -> Option<&Arn> {
        self.arn
            .get_or_init(|| parse_arn(self.text, self.range.start))
            .as_ref()
    }

    /// The AWS host name ending with the hit (a domain suffix such as `.amazonaws.com`).
    fn aws_host(&self) -> Option<&AwsHost> {
        self.host
            .get_or_init(|| parse_aws_host(self.text.as_bytes(), self.range.clone()))
            .as_ref()
    }

    /// The attributes of the Terraform block the hit opens (`resource "aws_…`).
    fn terraform(&self) -> &[TerraformAttribute] {
        self.terraform
            .get_or_init(|| terraform_block(self.text.as_bytes(), &self.range))
    }
}

/// One category of identifier.
pub struct Kind {
    /// Stable id used in settings, reports and the UI (`ec2_instance`).
    pub id: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub example: &'static str,
    /// Tokens are `{token_prefix}_{n:03}`.
    pub token_prefix: &'static str,
    pub anchors: &'static [&'static str],
    /// The bytes that can follow an anchor ending in one of the engine's trigger bytes
    /// (`i-`, `10.`, `arn:`): the identifier's own next byte. The engine passes over trigger
    /// bytes that nothing of this kind follows without looking further.
    pub after_anchor: fn(u8) -> bool,
    pub matcher: Matcher,
    /// Whether an original found where this kind stands is masked at its other mentions.
    pub spread: Spread,
}

/// Where else in a request an original is masked, once found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// Found by its own shape, which the engine sees wherever it stands: nothing to spread.
    Never,
    /// Found by its context (a label, a URL scheme, an ARN around it): every whole-word
    /// mention in the request is masked too.
    Always,
    /// A resource name: spread only when [`names::is_distinctive`].
    IfDistinctive,
}

impl Spread {
    /// Whether `original`, found by a kind of this spread, is masked at its other mentions.
    pub fn reaches(self, original: &str) -> bool {
        match self {
            Spread::Never => false,
            Spread::Always => true,
            Spread::IfDistinctive => names::is_distinctive(original),
        }
    }
}

macro_rules! hex_kind {
    ($id:literal, $label:literal, $prefix:literal, $example:literal, [$($anchor:literal),+]) => {
        Kind {
            id: $id,
            label: $label,
            description: concat!($label, "s: the prefix followed by 8 or 17 lowercase hex digits (17-character IDs also as AWS's documentation writes them, 1234567890abcdefg)."),
            example: $example,
            token_prefix: $prefix,
            anchors: &[$($anchor),+],
            after_anchor: is_lower_hex,
            matcher: hex_resource_id,
            spread: Spread::Never,
        }
    };
}

/// A resource-name kind (see `names`): its keys, flags, Terraform attributes and ARN part,
/// and optionally a matcher of its own with its anchors (`also: queue_in_url, anchored_at: […]`).
/// Every name kind also reads `--name` (for the services listed), Terraform blocks and ARNs.
/// Keys are found by their tails (`Name`, `Identifier`, `_profile` …: see
/// `names::key_around`), a few anchors for all of them: a key of its own per anchor would
/// make the literal search's prefilter match at most capital letters of ordinary text.
macro_rules! name_kind {
    (
        $id:literal, $label:literal, $prefix:literal, $example:literal, $description:literal,
        keys: [$($key:literal),*],
        flags: [$($flag:literal),*],
        name_flag_in: [$($service:literal),*],
        terraform: [$(($tf_kind:literal, $tf_attribute:literal)),*],
        in_arn: $in_arn:path
        $(, also: $also:path, anchored_at: [$($also_anchor:literal),*])?
    ) => {
        Kind {
            id: $id,
            label: $label,
            description: $description,
            example: $example,
            token_prefix: $prefix,
            anchors: &[
                "Name", "Identifier", "SecretId", "AccountAlias", "_role_name", "_session_name", "_profile",
                $(concat!("--", $flag),)* "--name", "resource \"aws_", "data \"aws_", "arn:",
                $($($also_anchor,)*)?
            ],
            after_anchor: may_follow_anchor,
            matcher: |at, out| {
                resource_name(
                    at,
                    out,
                    &NameLabels {
                        keys: &[$($key),*],
                        flags: &[$($flag),*],
                        name_flag_in: &[$($service),*],
                        terraform: &[$(($tf_kind, $tf_attribute)),*],
                        in_arn: $in_arn,
                    },
                );
                $($also(at, out);)?
            },
            spread: Spread::IfDistinctive,
        }
    };
}

/// Every built-in kind, in tie-break order.
pub static CATALOG: &[Kind] = &[
    Kind {
        id: "lambda_function",
        label: "Lambda function ARN",
        description: "ARNs of Lambda functions, with or without a version or alias.",
        example: "arn:aws:lambda:us-east-1:123456789012:function:billing-export",
        token_prefix: "LAMBDA_ARN",
        anchors: &["arn:"],
        after_anchor: is_partition_start,
        matcher: lambda_arn,
        spread: Spread::Never,
    },
    Kind {
        id: "arn",
        label: "ARN",
        description: "Amazon Resource Names of any service, in the aws, aws-cn, aws-us-gov and ISO partitions; any value under a …Arn key.",
        example: "arn:aws:iam::123456789012:role/DeployRole",
        token_prefix: "ARN",
        // `arn:` starts an ARN, or ends a `…Arn:` label; `arn"` and `arn` + KEY_END end a
        // `"…Arn"` key, in text or in the walk text.
        anchors: &["arn:", "arn\"", "arn\u{1}"],
        after_anchor: |b| b == b'a' || matches!(b, b' ' | b'\t' | b'"' | b'\'' | 0),
        matcher: any_arn,
        spread: Spread::Never,
    },
    hex_kind!("ec2_instance", "EC2 instance ID", "EC2_INSTANCE", "i-0a1b2c3d4e5f67890", ["i-"]),
    hex_kind!("ami", "AMI ID", "AMI", "ami-0abcdef1234567890", ["ami-"]),
    hex_kind!("ebs_volume", "EBS volume ID", "EBS_VOLUME", "vol-049df61146c4d7901", ["vol-"]),
    hex_kind!("ebs_snapshot", "EBS snapshot ID", "EBS_SNAPSHOT", "snap-1234567890abcdef0", ["snap-"]),
    hex_kind!("vpc", "VPC ID", "VPC", "vpc-0e9801d1290a1b2c3", ["vpc-"]),
    hex_kind!("subnet", "Subnet ID", "SUBNET", "subnet-0bb1c79de3a1b2c3d", ["subnet-"]),
    hex_kind!("security_group", "Security group ID", "SECURITY_GROUP", "sg-903004f8", ["sg-"]),
    hex_kind!("eni", "Network interface ID", "ENI", "eni-0e1f2a3b4c5d6e7f8", ["eni-"]),
    hex_kind!("internet_gateway", "Internet gateway ID", "INTERNET_GATEWAY", "igw-c0a643a9", ["igw-"]),
    hex_kind!("nat_gateway", "NAT gateway ID", "NAT_GATEWAY", "nat-05dba92075d71c408", ["nat-"]),
    hex_kind!("route_table", "Route table ID", "ROUTE_TABLE", "rtb-22574640", ["rtb-"]),
    hex_kind!("network_acl", "Network ACL ID", "NETWORK_ACL", "acl-5fb85d36", ["acl-"]),
    hex_kind!("eip_allocation", "Elastic IP allocation ID", "EIP_ALLOCATION", "eipalloc-64d5890a", ["eipalloc-"]),
    hex_kind!("transit_gateway", "Transit gateway ID", "TRANSIT_GATEWAY", "tgw-0262a0e5210a1b2c3", ["tgw-"]),
    hex_kind!("vpc_peering", "VPC peering connection ID", "VPC_PEERING", "pcx-111aaa22", ["pcx-"]),
    hex_kind!(
        "other_ec2_resource",
        "Other EC2/VPC resource ID",
        "EC2_RESOURCE",
        "vpce-0a1b2c3d4e5f67890",
        [
            "vpce-", "vpce-svc-", "eipassoc-", "eni-attach-", "sgr-", "r-", "eigw-", "tgw-attach-",
            "tgw-rtb-", "tgw-mcast-domain-", "rtbassoc-", "aclassoc-", "subnet-cidr-assoc-",
            "vpc-cidr-assoc-", "dopt-", "lt-", "vgw-", "cgw-", "vpn-", "lgw-", "cagw-", "fl-", "pl-",
            "ipam-", "ipam-pool-", "ipam-scope-", "sir-", "sfr-", "fleet-", "cr-", "h-", "fs-",
            "fsap-", "fsmt-", "elb-", "key-", "pg-", "eice-", "mi-"
        ]
    ),
    Kind {
        id: "s3_bucket",
        label: "S3 bucket name",
        description: "Bucket names in s3:// URLs, S3 host names and paths, S3 ARNs, --bucket/Bucket labels, bucket listings (aws s3 ls, list-buckets), and bucket-like names such as my-prod-data-bucket.",
        example: "s3://acme-prod-data-bucket/exports/2026/",
        token_prefix: "S3_BUCKET",
        // `:0` … `:5`: the time of day in a line of `aws s3 ls` output.
        anchors: &["s3://", "s3a://", "s3n://", ".amazonaws.com", "arn:", "bucket", ":0", ":1", ":2", ":3", ":4", ":5"],
        after_anchor: is_partition_start,
        matcher: s3_bucket,
        spread: Spread::Always,
    },
    Kind {
        id: "account_id",
        label: "AWS account ID",
        description: "12-digit account IDs inside ARNs, ECR/SQS addresses, IAM policy principals, and wherever the text labels them as an account or owner; after an AccountId, OwnerId, aws_account_id, sso_account_id, --account-id or SourceAccount label, any one-word value.",
        example: "Account: 123456789012",
        token_prefix: "AWS_ACCOUNT",
        // `AWS"` and `AWS` + KEY_END: a policy principal's key, quoted in text or a key of the walk text.
        anchors: &["arn:", "account", "owner", "AWS\"", "AWS\u{1}", ".dkr.ecr.", ".amazonaws.com/"],
        after_anchor: is_partition_start,
        matcher: account_id,
        spread: Spread::Always,
    },
    Kind {
        id: "access_key_id",
        label: "Access key ID",
        description: "Access key IDs (AKIA, ASIA, ABIA, ACCA, A3T…): four-letter prefix and 16 more characters; any value after an AccessKeyId / aws_access_key_id / --access-key-id label.",
        example: "AKIAIOSFODNN7EXAMPLE",
        token_prefix: "ACCESS_KEY_ID",
        anchors: &["AKIA", "ASIA", "ABIA", "ACCA", "A3T", "accesskeyid", "access_key_id", "access-key-id"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: iam_id,
        spread: Spread::Never,
    },
    Kind {
        id: "iam_unique_id",
        label: "IAM unique ID",
        description: "IAM unique IDs of users, roles, groups, policies, instance profiles and certificates (AIDA, AROA, AIPA, AGPA, ANPA, ANVA, APKA, ASCA).",
        example: "AROA3XFRBF535PLBIFPI4",
        token_prefix: "IAM_UNIQUE_ID",
        anchors: &["AIDA", "AROA", "AIPA", "AGPA", "ANPA", "ANVA", "APKA", "ASCA"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: iam_id,
        spread: Spread::Never,
    },
    Kind {
        id: "secret_access_key",
        label: "Secret access key",
        description: "Secret keys: any value of 16 characters or more after an aws_secret_access_key / SecretAccessKey label, and 40-character keys near an access key ID.",
        example: "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        token_prefix: "SECRET_ACCESS_KEY",
        anchors: &["secret_access_key", "secretaccesskey", "secret-access-key", "secret access key", "aws_secret_key", "AKIA", "ASIA"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: secret_access_key,
        spread: Spread::Always,
    },
    Kind {
        id: "session_token",
        label: "Session token",
        description: "STS session tokens: any value of 16 characters or more after a session-token label (SessionToken, aws_session_token, X-Amz-Security-Token), or recognised by their encoded prefix; ECR registry tokens (aws ecr get-login-password) by theirs.",
        example: "aws_session_token = IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6example0SessionToken0Value0For0Docs0Only0AAAAAAAAAAAAAAAAAAAA==",
        token_prefix: "SESSION_TOKEN",
        anchors: &["session_token", "sessiontoken", "session-token", "security_token", "security-token", "IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdzE", "FQoGZXIvYXdzE", "eyJwYXlsb2FkIjoi"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: session_token,
        spread: Spread::Always,
    },
    Kind {
        id: "password",
        label: "Password or secret value",
        description: "Any value after a password label (password, MasterUserPassword, PGPASSWORD, --master-user-password, Terraform password) or a SecretString; a program's own variables (password = getpass()) are left alone.",
        example: "\"MasterUserPassword\": \"Tr0ub4dor&3\"",
        token_prefix: "PASSWORD",
        anchors: &["password", "passwd", "secretstring"],
        after_anchor: |_| true,
        matcher: password,
        spread: Spread::IfDistinctive,
    },
    Kind {
        id: "private_cidr",
        label: "Private CIDR block",
        description: "RFC 1918 network blocks such as 10.0.0.0/16.",
        example: "10.20.0.0/16",
        token_prefix: "PRIVATE_CIDR",
        anchors: &["10.", "172.", "192.168."],
        after_anchor: |b| b.is_ascii_digit(),
        matcher: private_cidr,
        spread: Spread::Never,
    },
    Kind {
        id: "private_ipv4",
        label: "Private IPv4 address",
        description: "RFC 1918 addresses (10/8, 172.16/12, 192.168/16) with valid octets.",
        example: "10.0.12.34",
        token_prefix: "PRIVATE_IP",
        anchors: &["10.", "172.", "192.168."],
        after_anchor: |b| b.is_ascii_digit(),
        matcher: private_ipv4,
        spread: Spread::Never,
    },
    Kind {
        id: "public_ip",
        label: "Public IP address (labelled)",
        description: "Public IPv4 and IPv6 addresses and CIDRs where a label says whose they are: PublicIpAddress, PublicIp, CarrierIp, sourceIPAddress, Ipv6Address, CidrIp, cidr_blocks, --cidr; 0.0.0.0/0, loopback and the metadata address are left alone. Masked wherever else they appear.",
        example: "\"PublicIpAddress\": \"54.210.167.204\"",
        token_prefix: "PUBLIC_IP",
        anchors: &["ipaddress", "publicip", "public_ip", "public-ip", "carrierip", "customerownedip", "sourceip", "ipv6address", "ipv6_address", "cidrip", "cidr_block", "cidrblock", "accesscidrs", "--cidr", "elasticip"],
        after_anchor: |_| true,
        matcher: public_address,
        spread: Spread::Always,
    },
    Kind {
        id: "ec2_private_dns",
        label: "EC2 private host name",
        description: "ip-10-0-1-23 style host names, with their .ec2.internal/.compute.internal domain.",
        example: "ip-10-0-1-23.eu-west-1.compute.internal",
        token_prefix: "EC2_PRIVATE_DNS",
        anchors: &["ip-"],
        after_anchor: |b| b.is_ascii_digit(),
        matcher: ec2_private_dns,
        spread: Spread::Never,
    },
    Kind {
        id: "rds_endpoint",
        label: "RDS endpoint",
        description: "RDS and Aurora endpoint host names (*.rds.amazonaws.com).",
        example: "orders.c9akciq32.us-east-1.rds.amazonaws.com",
        token_prefix: "RDS_ENDPOINT",
        anchors: &[".amazonaws.com"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: |at, out| host_of_class(at, out, HostClass::Rds),
        spread: Spread::Never,
    },
    Kind {
        id: "rds_resource_id",
        label: "RDS resource ID",
        description: "RDS instance and cluster resource IDs (db-… and cluster-… with 26 upper-case letters and digits), as in DbiResourceId.",
        example: "\"DbiResourceId\": \"db-5DBPEKBAWG6FNNZKOTEMZOAHYU\"",
        token_prefix: "RDS_RESOURCE",
        anchors: &["db-", "cluster-"],
        after_anchor: is_upper_alnum,
        matcher: rds_resource_id,
        spread: Spread::Never,
    },
    Kind {
        id: "elasticache_endpoint",
        label: "ElastiCache endpoint",
        description: "ElastiCache host names (*.cache.amazonaws.com).",
        example: "sessions.abc123.ng.0001.use1.cache.amazonaws.com",
        token_prefix: "ELASTICACHE_ENDPOINT",
        anchors: &[".amazonaws.com"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: |at, out| host_of_class(at, out, HostClass::ElastiCache),
        spread: Spread::Never,
    },
    Kind {
        id: "elb_endpoint",
        label: "Load balancer host name",
        description: "ELB, ALB and NLB DNS names (*.elb.amazonaws.com).",
        example: "internal-api-1234567890.us-east-1.elb.amazonaws.com",
        token_prefix: "LOAD_BALANCER",
        anchors: &[".amazonaws.com"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: |at, out| host_of_class(at, out, HostClass::LoadBalancer),
        spread: Spread::Never,
    },
    Kind {
        id: "eks_endpoint",
        label: "EKS endpoint",
        description: "EKS cluster API endpoints (*.eks.amazonaws.com).",
        example: "A1B2C3D4E5F6A7B8C9D0.gr7.us-west-2.eks.amazonaws.com",
        token_prefix: "EKS_ENDPOINT",
        anchors: &[".amazonaws.com"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: |at, out| host_of_class(at, out, HostClass::Eks),
        spread: Spread::Never,
    },
    Kind {
        id: "api_gateway_endpoint",
        label: "API Gateway endpoint",
        description: "API Gateway invoke host names (*.execute-api.*.amazonaws.com).",
        example: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
        token_prefix: "API_GATEWAY",
        anchors: &[".amazonaws.com"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: |at, out| host_of_class(at, out, HostClass::ApiGateway),
        spread: Spread::Never,
    },
    Kind {
        id: "cloudfront_domain",
        label: "CloudFront domain",
        description: "CloudFront distribution domains (*.cloudfront.net).",
        example: "d111111abcdef8.cloudfront.net",
        token_prefix: "CLOUDFRONT_DOMAIN",
        anchors: &[".cloudfront.net"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: |at, out| host_of_class(at, out, HostClass::CloudFront),
        spread: Spread::Never,
    },
    Kind {
        id: "aws_hostname",
        label: "Other AWS resource host name",
        description: "Any other resource-specific *.amazonaws.com or *.on.aws host name (ECR registries, Redshift, OpenSearch, Lambda URLs …) and IAM Identity Center portals (*.awsapps.com); shared service endpoints such as ec2.us-east-1.amazonaws.com are left alone.",
        example: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        token_prefix: "AWS_HOSTNAME",
        anchors: &[".amazonaws.com", ".on.aws", ".awsapps.com"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: |at, out| host_of_class(at, out, HostClass::Other),
        spread: Spread::Never,
    },
    Kind {
        id: "organizations_id",
        label: "AWS Organizations ID",
        description: "Organization IDs (o-…) and organizational unit IDs (ou-…-…) of AWS Organizations.",
        example: "\"Id\": \"o-a1b2c3d4e5\", \"ParentId\": \"ou-ab12-cdef3456\"",
        token_prefix: "ORGANIZATION",
        anchors: &["o-", "ou-"],
        after_anchor: |b| b.is_ascii_lowercase() || b.is_ascii_digit(),
        matcher: organizations_id,
        spread: Spread::Never,
    },
    Kind {
        id: "route53_zone",
        label: "Route 53 hosted zone ID",
        description: "Hosted zone IDs (Z…) after a hosted-zone label or in /hostedzone/ paths.",
        example: "/hostedzone/Z1D633PJN98FT9",
        token_prefix: "HOSTED_ZONE",
        anchors: &["hostedzone", "hosted-zone", "hosted_zone", "hosted zone"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: route53_zone,
        spread: Spread::Always,
    },
    Kind {
        id: "kms_key",
        label: "KMS key ID",
        description: "KMS key IDs (UUIDs next to a kms/key-id label) and multi-Region keys (mrk-…). Bare UUIDs elsewhere are left alone.",
        example: "--key-id 1234abcd-12ab-34cd-56ef-1234567890ab",
        token_prefix: "KMS_KEY",
        anchors: &["kms", "keyid", "key-id", "key_id", "key id", "mrk-"],
        after_anchor: is_lower_hex,
        matcher: kms_key,
        spread: Spread::Always,
    },
    name_kind!(
        "lambda_function_name", "Lambda function name", "LAMBDA_FUNCTION",
        "aws lambda invoke --function-name billing-export out.json",
        "Names of Lambda functions: FunctionName, --function-name, Terraform function_name, the name in a function ARN.",
        keys: ["FunctionName"],
        flags: ["function-name"],
        name_flag_in: [],
        terraform: [("aws_lambda_function", "function_name"), ("aws_lambda_alias", "function_name"), ("aws_lambda_permission", "function_name")],
        in_arn: lambda_in_arn
    ),
    name_kind!(
        "rds_name", "RDS instance or cluster name", "RDS_INSTANCE",
        "\"DBInstanceIdentifier\": \"payments-prod\"",
        "Identifiers of RDS and Aurora instances and clusters: DBInstanceIdentifier, DBClusterIdentifier, their CLI flags, Terraform identifier, the name in a db: or cluster: ARN.",
        keys: ["DBInstanceIdentifier", "DBClusterIdentifier"],
        flags: ["db-instance-identifier", "db-cluster-identifier"],
        name_flag_in: [],
        terraform: [("aws_db_instance", "identifier"), ("aws_rds_cluster", "cluster_identifier"), ("aws_rds_cluster_instance", "identifier"), ("aws_db_instance", "db_instance_identifier")],
        in_arn: rds_in_arn
    ),
    name_kind!(
        "iam_role_name", "IAM role name", "IAM_ROLE",
        "aws iam get-role --role-name DeployRole",
        "Names of IAM roles: RoleName, --role-name, sso_role_name, Terraform name of aws_iam_role, the role in a role or assumed-role ARN.",
        keys: ["RoleName", "sso_role_name"],
        flags: ["role-name"],
        name_flag_in: [],
        terraform: [("aws_iam_role", "name"), ("aws_iam_role_policy_attachment", "role"), ("aws_iam_role_policy", "role"), ("aws_iam_instance_profile", "role")],
        in_arn: role_in_arn
    ),
    name_kind!(
        "iam_user_name", "IAM user or session name", "IAM_USER",
        "\"UserName\": \"jane.doe\"",
        "Names of IAM users (UserName, --user-name, Terraform aws_iam_user) and role session names (RoleSessionName, role_session_name, the session in an assumed-role ARN), often a person's login.",
        keys: ["UserName", "RoleSessionName", "role_session_name"],
        flags: ["user-name", "role-session-name"],
        name_flag_in: [],
        terraform: [("aws_iam_user", "name"), ("aws_iam_access_key", "user")],
        in_arn: user_in_arn
    ),
    name_kind!(
        "iam_group_name", "IAM group name", "IAM_GROUP",
        "arn:aws:iam::123456789012:group/platform-admins",
        "Names of IAM groups: Terraform aws_iam_group, the group in a group ARN.",
        keys: [],
        flags: [],
        name_flag_in: [],
        terraform: [("aws_iam_group", "name")],
        in_arn: group_in_arn
    ),
    name_kind!(
        "iam_policy_name", "IAM policy name", "IAM_POLICY",
        "\"PolicyName\": \"ledger-read-write\"",
        "Names of a company's IAM policies: PolicyName, --policy-name, Terraform aws_iam_policy, the policy in a customer policy ARN (AWS managed policies are left alone).",
        keys: ["PolicyName"],
        flags: ["policy-name"],
        name_flag_in: [],
        terraform: [("aws_iam_policy", "name"), ("aws_iam_role_policy", "name")],
        in_arn: policy_in_arn
    ),
    name_kind!(
        "cluster_name", "EKS or ECS cluster name", "CLUSTER",
        "aws eks describe-cluster --name payments-eks",
        "Names of EKS and ECS clusters: ClusterName, clusterName, --cluster-name, --cluster, aws eks --name, Terraform aws_eks_cluster and aws_ecs_cluster, the cluster in an EKS or ECS ARN.",
        keys: ["ClusterName", "clusterName"],
        flags: ["cluster-name", "cluster"],
        name_flag_in: ["eks"],
        terraform: [("aws_eks_cluster", "name"), ("aws_ecs_cluster", "name"), ("aws_eks_node_group", "cluster_name"), ("aws_eks_addon", "cluster_name")],
        in_arn: cluster_in_arn
    ),
    name_kind!(
        "ecs_service_name", "ECS service name", "ECS_SERVICE",
        "\"serviceName\": \"checkout-api\"",
        "Names of ECS services: serviceName (as a JSON key), --service, --service-name, Terraform aws_ecs_service, the service in an ECS service ARN.",
        keys: ["serviceName"],
        flags: ["service", "service-name"],
        name_flag_in: [],
        terraform: [("aws_ecs_service", "name")],
        in_arn: ecs_service_in_arn
    ),
    name_kind!(
        "cloudformation_stack", "CloudFormation stack name", "CFN_STACK",
        "aws cloudformation describe-stacks --stack-name ledger-network",
        "Names of CloudFormation stacks: StackName, --stack-name, Terraform aws_cloudformation_stack, the stack in a stack ARN.",
        keys: ["StackName"],
        flags: ["stack-name"],
        name_flag_in: [],
        terraform: [("aws_cloudformation_stack", "name")],
        in_arn: stack_in_arn
    ),
    name_kind!(
        "dynamodb_table", "DynamoDB table name", "DYNAMODB_TABLE",
        "aws dynamodb scan --table-name ledger-entries",
        "Names of DynamoDB tables: TableName, --table-name, Terraform aws_dynamodb_table, the table in a table ARN.",
        keys: ["TableName"],
        flags: ["table-name"],
        name_flag_in: [],
        terraform: [("aws_dynamodb_table", "name")],
        in_arn: table_in_arn
    ),
    name_kind!(
        "sqs_queue", "SQS queue name", "SQS_QUEUE",
        "https://sqs.us-east-1.amazonaws.com/123456789012/ledger-events.fifo",
        "Names of SQS queues: QueueName, --queue-name, Terraform aws_sqs_queue, the name in a queue URL or queue ARN.",
        keys: ["QueueName"],
        flags: ["queue-name"],
        name_flag_in: [],
        terraform: [("aws_sqs_queue", "name")],
        in_arn: queue_in_arn,
        also: queue_in_url, anchored_at: [".amazonaws.com/"]
    ),
    name_kind!(
        "sns_topic", "SNS topic name", "SNS_TOPIC",
        "arn:aws:sns:us-east-1:123456789012:ledger-alerts",
        "Names of SNS topics: TopicName, aws sns --name, Terraform aws_sns_topic, the topic in a topic or subscription ARN.",
        keys: ["TopicName"],
        flags: ["topic-name"],
        name_flag_in: ["sns"],
        terraform: [("aws_sns_topic", "name")],
        in_arn: topic_in_arn
    ),
    name_kind!(
        "log_group", "CloudWatch log group", "LOG_GROUP",
        "aws logs tail --log-group-name /aws/lambda/billing-export",
        "Names of CloudWatch Logs groups: LogGroupName, logGroupName (as a JSON key), --log-group-name, Terraform aws_cloudwatch_log_group, the group in a log-group ARN.",
        keys: ["LogGroupName", "logGroupName"],
        flags: ["log-group-name"],
        name_flag_in: [],
        terraform: [("aws_cloudwatch_log_group", "name")],
        in_arn: log_group_in_arn
    ),
    name_kind!(
        "kms_alias", "KMS key alias", "KMS_ALIAS",
        "\"AliasName\": \"alias/ledger-data\"",
        "A company's KMS key aliases: AliasName, --alias-name, Terraform aws_kms_alias, the alias in a KMS alias ARN (AWS's own alias/aws/… are left alone).",
        keys: ["AliasName"],
        flags: ["alias-name"],
        name_flag_in: [],
        terraform: [("aws_kms_alias", "name")],
        in_arn: alias_in_arn
    ),
    name_kind!(
        "ecr_repository", "ECR repository name", "ECR_REPOSITORY",
        "\"repositoryName\": \"ledger/api\"",
        "Names of ECR repositories: RepositoryName, repositoryName (as a JSON key), --repository-name, Terraform aws_ecr_repository, the repository in its ARN.",
        keys: ["RepositoryName", "repositoryName"],
        flags: ["repository-name"],
        name_flag_in: [],
        terraform: [("aws_ecr_repository", "name")],
        in_arn: repository_in_arn
    ),
    name_kind!(
        "secret_name", "Secrets Manager secret name", "SECRET_NAME",
        "aws secretsmanager get-secret-value --secret-id prod/ledger/db",
        "Names of Secrets Manager secrets: SecretId, --secret-id, aws secretsmanager --name, Terraform aws_secretsmanager_secret, the name in a secret ARN.",
        keys: ["SecretId"],
        flags: ["secret-id"],
        name_flag_in: ["secretsmanager"],
        terraform: [("aws_secretsmanager_secret", "name")],
        in_arn: secret_in_arn
    ),
    name_kind!(
        "key_pair", "EC2 key pair name", "KEY_PAIR",
        "\"KeyName\": \"ops-bastion-2024\"",
        "Names of EC2 key pairs: KeyName, --key-name, Terraform key_name.",
        keys: ["KeyName"],
        flags: ["key-name"],
        name_flag_in: [],
        terraform: [("aws_key_pair", "key_name"), ("aws_instance", "key_name"), ("aws_launch_template", "key_name")],
        in_arn: no_arn
    ),
    name_kind!(
        "account_alias", "Account alias", "ACCOUNT_ALIAS",
        "\"AccountAliases\": [\"acme-payments-prod\"]",
        "Account aliases: AccountAlias, AccountAliases, --account-alias, Terraform aws_iam_account_alias.",
        keys: ["AccountAlias", "AccountAliases"],
        flags: ["account-alias"],
        name_flag_in: [],
        terraform: [("aws_iam_account_alias", "account_alias")],
        in_arn: no_arn
    ),
    name_kind!(
        "aws_profile", "AWS CLI profile", "AWS_PROFILE",
        "aws s3 ls --profile ledger-ci",
        "Names of AWS CLI profiles and SSO sessions: --profile, AWS_PROFILE, source_profile, and every profile in your own ~/.aws files when known values are on.",
        keys: ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "source_profile"],
        flags: ["profile"],
        name_flag_in: [],
        terraform: [],
        in_arn: no_arn
    ),
    name_kind!(
        "aws_resource", "Other AWS resource name or ID", "AWS_RESOURCE",
        "aws kinesis describe-stream --stream-name clickstream-prod",
        "Names and IDs of every other resource: the resource part of any ARN, the value of an aws command's --…-name, --…-id, --…-identifier or --…-arn flag (and --name of services such as ssm and glue), and API keys such as GroupName, StreamName, DistributionId, RestApiId.",
        keys: ["GroupName", "StreamName", "DeliveryStreamName", "StateMachineName", "TrailName", "AlarmName", "RuleName", "EventBusName", "ApplicationName", "EnvironmentName", "PipelineName", "ProjectName", "LoadBalancerName", "TargetGroupName", "AutoScalingGroupName", "LaunchTemplateName", "DomainName", "BackupVaultName", "FileSystemName", "BrokerName", "ClusterIdentifier", "CacheClusterIdentifier", "ReplicationGroupIdentifier", "streamName", "stateMachineName", "domainName"],
        flags: [],
        name_flag_in: [],
        terraform: [],
        in_arn: no_arn,
        also: other_resource, anchored_at: ["-name ", "-name=", "-names ", "-id ", "-id=", "-ids ", "-identifier ", "-identifier=", "-identifiers ", "-arn ", "-arn=", "-arns ", "Id\"", "Id\u{1}", "Id:"]
    ),
    Kind {
        id: "name_tag",
        label: "Name tag",
        description: "Values of Name tags: {\"Key\": \"Name\", \"Value\": …} in JSON and YAML, Key=Name,Value=… and Name=tag:Name,Values=… in the CLI, TAGS Name … in its text output, tags = { Name = … } in Terraform.",
        example: "{\"Key\": \"Name\", \"Value\": \"ledger-bastion\"}",
        token_prefix: "NAME_TAG",
        anchors: &["\"key\": \"name\"", "\"key\":\"name\"", "key\u{1}name\u{0}", "key: name", "key=name,", "tag:name,values=", "tags\tname\t", "resource \"aws_", "data \"aws_"],
        after_anchor: may_follow_anchor,
        matcher: name_tag,
        spread: Spread::IfDistinctive,
    },
];

/// Looks a built-in kind up by id.
pub fn kind(id: &str) -> Option<&'static Kind> {
    CATALOG.iter().find(|k| k.id == id)
}

/// A context word (`account`, `kms`, `HostedZone` …) that stands on its own, starts or ends
/// a name, or is a whole camelCase segment (`recipientAccountId`) — not one buried in a
/// longer run such as a base64 blob.
fn is_label(t: &[u8], hit: &Range<usize>) -> bool {
    let segment_starts =
        hit.start > 0 && t[hit.start - 1].is_ascii_lowercase() && t[hit.start].is_ascii_uppercase();
    let next_segment = t.get(hit.end).is_some_and(u8::is_ascii_uppercase);
    boundary_before(t, hit.start) || boundary_after(t, hit.end) || (segment_starts && next_segment)
}

/// `arn:` is followed by its partition: `aws`, `aws-cn`, `aws-us-gov` …
fn is_partition_start(b: u8) -> bool {
    b == b'a'
}

fn is_exact(text: &str, hit: &Range<usize>, literal: &str) -> bool {
    text.as_bytes()[hit.clone()] == *literal.as_bytes()
}

/// The anchor at `hit` is a lowercase ID prefix (`i-`, `db-`, `o-`) that starts a word.
fn starts_lowercase_id(t: &[u8], hit: &Range<usize>) -> bool {
    boundary_before(t, hit.start) && !t[hit.clone()].iter().any(u8::is_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_token_prefixes_are_unique_and_well_formed() {
        let mut ids: Vec<_> = CATALOG.iter().map(|k| k.id).collect();
        let mut prefixes: Vec<_> = CATALOG.iter().map(|k| k.token_prefix).collect();
        ids.sort_unstable();
        ids.dedup();
        prefixes.sort_unstable();
        prefixes.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        assert_eq!(prefixes.len(), CATALOG.len());
        for k in CATALOG {
            assert!(k
                .token_prefix
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'));
            assert!(!k.anchors.is_empty());
        }
    }
}
