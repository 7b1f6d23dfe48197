//! Private addresses: RFC 1918 IPv4 addresses and CIDRs, EC2 private host names.

use super::*;

pub(super) fn private_address(text: &str, hit: &Range<usize>) -> Option<usize> {
    let (octets, end) = parse_ipv4(text.as_bytes(), hit.start)?;
    is_private_ipv4(octets).then_some(end)
}

pub(super) fn private_cidr(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    if let Some(end) = private_address(text, &hit).and_then(|e| cidr_suffix(text.as_bytes(), e)) {
        out.push(hit.start..end);
    }
}

pub(super) fn private_ipv4(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    if let Some(end) = private_address(text, &hit) {
        out.push(hit.start..end);
    }
}

pub(super) fn ec2_private_dns(at: &Hit, out: &mut Vec<Range<usize>>) {
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

/// How far past a public-address label its addresses are read (a list of a few CIDRs).
const ADDRESS_LIST_AT_MOST: usize = 512;

/// Public addresses where a label says whose they are: `"PublicIpAddress": "…"`,
/// `"PublicIp"`, `"CarrierIp"`, `"sourceIPAddress"`, `"Ipv6Address"`, `"CidrIp"`,
/// `cidr_blocks = […]`, `--cidr …`. Shared ranges (`0.0.0.0/0`, `::/0`), loopback and the
/// instance metadata address identify nobody and stay; private ones are their own kinds'.
pub(super) fn public_address(at: &Hit, out: &mut Vec<Range<usize>>) {
    let t = at.text.as_bytes();
    let hit = at.range.clone();
    let flag = hit.start >= 2 && &t[hit.start - 2..hit.start] == b"--";
    let segment = boundary_before(t, hit.start)
        || t[hit.start].is_ascii_uppercase()
        || matches!(t[hit.start - 1], b'_' | b'-');
    // The label's own end: `PublicIpAddress`, `Ipv6Addresses`, `CidrBlocks`.
    let end = hit.end + run_len(t, hit.end, |b| b.is_ascii_alphanumeric() || b == b'_');
    if !(flag || segment) {
        return;
    }
    let gap = run_len(t, end, |b| {
        matches!(
            b,
            b' ' | b'\t' | b'"' | b'\'' | b':' | b'=' | b'\\' | b'[' | b'\n' | b'\r'
        ) || b == KEY_END
            || b == 0
    });
    let gap_text = &t[end..end + gap];
    let assigns = gap_text
        .iter()
        .any(|&b| matches!(b, b':' | b'=') || b == KEY_END);
    if gap == 0 || gap > 64 || !(assigns || flag && gap_text == b" ") {
        return;
    }
    // One address, or the items of a list: each quoted or comma-separated.
    let mut at = end + gap;
    let limit = t.len().min(at + ADDRESS_LIST_AT_MOST);
    while at < limit {
        let Some(address_end) = ip_address_at(t, at) else {
            return;
        };
        let address = &t[at..address_end];
        if !is_shared_address(address) {
            out.push(at..address_end);
        }
        let sep = run_len(&t[..limit], address_end, |b| {
            matches!(
                b,
                b'"' | b'\'' | b',' | b' ' | b'\\' | b'\n' | b'\r' | b'\t'
            ) || b == 0
        });
        let separator = &t[address_end..address_end + sep];
        if !separator.contains(&b',') && !separator.contains(&0) {
            return;
        }
        at = address_end + sep;
    }
}

/// An IPv4 or IPv6 address (with an optional `/len`) at `start`; returns its end.
fn ip_address_at(t: &[u8], start: usize) -> Option<usize> {
    let end = match parse_ipv4(t, start) {
        Some((_, end)) => end,
        None => ipv6_at(t, start)?,
    };
    Some(cidr_suffix_any(t, end).unwrap_or(end))
}

/// A `/len` of up to 128 after an address.
fn cidr_suffix_any(t: &[u8], at: usize) -> Option<usize> {
    if t.get(at) != Some(&b'/') {
        return None;
    }
    let digits = run_len(t, at + 1, |b| b.is_ascii_digit());
    (1..=3).contains(&digits).then_some(at + 1 + digits)
}

/// An IPv6 address at `start`: hex groups of at most four digits, at least two colons, at
/// most one `::`, at most eight groups.
fn ipv6_at(t: &[u8], start: usize) -> Option<usize> {
    if start > 0 && (t[start - 1].is_ascii_hexdigit() || t[start - 1] == b':') {
        return None;
    }
    let len = run_len_within(t, start, 45, |b| b.is_ascii_hexdigit() || b == b':')?;
    let text = std::str::from_utf8(&t[start..start + len]).ok()?;
    let colons = text.bytes().filter(|&b| b == b':').count();
    let groups: Vec<&str> = text.split(':').collect();
    let valid = colons >= 2
        && text.matches("::").count() <= 1
        && !text.contains(":::")
        && groups.len() <= 9
        && groups.iter().all(|g| g.len() <= 4)
        && groups.iter().filter(|g| !g.is_empty()).count() >= 1
        && boundary_after(t, start + len);
    valid.then_some(start + len)
}

/// Addresses every network has: the whole Internet, loopback, the metadata service.
fn is_shared_address(address: &[u8]) -> bool {
    matches!(
        address,
        b"0.0.0.0" | b"0.0.0.0/0" | b"::" | b"::/0" | b"::1" | b"127.0.0.1" | b"169.254.169.254"
    ) || address.starts_with(b"127.")
        || parse_ipv4(address, 0).is_some_and(|(octets, _)| is_private_ipv4(octets))
}
