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
