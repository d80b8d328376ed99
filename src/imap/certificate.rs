//! What a person needs to know about the certificate a server presented:
//! subject, issuer, names, validity, whether it is self-signed, and its two
//! fingerprints (SHA-256 of the certificate, SHA-256 of its public key).
//!
//! Owns a small reader of the DER fields it shows; it judges nothing (the
//! verdict is [`super::trust`]'s, the signatures webpki's). A field it cannot
//! read is shown as unknown rather than failing: this is for messages, and
//! for the validity check of a certificate the operator gave byte for byte.

use crate::model::InternalDate;
use sha2::{Digest, Sha256};

/// The fields of one X.509 certificate, read from its DER bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PresentedCertificate {
    /// The distinguished name, e.g. `CN=mail.example.org, O=Example`.
    pub(crate) subject: String,
    pub(crate) issuer: String,
    /// Subject alternative names: `DNS:…`, `IP:…`, `email:…`.
    pub(crate) names: Vec<String>,
    /// Seconds since the Unix epoch.
    pub(crate) not_before: Option<i64>,
    pub(crate) not_after: Option<i64>,
    /// Issuer and subject are the same name (it signed itself).
    pub(crate) self_signed: bool,
    /// `basicConstraints CA:TRUE`.
    pub(crate) is_ca: bool,
    /// SHA-256 of the whole certificate, as `AB:CD:…` (openssl's form).
    pub(crate) sha256: String,
    /// SHA-256 of the SubjectPublicKeyInfo, base64 (curl's pin form).
    pub(crate) spki_sha256: String,
}

impl PresentedCertificate {
    /// Reads what it can; `None` only when the bytes are not a certificate.
    pub(crate) fn read(der: &[u8]) -> Option<PresentedCertificate> {
        let (_, cert, _) = tlv(der)?;
        let (tag, tbs, _) = tlv(cert)?;
        if tag != SEQUENCE {
            return None;
        }
        let mut fields = Fields(tbs);
        if fields.peek() == Some(0xA0) {
            fields.next()?; // version
        }
        fields.next()?; // serial number
        fields.next()?; // signature algorithm
        let (_, issuer, issuer_raw) = fields.next()?;
        let (_, validity, _) = fields.next()?;
        let (_, subject, subject_raw) = fields.next()?;
        let (_, _, spki) = fields.next()?;
        let mut names = Vec::new();
        let mut is_ca = false;
        for (tag, body, _) in fields {
            if tag == 0xA3 {
                let (_, list, _) = tlv(body)?;
                read_extensions(list, &mut names, &mut is_ca);
            }
        }
        let mut times = Fields(validity);
        let not_before = times.next().and_then(|(t, v, _)| time(t, v));
        let not_after = times.next().and_then(|(t, v, _)| time(t, v));
        Some(PresentedCertificate {
            subject: distinguished_name(subject),
            issuer: distinguished_name(issuer),
            names,
            not_before,
            not_after,
            self_signed: issuer_raw == subject_raw,
            is_ca,
            sha256: hex_colons(&Sha256::digest(der)),
            spki_sha256: super::auth::base64(&Sha256::digest(spki)),
        })
    }

    /// `from … to …`, in UTC.
    pub(crate) fn validity(&self) -> String {
        let show = |t: Option<i64>| t.map_or_else(|| "?".to_string(), utc);
        format!("{} to {}", show(self.not_before), show(self.not_after))
    }
}

/// A moment as `2026-12-07 10:09:29 UTC`.
pub(crate) fn utc(unix: i64) -> String {
    // InternalDate knows the calendar; its IMAP form is `07-Dec-2026 10:09:29 +0000`.
    let imap = InternalDate::new(unix, 0).to_imap();
    let (date, rest) = imap.split_once(' ').unwrap_or((&imap, ""));
    let time = rest.split(' ').next().unwrap_or("");
    let mut parts = date.split('-');
    let (d, m, y) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let month = MONTHS.iter().position(|n| *n == m).map_or(0, |i| i + 1);
    format!("{y}-{month:02}-{d} {time} UTC")
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `AB:CD:…`, upper-case, as `openssl x509 -fingerprint` prints it.
pub(crate) fn hex_colons(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

const SEQUENCE: u8 = 0x30;

/// One DER element: its tag, its contents, and the whole element.
type Element<'a> = (u8, &'a [u8], &'a [u8]);

/// The first DER element of `input`.
fn tlv(input: &[u8]) -> Option<Element<'_>> {
    tlv_rest(input).map(|(element, _)| element)
}

/// The first DER element of `input`, and what follows it.
fn tlv_rest(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7F;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for &b in input.get(2..2 + n)? {
            len = len << 8 | b as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let contents = input.get(header..end)?;
    Some(((tag, contents, &input[..end]), &input[end..]))
}

/// The elements of a SEQUENCE or SET's contents, in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Element<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        let (element, rest) = tlv_rest(self.0)?;
        self.0 = rest;
        Some(element)
    }
}

const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1D, 0x11];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1D, 0x13];

fn read_extensions(list: &[u8], names: &mut Vec<String>, is_ca: &mut bool) {
    for (_, extension, _) in Fields(list) {
        let mut parts = Fields(extension);
        let Some((_, oid, _)) = parts.next() else {
            continue;
        };
        // An optional `critical` BOOLEAN, then the OCTET STRING.
        let Some(value) = parts.find(|(tag, _, _)| *tag == 0x04).map(|(_, v, _)| v) else {
            continue;
        };
        if oid == OID_SUBJECT_ALT_NAME {
            if let Some((_, general_names, _)) = tlv(value) {
                names.extend(Fields(general_names).filter_map(|(t, v, _)| general_name(t, v)));
            }
        } else if oid == OID_BASIC_CONSTRAINTS {
            if let Some((_, constraints, _)) = tlv(value) {
                *is_ca = matches!(Fields(constraints).next(), Some((0x01, [b, ..], _)) if *b != 0);
            }
        }
    }
}

fn general_name(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        0x81 => Some(format!("email:{}", String::from_utf8_lossy(value))),
        0x82 => Some(format!("DNS:{}", String::from_utf8_lossy(value))),
        0x87 => match value.len() {
            4 => Some(format!(
                "IP:{}",
                std::net::Ipv4Addr::from(<[u8; 4]>::try_from(value).ok()?)
            )),
            16 => Some(format!(
                "IP:{}",
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(value).ok()?)
            )),
            _ => None,
        },
        _ => None,
    }
}

/// `CN=…, O=…` in the certificate's own order.
fn distinguished_name(name: &[u8]) -> String {
    let mut parts = Vec::new();
    for (_, set, _) in Fields(name) {
        for (_, attribute, _) in Fields(set) {
            let mut f = Fields(attribute);
            let (Some((_, oid, _)), Some((tag, value, _))) = (f.next(), f.next()) else {
                continue;
            };
            let key = match oid {
                [0x55, 0x04, 0x03] => "CN".to_string(),
                [0x55, 0x04, 0x06] => "C".into(),
                [0x55, 0x04, 0x07] => "L".into(),
                [0x55, 0x04, 0x08] => "ST".into(),
                [0x55, 0x04, 0x0A] => "O".into(),
                [0x55, 0x04, 0x0B] => "OU".into(),
                [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01] => "emailAddress".into(),
                other => format!("OID:{}", hex_colons(other)),
            };
            let text = if tag == 0x1E {
                // BMPString: UTF-16BE.
                let units: Vec<u16> = value
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                    .collect();
                String::from_utf16_lossy(&units)
            } else {
                String::from_utf8_lossy(value).into_owned()
            };
            parts.push(format!("{key}={text}"));
        }
    }
    if parts.is_empty() {
        "(empty)".into()
    } else {
        parts.join(", ")
    }
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time(tag: u8, value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    if rest.len() != 10 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |i: usize| rest[i..i + 2].parse::<u32>().ok();
    let imap = format!(
        "{:02}-{}-{year:04} {:02}:{:02}:{:02} +0000",
        n(2)?,
        MONTHS.get(n(0)?.checked_sub(1)? as usize)?,
        n(4)?,
        n(6)?,
        n(8)?
    );
    InternalDate::parse(&imap).map(|d| d.unix())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
    /// -nodes -subj /CN=localhost/O=Example -addext subjectAltName=DNS:localhost,IP:127.0.0.1
    /// -days 30`: the self-signed recipe, CA:TRUE included.
    pub(crate) const RECIPE: &str = include_str!("../../fixtures/tls/recipe.pem");

    /// Its SHA-256 (lower-case here only so that no hex pair reads as a
    /// scenario ID to tests/docs.rs).
    pub(crate) const RECIPE_SHA256: &str =
        "c0:bc:8f:da:a7:1e:0c:a2:c4:00:a0:6f:a0:cb:ec:b2:e2:01:35:90:a8:d7:78:c7:73:88:b1:44:3a:43:28:48";

    pub(crate) fn der(pem: &str) -> Vec<u8> {
        rustls_pemfile::certs(&mut pem.as_bytes())
            .next()
            .unwrap()
            .unwrap()
            .to_vec()
    }

    #[test]
    fn the_self_signed_recipe_reads_as_openssl_shows_it() {
        let c = PresentedCertificate::read(&der(RECIPE)).unwrap();
        assert_eq!(c.subject, "CN=localhost, O=Example");
        assert_eq!(c.issuer, c.subject);
        assert!(c.self_signed && c.is_ca);
        assert_eq!(c.names, ["DNS:localhost", "IP:127.0.0.1"]);
        // From `openssl x509 -noout -fingerprint -sha256 -dates` and
        // `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
        // openssl dgst -sha256 -binary | base64`.
        assert_eq!(c.sha256, RECIPE_SHA256.to_uppercase());
        assert_eq!(
            c.spki_sha256,
            "kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw="
        );
        assert_eq!(
            c.validity(),
            "2026-12-07 10:11:44 UTC to 2027-01-06 10:11:44 UTC"
        );
    }

    #[test]
    fn what_is_not_a_certificate_reads_as_nothing() {
        assert_eq!(PresentedCertificate::read(b""), None);
        assert_eq!(PresentedCertificate::read(&[0x30, 0x05, 1]), None);
        assert_eq!(PresentedCertificate::read(&[0x30, 0x00]), None);
    }

    #[test]
    fn utc_times_read_both_encodings() {
        assert_eq!(time(0x17, b"261207100929Z"), Some(1_796_638_169));
        assert_eq!(time(0x18, b"20261207100929Z"), Some(1_796_638_169));
        assert_eq!(time(0x17, b"261307100929Z"), None);
        assert_eq!(utc(1_796_638_169), "2026-12-07 10:09:29 UTC");
    }
}
