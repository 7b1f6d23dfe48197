//! S3 bucket names: in URLs, host names, ARNs, after labels, in `list-buckets` and `aws s3 ls`
//! listings, and names that carry `bucket` as a segment.

use super::*;

pub(super) fn is_bucket_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
}

/// A bucket name of 3–63 characters at `start`, with trailing dots and dashes trimmed.
pub(super) fn bucket_at(t: &[u8], start: usize) -> Option<Range<usize>> {
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
pub(super) const NOT_BUCKET_LEADS: &[&str] = &[
    "create", "delete", "get", "put", "head", "list", "describe", "update", "aws", "s3", "gcs",
];

pub(super) fn s3_bucket(at: &Hit, out: &mut Vec<Range<usize>>) {
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
pub(super) fn labelled_or_bucket_like(t: &[u8], hit: Range<usize>, out: &mut Vec<Range<usize>>) {
    bucket_label(t, &hit, out);
    if t[hit.clone()].eq_ignore_ascii_case(b"bucket") && t.get(hit.end) == Some(&b's') {
        bucket_listing(t, hit.end + 1, out);
    }
    if t[hit.clone()] == *b"bucket" {
        bucket_like_name(t, &hit, out);
    }
}

/// The value after a bucket label: the word, an optional name/Name suffix, a short gap.
pub(super) fn bucket_label(t: &[u8], hit: &Range<usize>, out: &mut Vec<Range<usize>>) {
    let label_end = hit.end
        + [&b"name"[..], b"_name", b"-name"]
            .iter()
            .find(|s| {
                t[hit.end..].len() >= s.len()
                    && t[hit.end..hit.end + s.len()].eq_ignore_ascii_case(s)
            })
            .map_or(0, |s| s.len());
    let flag = hit.start >= 2 && &t[hit.start - 2..hit.start] == b"--";
    // Every key that ends in Bucket or BucketName labels one: `TargetBucket`, `S3Bucket`.
    let segment = hit.start > 0
        && t[hit.start] == b'B'
        && (t[hit.start - 1].is_ascii_lowercase() || t[hit.start - 1].is_ascii_digit());
    let key_like = flag
        || (boundary_before(t, hit.start) || segment)
            && !t.get(label_end).is_some_and(u8::is_ascii_alphanumeric);
    if !key_like {
        return;
    }
    // `\` too: a label in JSON held in a string (`\"bucketName\":\"…\"`).
    let gap = run_len(t, label_end, |b| {
        matches!(
            b,
            b' ' | b'\t' | b'"' | b'\'' | b'`' | b':' | b'=' | b'(' | b'\\' | KEY_END
        )
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
    // Aligned assignments (`bucket         = "…"` in Terraform) pad with spaces.
    let padding = gap_text
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if gap == 0 || gap > 32 || gap - padding > 6 || !(flag || assigns || prose) {
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
pub(super) fn is_json_key(t: &[u8], start: usize, value_start: usize) -> bool {
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
pub(super) fn bucket_listing(t: &[u8], from: usize, out: &mut Vec<Range<usize>>) {
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
pub(super) fn bucket_like_name(t: &[u8], hit: &Range<usize>, out: &mut Vec<Range<usize>>) {
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
pub(super) fn s3_host_labels_start(name: &[u8]) -> Option<usize> {
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
pub(super) fn s3_listing_line(t: &[u8], hit: &Range<usize>, out: &mut Vec<Range<usize>>) {
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

pub(super) fn trim_name(t: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && !t[start].is_ascii_alphanumeric() {
        start += 1;
    }
    while end > start && !t[end - 1].is_ascii_alphanumeric() {
        end -= 1;
    }
    (start, end)
}
