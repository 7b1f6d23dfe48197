//! The identifier kinds maskgate knows: one [`Kind`] per category a user can switch on or off.
//!
//! Each kind names the literal anchors that must occur in or next to an identifier
//! (`i-`, `arn:`, `.amazonaws.com`, `account` …) and a matcher that, given one anchor hit,
//! validates the precise shape around it. The engine finds all anchors in one pass, so a kind
//! costs nothing where its anchors do not occur. Order matters only to break ties between two
//! kinds that claim exactly the same span: the earlier kind wins.

use std::cell::OnceCell;
use std::ops::Range;

use super::scan::{
    boundary_after, boundary_before, cidr_suffix, is_base64, is_host_char, is_label_gap,
    is_lower_hex, is_private_ipv4, is_region, is_upper_alnum, parse_arn, parse_aws_host,
    parse_ipv4, parse_uuid, run_len, run_len_within, run_start, run_start_within, skip_gap, Arn,
    AwsHost, HostClass,
};

/// Ends a JSON key in a request's walk text.
const KEY_END: u8 = super::engine::KEY_END as u8;

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
        description: "Amazon Resource Names of any service, in the aws, aws-cn, aws-us-gov and ISO partitions.",
        example: "arn:aws:iam::123456789012:role/DeployRole",
        token_prefix: "ARN",
        anchors: &["arn:"],
        after_anchor: is_partition_start,
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
        description: "Access key IDs (AKIA, ASIA, ABIA, ACCA, A3T…): four-letter prefix and 16 more characters.",
        example: "AKIAIOSFODNN7EXAMPLE",
        token_prefix: "ACCESS_KEY_ID",
        anchors: &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
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
        description: "40-character secret keys after an aws_secret_access_key/SecretAccessKey label or near an access key ID.",
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
        description: "STS session tokens after a session-token label, or recognised by their encoded prefix.",
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

fn hex_resource_id(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if !starts_lowercase_id(t, &hit) {
        return;
    }
    let n = run_len(t, hit.end, |b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if is_resource_suffix(&t[hit.end..hit.end + n]) && boundary_after(t, hit.end + n) {
        out.push(hit.start..hit.end + n);
    }
}

/// The part of an EC2-style ID after its prefix: 8 or 17 lowercase hex digits. AWS's own
/// documentation writes 17-character IDs with a letter or two beyond `f`
/// (`sg-1234567890abcdefg`), and text copied from it is as real to a user as any: a
/// 17-character run with a digit and at most two such letters counts too. (It starts with a
/// hex digit, as the kinds' `after_anchor` asks.)
fn is_resource_suffix(suffix: &[u8]) -> bool {
    let beyond_hex = suffix.iter().filter(|&&b| !is_lower_hex(b)).count();
    match suffix.len() {
        8 => beyond_hex == 0,
        17 => beyond_hex <= 2 && suffix.iter().any(u8::is_ascii_digit),
        _ => false,
    }
}

fn lambda_arn(at: &Hit, out: &mut Vec<Range<usize>>) {
    if let Some(arn) = at.arn() {
        let text = at.text;
        if &text[arn.service.clone()] == "lambda"
            && text[arn.resource.clone()].starts_with("function:")
        {
            out.push(arn.span.clone());
        }
    }
}

fn any_arn(at: &Hit, out: &mut Vec<Range<usize>>) {
    if let Some(arn) = at.arn() {
        out.push(arn.span.clone());
    }
}

fn is_bucket_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
}

/// A bucket name of 3–63 characters at `start`, with trailing dots and dashes trimmed.
fn bucket_at(t: &[u8], start: usize) -> Option<Range<usize>> {
    // Read no further than a name could reach (63 bytes, then what trimming may drop).
    let raw = run_len_within(t, start, 256, |b| {
        is_bucket_char(b) || b.is_ascii_uppercase() || b == b'_'
    })?;
    let len = t[start..start + raw]
        .iter()
        .rposition(|b| b.is_ascii_alphanumeric())
        .map_or(0, |p| p + 1);
    (3..=63).contains(&len).then_some(start..start + len)
}

/// First segments that make a dashed word an S3 API verb or a resource type, not a bucket.
const NOT_BUCKET_LEADS: &[&str] = &[
    "create", "delete", "get", "put", "head", "list", "describe", "update", "aws", "s3", "gcs",
];

fn s3_bucket(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    let anchor = &t[hit.clone()];
    if anchor.ends_with(b"://") {
        if boundary_before(t, hit.start) && !anchor.iter().any(u8::is_ascii_uppercase) {
            out.extend(bucket_at(t, hit.end));
        }
        return;
    }
    let is = |literal: &[u8]| anchor.eq_ignore_ascii_case(literal);
    match () {
        () if anchor[0] == b':' => s3_listing_line(t, &hit, out),
        () if is(b".amazonaws.com") => match at.aws_host().map(|h| (h.span.clone(), h.class)) {
            Some((span, HostClass::S3VirtualHost { bucket_end })) => {
                out.push(span.start..bucket_end)
            }
            Some((span, HostClass::S3PathStyle)) if t.get(span.end) == Some(&b'/') => {
                out.extend(bucket_at(t, span.end + 1));
            }
            _ => {}
        },
        () if is(b"arn:") => {
            if let Some(arn) = at.arn() {
                if &text[arn.service.clone()] == "s3" && arn.account.is_none() {
                    let name = &t[arn.resource.clone()];
                    let len = name.iter().position(|&b| b == b'/').unwrap_or(name.len());
                    if len >= 3 {
                        out.push(arn.resource.start..arn.resource.start + len);
                    }
                }
            }
        }
        () => labelled_or_bucket_like(t, hit, out),
    }
}

/// `--bucket NAME`, `"Bucket": "NAME"`, `bucket_name = "NAME"`, `the bucket NAME`, the
/// names of a `"Buckets": [...]` listing, or a name such as `acme-prod-data-bucket` that
/// carries `bucket` as one of its dash/dot segments.
fn labelled_or_bucket_like(t: &[u8], hit: Range<usize>, out: &mut Vec<Range<usize>>) {
    bucket_label(t, &hit, out);
    if t[hit.clone()].eq_ignore_ascii_case(b"bucket") && t.get(hit.end) == Some(&b's') {
        bucket_listing(t, hit.end + 1, out);
    }
    if t[hit.clone()] == *b"bucket" {
        bucket_like_name(t, &hit, out);
    }
}

/// The value after a bucket label: the word, an optional name/Name suffix, a short gap.
fn bucket_label(t: &[u8], hit: &Range<usize>, out: &mut Vec<Range<usize>>) {
    let label_end = hit.end
        + [&b"name"[..], b"_name", b"-name"]
            .iter()
            .find(|s| {
                t[hit.end..].len() >= s.len()
                    && t[hit.end..hit.end + s.len()].eq_ignore_ascii_case(s)
            })
            .map_or(0, |s| s.len());
    let flag = hit.start >= 2 && &t[hit.start - 2..hit.start] == b"--";
    let key_like = flag
        || boundary_before(t, hit.start)
            && !t.get(label_end).is_some_and(u8::is_ascii_alphanumeric);
    if !key_like {
        return;
    }
    let gap = run_len(t, label_end, |b| {
        matches!(b, b' ' | b'"' | b'\'' | b'`' | b':' | b'=' | b'(' | KEY_END)
    });
    let gap_text = &t[label_end..label_end + gap];
    if gap_text.contains(&KEY_END) && !is_json_key(t, hit.start, label_end + gap) {
        return;
    }
    let quoted = gap_text
        .iter()
        .any(|&b| matches!(b, b'"' | b'\'' | b'`' | KEY_END));
    // `:` and `=` assign; so does a call with a quoted argument (boto3's `s3.Bucket('…')`).
    let assigns = gap_text.iter().any(|&b| matches!(b, b':' | b'=' | KEY_END))
        || gap_text.starts_with(b"(") && quoted;
    // In prose ("copy it to the bucket acme-exports") the word stands alone before one space.
    let prose = gap_text == b" "
        && label_end == hit.end
        && (hit.start == 0 || matches!(t[hit.start - 1], b' ' | b'\n' | b'\0' | KEY_END));
    if gap == 0 || gap > 6 || !(flag || assigns || prose) {
        return;
    }
    let Some(name) = bucket_at(t, label_end + gap) else {
        return;
    };
    let value = &t[name.clone()];
    let shaped = value
        .iter()
        .any(|&b| b == b'-' || b == b'.' || b.is_ascii_digit());
    let plausible = if prose {
        shaped && value.iter().any(u8::is_ascii_lowercase) && !is_region(value)
    } else {
        flag || quoted || shaped
    };
    if plausible && value.iter().all(|&b| is_bucket_char(b)) {
        // The label may itself end a bucket name (`logs-bucket: …`): that is looked at too.
        out.push(name);
    }
}

/// In a request's walk text: the label from `start` is a whole JSON key, and `value_start`
/// begins the string after it (its value).
fn is_json_key(t: &[u8], start: usize, value_start: usize) -> bool {
    let string_start = start == 0 || matches!(t[start - 1], b'\0' | KEY_END);
    let key = &t[start..value_start];
    string_start
        && key.ends_with(&[KEY_END])
        && !key[..key.len() - 1]
            .iter()
            .any(|&b| b == b'\0' || b == KEY_END)
}

/// The bucket names of a `"Buckets": [{"Name": "…", …}, …]` listing (`aws s3api
/// list-buckets`), from just after the word `Buckets`.
fn bucket_listing(t: &[u8], from: usize, out: &mut Vec<Range<usize>>) {
    let gap = run_len(t, from, |b| {
        matches!(b, b'"' | b':' | b' ' | b'\n' | b'\r' | b'\t')
    });
    if gap == 0 || t.get(from + gap) != Some(&b'[') {
        return;
    }
    // The list's objects hold no list of their own: the listing ends at the first `]` or `[`
    // after its own `[`. So the stretches two listings read never overlap, and reading all
    // of them stays linear in the text, whatever it holds.
    let mut depth = 0usize;
    let mut i = from + gap + 1;
    while i < t.len() {
        match t[i] {
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b'[' | b']' => return,
            b'"' if depth == 1 && t[i..].starts_with(b"\"Name\"") => {
                let value = i + 6 + run_len(t, i + 6, |b| matches!(b, b':' | b' ' | b'"'));
                if let Some(name) = bucket_at(t, value) {
                    if t.get(name.end) == Some(&b'"')
                        && t[name.clone()].iter().all(|&b| is_bucket_char(b))
                    {
                        out.push(name);
                    }
                }
                i = value;
                continue;
            }
            b'\0' | KEY_END => return,
            _ => {}
        }
        i += 1;
    }
}

/// A name such as `acme-prod-data-bucket` around the word `bucket` at `hit`. A virtual-host
/// S3 address (`acme-bucket.s3.us-east-1.amazonaws.com`) contributes its first labels only.
fn bucket_like_name(t: &[u8], hit: &Range<usize>, out: &mut Vec<Range<usize>>) {
    // A name is at most 63 bytes; with an S3 host after it, at most 253 in all.
    let Some(start) = run_start_within(t, hit.start, 253, is_bucket_char) else {
        return;
    };
    let Some(after) = run_len_within(t, hit.end, 253, is_bucket_char) else {
        return;
    };
    let end = hit.end + after;
    let (start, end) = trim_name(t, start, end);
    if start > 0 && (t[start - 1].is_ascii_alphanumeric() || t[start - 1] == b'_') {
        return;
    }
    if !boundary_after(t, end) || t.get(end) == Some(&b'_') {
        return;
    }
    let end = s3_host_labels_start(&t[start..end]).map_or(end, |cut| start + cut);
    if hit.end > end || !(3..=63).contains(&(end - start)) {
        return;
    }
    let segments = || t[start..end].split(|&b| b == b'-' || b == b'.');
    let lead = segments().next().unwrap_or_default();
    let lead_is_word = NOT_BUCKET_LEADS.iter().any(|w| lead == w.as_bytes());
    if segments().nth(1).is_some() && segments().any(|s| s == b"bucket") && !lead_is_word {
        out.push(start..end);
    }
}

/// Where `.s3.` or `.s3-…` starts in a dotted name (the S3 part of a host name), if it does.
fn s3_host_labels_start(name: &[u8]) -> Option<usize> {
    let mut offset = 0;
    for (n, label) in name.split(|&b| b == b'.').enumerate() {
        if n > 0 && (label == b"s3" || label.starts_with(b"s3-")) {
            return Some(offset - 1);
        }
        offset += label.len() + 1;
    }
    None
}

/// A bucket in `aws s3 ls` output: `2026-01-12 10:11:12 acme-terraform-state`, a line of its
/// own; `hit` is the first `:` of the time. (A listing of objects has a size column, and
/// is left alone.)
fn s3_listing_line(t: &[u8], hit: &Range<usize>, out: &mut Vec<Range<usize>>) {
    let p = hit.start;
    let digits = |from: usize, n: usize| {
        t.get(from..from + n)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let Some(line_start) = p.checked_sub(13) else {
        return;
    };
    let date = &t[line_start..p - 3];
    let date_ok = digits(line_start, 4)
        && date[4] == b'-'
        && digits(line_start + 5, 2)
        && date[7] == b'-'
        && digits(line_start + 8, 2);
    let time_ok = t[p - 3] == b' '
        && digits(p - 2, 2)
        && digits(p + 1, 2)
        && t.get(p + 3) == Some(&b':')
        && digits(p + 4, 2)
        && t.get(p + 6) == Some(&b' ');
    let at_line_start = line_start == 0 || matches!(t[line_start - 1], b'\n' | b'\0' | KEY_END);
    if !(date_ok && time_ok && at_line_start) {
        return;
    }
    if let Some(name) = bucket_at(t, p + 7) {
        let ends_line = t
            .get(name.end)
            .is_none_or(|&b| matches!(b, b'\n' | b'\r' | b'\0'));
        if ends_line && t[name.clone()].iter().all(|&b| is_bucket_char(b)) {
            out.push(name);
        }
    }
}

fn trim_name(t: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && !t[start].is_ascii_alphanumeric() {
        start += 1;
    }
    while end > start && !t[end - 1].is_ascii_alphanumeric() {
        end -= 1;
    }
    (start, end)
}

/// A 12-digit account number (or `1234-5678-9012`) at `start`; returns its end.
fn account_number_at(t: &[u8], start: usize) -> Option<usize> {
    if start > 0 && t[start - 1].is_ascii_digit() {
        return None;
    }
    let plain = run_len(t, start, |b| b.is_ascii_digit());
    let end = if plain == 12 {
        start + 12
    } else if plain == 4
        && t.get(start + 4) == Some(&b'-')
        && run_len(t, start + 5, |b| b.is_ascii_digit()) == 4
        && t.get(start + 9) == Some(&b'-')
        && run_len(t, start + 10, |b| b.is_ascii_digit()) == 4
    {
        start + 14
    } else {
        return None;
    };
    boundary_after(t, end).then_some(end)
}

fn account_id(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    let is = |literal: &[u8]| t[hit.clone()].eq_ignore_ascii_case(literal);
    match () {
        () if is(b"arn:") => {
            if let Some(account) = at.arn().and_then(|a| a.account.clone()) {
                out.push(account);
            }
        }
        () if is(b".dkr.ecr.") => {
            let start = run_start(t, hit.start, |b| b.is_ascii_digit());
            if hit.start - start == 12 && boundary_before(t, start) {
                out.push(start..hit.start);
            }
        }
        () if is(b".amazonaws.com/") => {
            if let Some(end) = account_number_at(t, hit.end).filter(|&e| t.get(e) == Some(&b'/')) {
                out.push(hit.end..end);
            }
        }
        () if t[hit.clone()].starts_with(b"AWS") => {
            // An IAM policy's principal: `"AWS": "123456789012"`, `"AWS": ["…", "…"]`.
            let word_end = hit.start + 3;
            if !boundary_before(t, hit.start) {
                return;
            }
            let gap = run_len(t, word_end, |b| is_label_gap(b) || b == b'[');
            let gap_text = &t[word_end..word_end + gap];
            let assigns = gap_text.iter().any(|&b| matches!(b, b':' | b'='))
                || gap_text.contains(&KEY_END) && is_json_key(t, hit.start, word_end + gap);
            if gap <= 6 && assigns {
                account_list(t, word_end + gap, out);
            }
        }
        () => {
            // "account" / "owner" labels: the first number within a short gap of letters,
            // quotes and separators ("Account ID: ", "\"OwnerId\": \""), then any list that follows.
            if !is_label(t, &hit) {
                return;
            }
            let window = &t[hit.end..t.len().min(hit.end + 40)];
            let Some(first_digit) = window.iter().position(u8::is_ascii_digit) else {
                return;
            };
            let gap = &window[..first_digit];
            let gap_ok = gap.iter().all(|&b| {
                b.is_ascii_alphabetic()
                    || matches!(b, b'_' | b'-' | b'#' | b'(' | b'[')
                    || is_label_gap(b)
            });
            if gap_ok {
                account_list(t, hit.end + first_digit, out);
            }
        }
    }
}

/// The account numbers from `at` on: one, or a list (`111…, 222…`, a JSON array, the
/// strings of a JSON array in a request's walk text).
fn account_list(t: &[u8], mut at: usize, out: &mut Vec<Range<usize>>) {
    while let Some(end) = account_number_at(t, at) {
        out.push(at..end);
        let sep = run_len(t, end, |b| {
            matches!(b, b' ' | b',' | b'"' | b'\'' | b'\n' | b'\t' | b'\0')
        });
        if sep == 0 || sep > 6 {
            break;
        }
        at = end + sep;
    }
}

fn iam_id(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if !boundary_before(t, hit.start) || !t[hit.clone()].iter().all(|b| is_upper_alnum(*b)) {
        return;
    }
    // Access key IDs are 20 characters; unique IDs 21, and shorter in AWS's documentation
    // (`AIDASAMPLEUSERID`), whose examples users paste as often as real output.
    let lengths = match &t[hit.clone()] {
        b"AKIA" | b"ASIA" | b"ABIA" | b"ACCA" | b"A3T" => 20..=21,
        _ => 16..=21,
    };
    let n = run_len(t, hit.start, is_upper_alnum);
    if lengths.contains(&n) && boundary_after(t, hit.start + n) {
        out.push(hit.start..hit.start + n);
    }
}

/// A 40-character base64 run at `start` with nothing base64 on either side (an `=` may lead
/// in, as in `KEY=value`, but not pad it out).
fn secret_at(t: &[u8], start: usize) -> Option<Range<usize>> {
    let before_ok = start == 0 || !is_base64(t[start - 1]);
    let n = run_len(t, start, is_base64);
    (before_ok && n == 40 && t.get(start + n) != Some(&b'=')).then_some(start..start + 40)
}

fn secret_access_key(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    let is_key_id = t[hit.clone()] == *b"AKIA" || t[hit.clone()] == *b"ASIA";
    if !is_key_id {
        // A label such as aws_secret_access_key / SecretAccessKey / "secret access key".
        if !is_label(t, &hit) {
            return;
        }
        if let Some(value) = skip_gap(t, hit.end, 24).and_then(|s| secret_at(t, s)) {
            out.push(value);
        }
        return;
    }
    let mut id = Vec::new();
    iam_id(at, &mut id);
    let Some(id) = id.pop() else { return };
    // Near a key ID: a mixed-case 40-character run within the next few lines (a 40-hex
    // git SHA has no capitals and is left alone).
    let window_end = t.len().min(id.end + 240);
    let mut i = id.end;
    while i < window_end {
        let n = run_len(t, i, is_base64);
        if n == 0 {
            i += 1;
            continue;
        }
        if let Some(value) = secret_at(t, i) {
            let v = &t[value.clone()];
            let mixed = v.iter().any(u8::is_ascii_lowercase)
                && v.iter().any(u8::is_ascii_uppercase)
                && v.iter().any(u8::is_ascii_digit);
            if mixed {
                out.push(value);
                return;
            }
        }
        i += n;
    }
}

fn session_token(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    let encoded_prefix = SESSION_TOKEN_PREFIXES
        .iter()
        .any(|p| t[hit.clone()].eq_ignore_ascii_case(p.as_bytes()));
    let start = if encoded_prefix {
        let exact = SESSION_TOKEN_PREFIXES
            .iter()
            .any(|p| t[hit.clone()] == *p.as_bytes());
        if !exact || (hit.start > 0 && is_base64(t[hit.start - 1])) {
            return;
        }
        hit.start
    } else {
        // A label, then at least one separator before the value.
        if !is_label(t, &hit) {
            return;
        }
        match skip_gap(t, hit.end, 24) {
            Some(s) if s > hit.end => s,
            _ => return,
        }
    };
    let n = encoded_token_len(t, start);
    if n >= 64 {
        out.push(start..start + n);
    }
}

/// The length of a base64 run from `start`, `=` padding included, and its URL-encoded form
/// too (`%2B`, `%2F`, `%3D`), as a presigned URL's `X-Amz-Security-Token` carries it. Read
/// no further than [`MAX_TOKEN_LEN`]: a longer run is no STS token, and a label word repeated
/// inside one long run must not read the rest of it from every hit.
fn encoded_token_len(t: &[u8], start: usize) -> usize {
    let mut at = start;
    let end = t.len().min(start + MAX_TOKEN_LEN);
    while let Some(&b) = t[..end].get(at) {
        if is_base64(b) || b == b'=' {
            at += 1;
        } else if b == b'%' && t.get(at + 1..at + 3).is_some_and(is_base64_escape) {
            at += 3;
        } else {
            break;
        }
    }
    at - start
}

/// Session tokens are a few hundred to about two thousand characters; URL-encoded, more.
const MAX_TOKEN_LEN: usize = 8192;

/// `2B`, `2F`, `3D` (either case): the percent-escapes of `+`, `/` and `=`.
fn is_base64_escape(hex: &[u8]) -> bool {
    matches!(hex, [b'2', b'b' | b'B' | b'f' | b'F'] | [b'3', b'd' | b'D'])
}

/// How STS session tokens begin once base64-encoded.
const SESSION_TOKEN_PREFIXES: &[&str] = &["IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdzE", "FQoGZXIvYXdzE"];

fn private_address(text: &str, hit: &Range<usize>) -> Option<usize> {
    let (octets, end) = parse_ipv4(text.as_bytes(), hit.start)?;
    is_private_ipv4(octets).then_some(end)
}

fn private_cidr(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    if let Some(end) = private_address(text, &hit).and_then(|e| cidr_suffix(text.as_bytes(), e)) {
        out.push(hit.start..end);
    }
}

fn private_ipv4(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    if let Some(end) = private_address(text, &hit) {
        out.push(hit.start..end);
    }
}

fn ec2_private_dns(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if !boundary_before(t, hit.start) || !is_exact(text, &hit, "ip-") {
        return;
    }
    let mut octets = [0u8; 4];
    let mut i = hit.end;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if t.get(i) != Some(&b'-') {
                return;
            }
            i += 1;
        }
        let digits = run_len(t, i, |b| b.is_ascii_digit());
        let Some(value) = std::str::from_utf8(&t[i..i + digits])
            .ok()
            .and_then(|s| s.parse::<u8>().ok())
        else {
            return;
        };
        if digits == 0 || digits > 3 {
            return;
        }
        *octet = value;
        i += digits;
    }
    if !boundary_after(t, i) || t.get(i) == Some(&b'-') || !is_private_ipv4(octets) {
        return;
    }
    // Take the domain along when it is EC2's internal one.
    let domain_len = run_len_within(t, i, 253, is_host_char).unwrap_or(0);
    let domain = &text[i..i + domain_len];
    let end = [".ec2.internal", ".compute.internal"]
        .iter()
        .find_map(|suffix| domain.find(suffix).map(|p| i + p + suffix.len()))
        .unwrap_or(i);
    out.push(hit.start..end);
}

/// `o-` and 10–32 lowercase letters or digits; `ou-`, 4–32 of them, `-`, 8–32 more.
fn organizations_id(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if !starts_lowercase_id(t, &hit) {
        return;
    }
    let is_id_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let first = run_len(t, hit.end, is_id_char);
    let end = if t[hit.clone()] == *b"o-" {
        (10..=32).contains(&first).then_some(hit.end + first)
    } else {
        let second_at = hit.end + first + 1;
        let second = run_len(t, second_at, is_id_char);
        let shaped = (4..=32).contains(&first) && (8..=32).contains(&second);
        (shaped && t.get(hit.end + first) == Some(&b'-')).then_some(second_at + second)
    };
    if let Some(end) = end.filter(|&e| boundary_after(t, e) && t.get(e) != Some(&b'-')) {
        out.push(hit.start..end);
    }
}

fn rds_resource_id(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if !starts_lowercase_id(t, &hit) {
        return;
    }
    let n = run_len(t, hit.end, is_upper_alnum);
    if n == 26 && boundary_after(t, hit.end + n) {
        out.push(hit.start..hit.end + n);
    }
}

/// The whole host name at a domain-suffix anchor, when it is of the `wanted` class.
fn host_of_class(at: &Hit, out: &mut Vec<Range<usize>>, wanted: HostClass) {
    if let Some(host) = at.aws_host() {
        if host.class == wanted {
            out.push(host.span.start..oidc_issuer_end(at.text.as_bytes(), host.span.end));
        }
    }
}

/// An EKS cluster's OIDC issuer names the cluster after the host
/// (`oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF`): the ID goes
/// with the host. Returns the end of the ID, or `host_end` when none follows.
fn oidc_issuer_end(t: &[u8], host_end: usize) -> usize {
    if !t[host_end..].starts_with(b"/id/") {
        return host_end;
    }
    let n = run_len(t, host_end + 4, is_upper_alnum);
    if n == 32 && boundary_after(t, host_end + 4 + n) {
        host_end + 4 + n
    } else {
        host_end
    }
}

fn route53_zone(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if !is_label(t, &hit) {
        return;
    }
    let window_end = t.len().min(hit.end + 32);
    for i in hit.end..window_end {
        if t[i] == b'Z' && boundary_before(t, i) {
            let n = run_len(t, i, is_upper_alnum);
            let id = &t[i..i + n];
            if (9..=32).contains(&n)
                && boundary_after(t, i + n)
                && id.iter().any(u8::is_ascii_digit)
            {
                out.push(i..i + n);
            }
            return;
        }
        if !(is_label_gap(t[i]) || matches!(t[i], b'/' | b'-' | b'_') || t[i].is_ascii_alphabetic())
        {
            return;
        }
    }
}

fn kms_key(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if t[hit.clone()].eq_ignore_ascii_case(b"mrk-") {
        let n = run_len(t, hit.end, is_lower_hex);
        if is_exact(text, &hit, "mrk-")
            && boundary_before(t, hit.start)
            && n == 32
            && boundary_after(t, hit.end + 32)
        {
            out.push(hit.start..hit.end + 32);
        }
        return;
    }
    if !is_label(t, &hit) {
        return;
    }
    // The key ID follows on the same line ("--key-id …", "\"KeyId\": \"…\"", "kms key …").
    let window = &t[hit.end..t.len().min(hit.end + 64)];
    let window_end = hit.end + memchr::memchr(b'\n', window).unwrap_or(window.len());
    for i in hit.end..window_end {
        if let Some(end) = parse_uuid(t, i) {
            out.push(i..end);
            return;
        }
    }
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
