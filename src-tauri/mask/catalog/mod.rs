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
mod secrets;

use std::cell::OnceCell;
use std::ops::Range;

use accounts::*;
use addresses::*;
use arns_hosts::*;
use buckets::*;
use ids::*;
use labels::*;
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
}

impl<'t> Hit<'t> {
    pub fn new(text: &'t str, range: Range<usize>) -> Hit<'t> {
        Hit {
            text,
            range,
            arn: OnceCell::new(),
            host: OnceCell::new(),
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
    /// Found by its context (a label, a URL scheme) rather than its own shape: once found,
    /// its later bare occurrences in the same request are masked too.
    pub found_by_context: bool,
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
            found_by_context: false,
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
        token_prefix: "LAMBDA_FUNCTION",
        anchors: &["arn:"],
        after_anchor: is_partition_start,
        matcher: lambda_arn,
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: true,
    },
    Kind {
        id: "account_id",
        label: "AWS account ID",
        description: "12-digit account IDs inside ARNs, ECR/SQS addresses, IAM policy principals, and wherever the text labels them as an account or owner.",
        example: "Account: 123456789012",
        token_prefix: "AWS_ACCOUNT",
        // `AWS"` and `AWS` + KEY_END: a policy principal's key, quoted in text or a key of the walk text.
        anchors: &["arn:", "account", "owner", "AWS\"", "AWS\u{1}", ".dkr.ecr.", ".amazonaws.com/"],
        after_anchor: is_partition_start,
        matcher: account_id,
        found_by_context: true,
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
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: true,
    },
    Kind {
        id: "session_token",
        label: "Session token",
        description: "STS session tokens: any value of 16 characters or more after a session-token label (SessionToken, aws_session_token, X-Amz-Security-Token), or recognised by their encoded prefix.",
        example: "aws_session_token = IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6example0SessionToken0Value0For0Docs0Only0AAAAAAAAAAAAAAAAAAAA==",
        token_prefix: "SESSION_TOKEN",
        anchors: &["session_token", "sessiontoken", "session-token", "security_token", "security-token", "IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdzE", "FQoGZXIvYXdzE"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: session_token,
        found_by_context: true,
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
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: false,
    },
    Kind {
        id: "aws_hostname",
        label: "Other AWS resource host name",
        description: "Any other resource-specific *.amazonaws.com or *.on.aws host name (ECR registries, Redshift, OpenSearch, Lambda URLs …); shared service endpoints such as ec2.us-east-1.amazonaws.com are left alone.",
        example: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        token_prefix: "AWS_HOSTNAME",
        anchors: &[".amazonaws.com", ".on.aws"],
        after_anchor: |b| b.is_ascii_alphanumeric(),
        matcher: |at, out| host_of_class(at, out, HostClass::Other),
        found_by_context: false,
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
        found_by_context: false,
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
        found_by_context: true,
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
        found_by_context: true,
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
