//! Byte-level helpers the catalog's matchers share: boundaries, runs, and the small parsers
//! (dotted quads, UUIDs, ARNs, AWS host names) that a regex alone would over-match.
//!
//! Every helper works on the decoded text of one JSON string (or one plain-text input) and
//! never allocates.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// True when no ASCII letter or digit touches position `i` from the left.
pub fn boundary_before(t: &[u8], i: usize) -> bool {
    i == 0 || !t[i - 1].is_ascii_alphanumeric()
}

/// True when no ASCII letter or digit stands at position `i`.
pub fn boundary_after(t: &[u8], i: usize) -> bool {
    t.get(i).is_none_or(|b| !b.is_ascii_alphanumeric())
}

/// Length of the run of bytes from `from` that satisfy `pred`.
pub fn run_len(t: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> usize {
    t.get(from..)
        .map_or(0, |rest| rest.iter().take_while(|&&b| pred(b)).count())
}

/// Start of the run of bytes ending just before `to` that satisfy `pred`.
pub fn run_start(t: &[u8], to: usize, pred: impl Fn(u8) -> bool) -> usize {
    to - t[..to].iter().rev().take_while(|&&b| pred(b)).count()
}

/// [`run_len`] for a run of at most `max` bytes; `None` when it is longer (see
/// [`run_start_within`]).
pub fn run_len_within(
    t: &[u8],
    from: usize,
    max: usize,
    pred: impl Fn(u8) -> bool,
) -> Option<usize> {
    let rest = t.get(from..).unwrap_or_default();
    let n = rest.iter().take(max + 1).take_while(|&&b| pred(b)).count();
    (n <= max).then_some(n)
}

/// [`run_start`] for a run of at most `max` bytes; `None` when it is longer. Matchers that
/// look back from every hit use it, so that a text made of one long run costs a bounded read
/// per hit, not a read of the whole run.
pub fn run_start_within(
    t: &[u8],
    to: usize,
    max: usize,
    pred: impl Fn(u8) -> bool,
) -> Option<usize> {
    let n = t[..to]
        .iter()
        .rev()
        .take(max + 1)
        .take_while(|&&b| pred(b))
        .count();
    (n <= max).then_some(to - n)
}

pub fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

pub fn is_upper_alnum(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

pub fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

pub fn is_host_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// Characters that may stand between a label (`"SecretAccessKey": "`, `account id `) and
/// the value it names. NUL and 0x01 end a value and a key in a request's walk text, where a
/// JSON key is followed by its value. A backslash is the escape of a quote in JSON held in a
/// string (`{\"accountId\":\"…\"}`, as CloudTrail events print), at any depth.
pub fn is_label_gap(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | b'\\'
            | b'\n'
            | b'\r'
            | b'"'
            | b'\''
            | b'`'
            | b':'
            | b'='
            | b'|'
            | b','
            | b'\0'
            | b'\x01'
    )
}

/// Skips label-gap characters from `from`, at most `max` of them; returns where the value starts.
pub fn skip_gap(t: &[u8], from: usize, max: usize) -> Option<usize> {
    let n = run_len(t, from, is_label_gap);
    (n <= max).then_some(from + n)
}

/// A dotted-quad IPv4 address at `start` with valid octets (no leading zeros, each ≤ 255)
/// and not part of a longer dotted number. Returns the octets and the end offset.
pub fn parse_ipv4(t: &[u8], start: usize) -> Option<([u8; 4], usize)> {
    if start > 0 && (t[start - 1].is_ascii_alphanumeric() || t[start - 1] == b'.') {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut i = start;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if t.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let digits = run_len(t, i, |b| b.is_ascii_digit());
        if digits == 0 || digits > 3 || (digits > 1 && t[i] == b'0') {
            return None;
        }
        let value: u32 = t[i..i + digits]
            .iter()
            .fold(0, |v, &d| v * 10 + u32::from(d - b'0'));
        *octet = u8::try_from(value).ok()?;
        i += digits;
    }
    let longer_number = t.get(i) == Some(&b'.') && t.get(i + 1).is_some_and(u8::is_ascii_digit);
    if !boundary_after(t, i) || longer_number {
        return None;
    }
    Some((octets, i))
}

/// RFC 1918 ranges: 10/8, 172.16/12, 192.168/16.
pub fn is_private_ipv4(o: [u8; 4]) -> bool {
    o[0] == 10 || (o[0] == 172 && (16..=31).contains(&o[1])) || (o[0] == 192 && o[1] == 168)
}

/// A `/len` suffix (0–32) right after an address, returning its end.
pub fn cidr_suffix(t: &[u8], at: usize) -> Option<usize> {
    if t.get(at) != Some(&b'/') {
        return None;
    }
    let digits = run_len(t, at + 1, |b| b.is_ascii_digit());
    let len: u32 = std::str::from_utf8(&t[at + 1..at + 1 + digits])
        .ok()?
        .parse()
        .ok()?;
    (digits > 0 && digits <= 2 && len <= 32 && boundary_after(t, at + 1 + digits))
        .then_some(at + 1 + digits)
}

/// A lowercase 8-4-4-4-12 UUID at `start`, bounded on both sides; returns its end.
pub fn parse_uuid(t: &[u8], start: usize) -> Option<usize> {
    if !boundary_before(t, start) {
        return None;
    }
    let mut i = start;
    for (n, len) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if n > 0 {
            if t.get(i) != Some(&b'-') {
                return None;
            }
            i += 1;
        }
        if run_len(t, i, is_lower_hex) < len {
            return None;
        }
        i += len;
    }
    boundary_after(t, i).then_some(i)
}

/// The parts of an ARN found at an `arn:` anchor.
pub struct Arn {
    pub span: Range<usize>,
    pub service: Range<usize>,
    pub account: Option<Range<usize>>,
    pub resource: Range<usize>,
}

/// Parses the ARN that starts at `start` (the `a` of `arn:`), any partition, any service:
/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, each of the first four ending at the next
/// `:`, read in one pass without a regex (ARNs stand thick in `aws` output, and a regex with
/// captures cost tens of thousands of instructions per ARN). Trailing sentence punctuation
/// is not part of the resource. An ARN is at most 2048 bytes: nothing further is read.
pub fn parse_arn(text: &str, start: usize) -> Option<Arn> {
    let t = text.as_bytes();
    if !boundary_before(t, start) || !t[start..].starts_with(b"arn:") {
        return None;
    }
    let mut limit = text.len().min(start + 2048);
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let t = &t[..limit];
    let mut at = start + 4;
    let partition = next_segment(t, &mut at)?;
    let service = next_segment(t, &mut at)?;
    let region = next_segment(t, &mut at)?;
    let account = next_segment(t, &mut at)?;
    let is_region_byte = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    let service_ok = t[service.clone()]
        .split_first()
        .is_some_and(|(&first, rest)| {
            (first.is_ascii_lowercase() || first.is_ascii_digit())
                && rest.iter().all(|&b| is_region_byte(b) || b == b'.')
        });
    if !is_partition(&t[partition]) || !service_ok || !t[region].iter().all(|&b| is_region_byte(b))
    {
        return None;
    }
    let account = match &text[account.clone()] {
        "" | "aws" => None,
        digits if is_twelve_digits(digits) => Some(account),
        _ => return None,
    };
    let resource_len = run_len(t, at, is_arn_resource_byte);
    let trimmed = text[at..at + resource_len]
        .trim_end_matches(['.', ',', ':', ';'])
        .len();
    if trimmed == 0 {
        return None;
    }
    let resource = at..at + trimmed;
    Some(Arn {
        span: start..resource.end,
        service,
        account,
        resource,
    })
}

/// The bytes from `*at` to the next `:`, moving `*at` past that `:`.
fn next_segment(t: &[u8], at: &mut usize) -> Option<Range<usize>> {
    let len = memchr::memchr(b':', t.get(*at..)?)?;
    let segment = *at..*at + len;
    *at += len + 1;
    Some(segment)
}

/// The partitions AWS has: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b` and its
/// like, `aws-eusc`.
fn is_partition(p: &[u8]) -> bool {
    match p {
        b"aws" | b"aws-cn" | b"aws-us-gov" | b"aws-iso" | b"aws-eusc" => true,
        [b'a', b'w', b's', b'-', b'i', b's', b'o', b'-', letter] => letter.is_ascii_lowercase(),
        _ => false,
    }
}

/// Twelve decimal digits: ASCII as AWS writes them, or any script's (read as digits too, so
/// that such an account is masked rather than let through).
fn is_twelve_digits(s: &str) -> bool {
    static UNICODE_DIGITS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\d{12}$").expect("the digits pattern compiles"));
    if s.is_ascii() {
        s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
    } else {
        UNICODE_DIGITS.is_match(s)
    }
}

/// A byte an ARN's resource part may hold.
fn is_arn_resource_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_+=,.@/:*$#%!~-".contains(&b)
}

/// How an `*.amazonaws.com` (or `.on.aws`, `.cloudfront.net`) host name is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostClass {
    /// A shared AWS service endpoint such as `ec2.us-east-1.amazonaws.com`: not an identifier.
    PublicEndpoint,
    /// `bucket.s3.amazonaws.com` and its regional/website forms; the bucket is the identifier.
    S3VirtualHost {
        bucket_end: usize,
    },
    /// `s3.amazonaws.com`, `s3.eu-west-1.amazonaws.com`: a bucket may follow in the path.
    S3PathStyle,
    Rds,
    ElastiCache,
    LoadBalancer,
    Eks,
    ApiGateway,
    CloudFront,
    Other,
}

/// An AWS host name found at a domain-suffix anchor.
pub struct AwsHost {
    pub span: Range<usize>,
    pub class: HostClass,
}

/// Extends the suffix anchor at `hit` (e.g. `.amazonaws.com`) to the whole host name and
/// classifies it.
pub fn parse_aws_host(t: &[u8], hit: Range<usize>) -> Option<AwsHost> {
    let suffix = &t[hit.clone()];
    let mut end = hit.end;
    if suffix.eq_ignore_ascii_case(b".amazonaws.com") && t[end..].starts_with(b".cn") {
        end += 3;
    }
    if t.get(end)
        .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    // A host name is at most 253 bytes.
    let mut start = run_start_within(t, hit.start, 253, is_host_char)?;
    while start < hit.start && matches!(t[start], b'.' | b'-') {
        start += 1;
    }
    if start == hit.start || (start > 0 && matches!(t[start - 1], b'_')) {
        return None;
    }
    let name = &t[start..hit.start];
    if name.windows(2).any(|w| w == b"..") {
        return None;
    }
    let class = if suffix.eq_ignore_ascii_case(b".cloudfront.net") {
        HostClass::CloudFront
    } else if suffix.eq_ignore_ascii_case(b".awsapps.com") {
        // An IAM Identity Center portal (`acme.awsapps.com/start`) is named after its company.
        HostClass::Other
    } else {
        classify_labels(name, start)
    };
    Some(AwsHost {
        span: start..end,
        class,
    })
}

/// Classifies a host by the labels before its AWS suffix (`name`, starting at `start`).
fn classify_labels(name: &[u8], start: usize) -> HostClass {
    let labels = || name.split(|&b| b == b'.');
    let is_s3_label = |l: &[u8]| l == b"s3" || l.starts_with(b"s3-");
    let first = labels().next().unwrap_or_default();
    if is_s3_label(first) {
        return HostClass::S3PathStyle;
    }
    let mut offset = 0;
    for label in labels() {
        if is_s3_label(label) {
            return HostClass::S3VirtualHost {
                bucket_end: start + offset - 1,
            };
        }
        offset += label.len() + 1;
    }
    let public_service = first
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit())
        && first.iter().filter(|b| b.is_ascii_digit()).count() <= 1;
    let mut after_first = labels();
    after_first.next();
    if public_service && after_first.all(|l| is_region(l) || l == b"dualstack") {
        return HostClass::PublicEndpoint;
    }
    let has = |wanted: &[u8]| labels().any(|l| l == wanted);
    if has(b"rds") {
        HostClass::Rds
    } else if has(b"cache") {
        HostClass::ElastiCache
    } else if has(b"elb") {
        HostClass::LoadBalancer
    } else if has(b"eks") {
        HostClass::Eks
    } else if has(b"execute-api") {
        HostClass::ApiGateway
    } else {
        HostClass::Other
    }
}

/// An AWS region name such as `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
pub fn is_region(label: &[u8]) -> bool {
    let word = |p: &[u8]| !p.is_empty() && p.iter().all(u8::is_ascii_lowercase);
    let mut parts = label.split(|&b| b == b'-');
    let first = parts.next().unwrap_or_default();
    let (mut words, mut last) = (0, None);
    for part in parts {
        if let Some(previous) = last.replace(part) {
            if !word(previous) {
                return false;
            }
            words += 1;
        }
    }
    first.len() == 2
        && word(first)
        && words >= 1
        && last.is_some_and(|l: &[u8]| l.len() == 1 && l[0].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_rejects_leading_zeros_large_octets_and_longer_numbers() {
        assert!(parse_ipv4(b"10.0.0.1", 0).is_some());
        assert!(parse_ipv4(b"10.0.0.256", 0).is_none());
        assert!(parse_ipv4(b"10.01.0.1", 0).is_none());
        assert!(parse_ipv4(b"10.0.0.1.5", 0).is_none());
        assert!(parse_ipv4(b"v10.0.0.1", 1).is_none());
        assert!(parse_ipv4(b"10.0.0", 0).is_none());
        assert_eq!(parse_ipv4(b"10.0.0.1.", 0).map(|(_, e)| e), Some(8));
    }

    #[test]
    fn arn_trailing_punctuation_is_not_part_of_the_resource() {
        let text = "see arn:aws:iam::123456789012:role/Admin.";
        let arn = parse_arn(text, 4).expect("an ARN");
        assert_eq!(&text[arn.span], "arn:aws:iam::123456789012:role/Admin");
        assert_eq!(&text[arn.account.expect("account")], "123456789012");
        assert_eq!(&text[arn.service], "iam");
    }

    /// An ARN's span, service, account and resource.
    type ArnParts = (
        Range<usize>,
        Range<usize>,
        Option<Range<usize>>,
        Range<usize>,
    );

    /// The ARN grammar as one regex: the spec [`parse_arn`] is checked against.
    fn arn_by_regex(text: &str, start: usize) -> Option<ArnParts> {
        let t = text.as_bytes();
        if !boundary_before(t, start) {
            return None;
        }
        let regex = Regex::new(
            r"^arn:(?:aws|aws-cn|aws-us-gov|aws-iso|aws-iso-[a-z]|aws-eusc):([a-z0-9][a-z0-9.-]*):[a-z0-9-]*:(\d{12}|aws)?:([A-Za-z0-9_+=,.@/:*$#%!~-]+)",
        )
        .expect("compiles");
        let mut end = text.len().min(start + 2048);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let caps = regex.captures(&text[start..end])?;
        let shift = |r: Range<usize>| start + r.start..start + r.end;
        let resource = shift(caps.get(3)?.range());
        let trimmed = text[resource.clone()]
            .trim_end_matches(['.', ',', ':', ';'])
            .len();
        (trimmed > 0).then(|| {
            let resource = resource.start..resource.start + trimmed;
            (
                start..resource.end,
                shift(caps.get(1).expect("service").range()),
                caps.get(2)
                    .filter(|m| m.as_str() != "aws")
                    .map(|m| shift(m.range())),
                resource,
            )
        })
    }

    proptest::proptest! {
        #[test]
        fn the_arn_parser_reads_what_the_grammar_says(
            // The five parts, each one that fits its place more often than not.
            partition in "aws|aws-cn|aws-iso-[a-z]|aws-isob|azure|AWS|",
            service in "[a-z0-9][a-z0-9.-]{0,5}|[A-Z_:]{0,2}",
            region in "[a-z0-9-]{0,9}|[A-Z:]",
            account in "[0-9]{12}|aws|[0-9]{11,13}|١٢٣٤٥٦٧٨٩٠١٢|",
            resource in "[A-Za-z0-9_+=,.@/:*$#%!~ ;é-]{0,16}",
            lead in "[ a\"]?",
        ) {
            let text = format!("{lead}arn:{partition}:{service}:{region}:{account}:{resource}");
            let start = lead.len();
            let parsed = parse_arn(&text, start)
                .map(|arn| (arn.span, arn.service, arn.account, arn.resource));
            proptest::prop_assert_eq!(parsed, arn_by_regex(&text, start), "{:?}", text);
        }
    }

    #[test]
    fn an_arn_is_read_only_within_its_partition_service_region_and_account() {
        let span = |text: &str| parse_arn(text, 0).map(|arn| text[arn.span].to_owned());
        assert_eq!(
            span("arn:aws-iso-b:s3:::bucket"),
            Some("arn:aws-iso-b:s3:::bucket".into())
        );
        assert_eq!(
            span("arn:aws:sts::aws:assumed-role/x"),
            Some("arn:aws:sts::aws:assumed-role/x".into())
        );
        assert_eq!(span("arn:azure:s3:::bucket"), None);
        assert_eq!(span("arn:aws:S3:::bucket"), None);
        assert_eq!(span("arn:aws:iam::12345678901:role/x"), None);
        assert_eq!(span("arn:aws:iam::123456789012:"), None);
        assert_eq!(span("arn:aws:iam::123456789012:;."), None);
        let long = format!("arn:aws:s3:::{}", "a".repeat(3000));
        assert_eq!(parse_arn(&long, 0).map(|arn| arn.span), Some(0..2048));
        assert_eq!(
            parse_arn(&long, 0).map(|arn| arn.resource),
            arn_by_regex(&long, 0).map(|(_, _, _, resource)| resource)
        );
    }

    #[test]
    fn regions_are_recognised() {
        for r in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
        ] {
            assert!(is_region(r.as_bytes()), "{r}");
        }
        for r in ["compute-1", "us-east", "dualstack", "gr7"] {
            assert!(!is_region(r.as_bytes()), "{r}");
        }
    }

    #[test]
    fn public_endpoints_are_told_apart_from_resource_hosts() {
        let class = |host: &str| {
            let at = host.find(".amazonaws.com").expect("suffix");
            parse_aws_host(host.as_bytes(), at..at + 14).map(|h| h.class)
        };
        assert_eq!(
            class("ec2.us-east-1.amazonaws.com"),
            Some(HostClass::PublicEndpoint)
        );
        assert_eq!(class("sts.amazonaws.com"), Some(HostClass::PublicEndpoint));
        assert_eq!(
            class("s3.eu-west-1.amazonaws.com"),
            Some(HostClass::S3PathStyle)
        );
        assert_eq!(
            class("mydb.abc123.us-east-1.rds.amazonaws.com"),
            Some(HostClass::Rds)
        );
        assert!(matches!(
            class("logs.bucket.s3.us-east-1.amazonaws.com"),
            Some(HostClass::S3VirtualHost { bucket_end: 11 })
        ));
        assert_eq!(
            class("ec2-54-1-2-3.compute-1.amazonaws.com"),
            Some(HostClass::Other)
        );
    }
}
