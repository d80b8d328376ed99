//! The message for a refused server certificate: what was presented, why
//! it was refused in plain words, and what the operator can do — the exact
//! option to paste where pinning is the fix, and the warning to confirm the
//! fingerprint through another channel first. A wrong name or an expired
//! certificate may be an attack: those messages say so and offer the pin
//! only as a last resort, after the real fix.
//!
//! Owns only the words; the verdict is [`super::trust`]'s.

use super::certificate::utc;
use super::error::Peer;
use super::trust::{CertPin, Reason, Refusal};
use std::path::Path;

/// What the operator gave for this side: to name it in the message.
pub(crate) struct Given<'a> {
    pub(crate) ca_file: Option<&'a Path>,
    pub(crate) pins: &'a [CertPin],
}

/// The whole message (after `A (host:port): TLS: `): first line the
/// reason, then the certificate, then the advice.
pub(crate) fn explain(peer: &Peer, refusal: &Refusal, given: &Given<'_>) -> String {
    let side = peer.side.letter().to_ascii_lowercase();
    let option = format!("--{side}-fingerprint");
    let cert = refusal.certificate.as_ref();
    let is_ip = peer.host.parse::<std::net::IpAddr>().is_ok();
    let headline = match &refusal.reason {
        Reason::PinMismatch => format!(
            "the server's certificate matches none of the fingerprints pinned for {} ({}); \
             with a pin set, only a match is accepted",
            peer.side,
            given
                .pins
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Reason::Untrusted => {
            let trusted = match given.ca_file {
                Some(p) => format!(
                    "neither among the system's CAs nor in the CA file {}",
                    p.display()
                ),
                None => "not among the system's CAs, and no CA file was given".into(),
            };
            if cert.is_some_and(|c| c.self_signed) {
                format!("the server's certificate is self-signed, and it is {trusted}")
            } else {
                format!("the server's certificate was issued by a CA that is {trusted}")
            }
        }
        Reason::WrongName => format!(
            "the server's certificate is not valid for {} {}, the {} connected to: it names {}",
            if is_ip { "the address" } else { "the name" },
            peer.host,
            if is_ip { "address" } else { "name" },
            cert.map_or("?".into(), |c| names(&c.names, &c.subject))
        ),
        Reason::Expired => format!(
            "the server's certificate has expired (valid until {}; it is now {})",
            cert.and_then(|c| c.not_after).map_or("?".into(), utc),
            utc(refusal.now)
        ),
        Reason::NotYetValid => format!(
            "the server's certificate is not valid yet (valid from {}; it is now {}: is this \
             machine's clock right?)",
            cert.and_then(|c| c.not_before).map_or("?".into(), utc),
            utc(refusal.now)
        ),
        Reason::Other(why) => format!("the server's certificate was refused: {why}"),
    };

    let mut out = format!("{headline}.\n");
    let sni = if is_ip {
        format!("{} (an address: no name sent in SNI)", peer.host)
    } else {
        format!("{} (sent in SNI)", peer.host)
    };
    let mut line = |k: &str, v: &str| out.push_str(&format!("  {k:<12} {v}\n"));
    line("server:", &format!("{}:{}", peer.host, peer.port));
    line("checked as:", &sni);
    match cert {
        None => line("certificate:", "(unreadable)"),
        Some(c) => {
            line("subject:", &c.subject);
            let mut issuer = c.issuer.clone();
            match (c.self_signed, c.is_ca) {
                (true, true) => issuer.push_str(" (self-signed, marked CA:TRUE)"),
                (true, false) => issuer.push_str(" (self-signed)"),
                (false, true) => issuer.push_str(" (the certificate is marked CA:TRUE)"),
                (false, false) => {}
            }
            line("issuer:", &issuer);
            line("names:", &names(&c.names, &c.subject));
            line("valid:", &c.validity());
            line("sha256:", &c.sha256);
            line("spki-sha256:", &c.spki_sha256);
        }
    }

    let Some(c) = cert else {
        return out.trim_end().to_string();
    };
    let pin = format!("{option} sha256:{}", c.sha256);
    let confirm = "Confirm the sha256 fingerprint above through another channel first (on the \
                   server: openssl x509 -noout -fingerprint -sha256 -in CERT.pem), so that you pin \
                   your server's certificate and not an attacker's.";
    let config = format!(
        "(in a config file: fingerprint = [\"sha256:{}\"] under [{side}]; in a batch list: \
         the {side}_fingerprint column)",
        c.sha256
    );
    let advice = match &refusal.reason {
        Reason::Untrusted => format!(
            "If this is your server, trust this exact certificate with\n    {pin}\n{config},\nor \
             give {} with --{side}-ca-file.\n{confirm}",
            if c.self_signed {
                "this certificate's file"
            } else {
                "the CA certificate that issued it"
            }
        ),
        Reason::PinMismatch => format!(
            "If the server's certificate was renewed, replace the pin with\n    {pin}\n(or pin \
             its key, which survives a renewal that keeps it: {option} spki-sha256:{}).\n\
             Otherwise someone else may be answering for the server: do not connect.\n{confirm}",
            c.spki_sha256
        ),
        Reason::WrongName => format!(
            "Connect by a name the certificate carries, or have the server's certificate \
             issued for {}. A certificate for another name can also mean that someone else \
             is answering for the server (an attack): do not pin it unless you have confirmed \
             that it is your server's. Only then, as a last resort:\n    {pin}\n{confirm}",
            peer.host
        ),
        Reason::Expired | Reason::NotYetValid => format!(
            "Have the server's certificate renewed (or this machine's clock set right). An \
             out-of-date certificate can also be an old one replayed by someone else (an \
             attack): do not pin it unless you have confirmed that it is your server's. Only \
             then, as a stopgap:\n    {pin}\n{confirm}"
        ),
        Reason::Other(_) => {
            format!("If you have confirmed this is your server's certificate, pin it:\n    {pin}\n{confirm}")
        }
    };
    out.push_str(&advice);
    out
}

/// The names a certificate is valid for: its alternative names, else its
/// subject (which webpki does not accept as a name).
fn names(names: &[String], subject: &str) -> String {
    if names.is_empty() {
        format!("no alternative names (subject {subject})")
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::super::certificate::tests::{der, RECIPE};
    use super::super::certificate::PresentedCertificate;
    use super::*;
    use crate::model::Side;

    fn refusal(reason: Reason) -> Refusal {
        Refusal {
            reason,
            certificate: PresentedCertificate::read(&der(RECIPE)),
            now: 1_796_638_169,
        }
    }

    fn peer(host: &str) -> Peer {
        Peer {
            side: Side::B,
            host: host.into(),
            port: 993,
        }
    }

    fn pin() -> String {
        format!(
            "--b-fingerprint sha256:{}",
            super::super::certificate::tests::RECIPE_SHA256.to_uppercase()
        )
    }

    #[test]
    fn a_self_signed_certificate_is_described_with_the_pin_to_paste() {
        let given = Given {
            ca_file: None,
            pins: &[],
        };
        let text = explain(
            &peer("mail.example.org"),
            &refusal(Reason::Untrusted),
            &given,
        );
        for needle in [
            "the server's certificate is self-signed, and it is not among the system's CAs, \
             and no CA file was given.",
            "server:      mail.example.org:993",
            "checked as:  mail.example.org (sent in SNI)",
            "subject:     CN=localhost, O=Example",
            "issuer:      CN=localhost, O=Example (self-signed, marked CA:TRUE)",
            "names:       DNS:localhost, IP:127.0.0.1",
            "valid:       2026-12-07 10:11:44 UTC to 2027-01-06 10:11:44 UTC",
            "spki-sha256: kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw=",
            &pin(),
            "--b-ca-file",
            "through another channel",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
    }

    #[test]
    fn a_wrong_name_or_expiry_is_explained_before_any_pin() {
        let given = Given {
            ca_file: Some(Path::new("/etc/ca.pem")),
            pins: &[],
        };
        let text = explain(&peer("127.0.0.4"), &refusal(Reason::WrongName), &given);
        assert!(
            text.starts_with(
                "the server's certificate is not valid for the address 127.0.0.4, the address \
             connected to: it names DNS:localhost, IP:127.0.0.1."
            ),
            "{text}"
        );
        assert!(text.contains("(an address: no name sent in SNI)"), "{text}");
        let attack = text.find("attack").unwrap();
        assert!(attack < text.find(&pin()).unwrap(), "{text}");
        let text = explain(&peer("localhost"), &refusal(Reason::Expired), &given);
        assert!(
            text.starts_with(
                "the server's certificate has expired (valid until 2027-01-06 10:11:44 UTC; it is \
             now 2026-12-07 10:09:29 UTC)"
            ),
            "{text}"
        );
        assert!(
            text.find("renewed").unwrap() < text.find(&pin()).unwrap(),
            "{text}"
        );
    }

    #[test]
    fn a_pin_mismatch_names_the_pins_given_and_the_one_presented() {
        let pins = [
            CertPin::parse("sha256//kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vt0=")
                .unwrap_or(CertPin::PublicKey("x".into())),
        ];
        let given = Given {
            ca_file: None,
            pins: &pins,
        };
        let text = explain(&peer("localhost"), &refusal(Reason::PinMismatch), &given);
        assert!(text.starts_with(
            "the server's certificate matches none of the fingerprints pinned for B (spki-sha256:"
        ), "{text}");
        assert!(text.contains(&pin()) && text.contains("renewed"), "{text}");
    }
}
