//! ARNs (Lambda functions get their own kind) and AWS resource host names by class (RDS,
//! ElastiCache, load balancers, EKS, API Gateway, CloudFront, …), EKS OIDC issuers, Route 53
//! hosted zones.

use super::*;

pub(super) fn lambda_arn(at: &Hit, out: &mut Vec<Range<usize>>) {
    if let Some(arn) = at.arn() {
        let text = at.text;
        if &text[arn.service.clone()] == "lambda"
            && text[arn.resource.clone()].starts_with("function:")
        {
            out.push(arn.span.clone());
        }
    }
}

pub(super) fn any_arn(at: &Hit, out: &mut Vec<Range<usize>>) {
    if let Some(arn) = at.arn() {
        out.push(arn.span.clone());
        return;
    }
    // `"RoleArn": "…"`, `TopicArn: …`: the value of a …Arn key, whatever its shape. The
    // word alone labels only as a whole key (`"Arn": …`); in prose, `arn:` is just a word.
    let t = at.text.as_bytes();
    let label = at.range.start..at.range.start + 3;
    let is_key = matches!(t.get(label.end), Some(&b'"') | Some(&KEY_END));
    if boundary_before(t, label.start) && !is_key {
        return;
    }
    if let Some(value) = labelled_value(t, label, 3) {
        out.push(value);
    }
}

/// The whole host name at a domain-suffix anchor, when it is of the `wanted` class.
pub(super) fn host_of_class(at: &Hit, out: &mut Vec<Range<usize>>, wanted: HostClass) {
    if let Some(host) = at.aws_host() {
        if host.class == wanted {
            out.push(host.span.start..oidc_issuer_end(at.text.as_bytes(), host.span.end));
        }
    }
}

/// An EKS cluster's OIDC issuer names the cluster after the host
/// (`oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF`): the ID goes
/// with the host. Returns the end of the ID, or `host_end` when none follows.
pub(super) fn oidc_issuer_end(t: &[u8], host_end: usize) -> usize {
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

pub(super) fn route53_zone(at: &Hit, out: &mut Vec<Range<usize>>) {
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
