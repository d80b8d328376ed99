//! Whom a TLS connection trusts, and why it refused a server.
//!
//! Three ways a server's certificate is accepted, in this order:
//! - a pin (`--a-fingerprint`): with any pin set, only a certificate (or
//!   public key) matching one is accepted, whatever CA signed it; chain,
//!   name and expiry are not checked — the operator vouched for this
//!   certificate — but the handshake signature is, as always;
//! - the server's own certificate in the CA file, byte for byte: accepted
//!   without a chain and whatever its CA flag (mbsync's `CertificateFile`
//!   rule, for the `openssl req -x509` certificate that carries CA:TRUE,
//!   which webpki refuses as a server's own), but only for a name it
//!   carries and while it is valid;
//! - a chain to a trust anchor: the system roots plus the CA file's
//!   certificates, checked by webpki (name and expiry included).
//!
//! A refusal is kept ([`Refusal`]) so the handshake's error can say what
//! was presented and what to do ([`super::refusal`]). There is no "accept
//! anything" mode: pinning is how to trust what no CA vouches for.

use super::certificate::{hex_colons, PresentedCertificate};
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::WebPkiSupportedAlgorithms;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// A certificate pin: the SHA-256 of the whole certificate, or of its
/// public key (SubjectPublicKeyInfo), which survives a renewal that keeps
/// the key. Held in the form [`PresentedCertificate`] shows, so a pin and
/// a presented certificate compare as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertPin {
    /// `AB:CD:…`, upper-case.
    Certificate(String),
    /// Base64 with padding.
    PublicKey(String),
}

impl CertPin {
    /// `sha256:HEX` (colons, spaces and case ignored: what `openssl x509
    /// -noout -fingerprint -sha256` prints, after the `=`, pastes in),
    /// `spki-sha256:BASE64`, or curl's `sha256//BASE64`.
    pub fn parse(spec: &str) -> Result<CertPin, String> {
        let spec = spec.trim();
        let lower = spec.to_ascii_lowercase();
        let form = "expected sha256:HEX (the certificate's SHA-256, as `openssl x509 -noout \
                    -fingerprint -sha256` prints it), spki-sha256:BASE64 or sha256//BASE64 (its \
                    public key's)";
        if let Some(b64) = lower
            .strip_prefix("sha256//")
            .or_else(|| lower.strip_prefix("spki-sha256:"))
            .map(|rest| &spec[spec.len() - rest.len()..])
        {
            let bytes = base64_decode(b64.trim())
                .filter(|b| b.len() == 32)
                .ok_or_else(|| {
                    format!(
                        "{spec:?}: the public-key pin is not the base64 of 32 bytes (a SHA-256); {form}"
                    )
                })?;
            return Ok(CertPin::PublicKey(super::auth::base64(&bytes)));
        }
        // `SHA256 Fingerprint=AB:…` as openssl prints it pastes in whole.
        let hex = lower
            .strip_prefix("sha256 fingerprint=")
            .or_else(|| lower.strip_prefix("sha256:"))
            .or_else(|| lower.strip_prefix("sha256="))
            .ok_or_else(|| format!("{spec:?}: {form}"))?;
        let digits: String = hex
            .chars()
            .filter(|c| *c != ':' && !c.is_whitespace())
            .collect();
        if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{spec:?}: a SHA-256 fingerprint is 64 hexadecimal digits (colons allowed); {form}"
            ));
        }
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect();
        Ok(CertPin::Certificate(hex_colons(&bytes)))
    }

    fn matches(&self, cert: &PresentedCertificate) -> bool {
        match self {
            CertPin::Certificate(hex) => *hex == cert.sha256,
            CertPin::PublicKey(b64) => *b64 == cert.spki_sha256,
        }
    }
}

impl std::str::FromStr for CertPin {
    type Err = String;
    fn from_str(s: &str) -> Result<CertPin, String> {
        CertPin::parse(s)
    }
}

impl fmt::Display for CertPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertPin::Certificate(hex) => write!(f, "sha256:{hex}"),
            CertPin::PublicKey(b64) => write!(f, "spki-sha256:{b64}"),
        }
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Why a certificate was refused, in the terms the message explains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Pins are set and none matches.
    PinMismatch,
    /// No trust anchor issued it (a self-signed certificate included).
    Untrusted,
    /// Valid, but not for the name (or address) we connected to.
    WrongName,
    Expired,
    NotYetValid,
    /// Anything else webpki refused, in plain words.
    Other(String),
}

/// What was refused: the reason, the certificate as presented, and the
/// name it was checked against.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) reason: Reason,
    pub(crate) certificate: Option<PresentedCertificate>,
    pub(crate) now: i64,
}

/// The verifier for one connection: see the module doc for the order.
#[derive(Debug)]
pub(crate) struct Verifier {
    /// None when there is no trust anchor at all (only pins can accept).
    chain: Option<Arc<WebPkiServerVerifier>>,
    /// The CA file's certificates, accepted as the server's own when
    /// byte-equal to what it presents.
    own: Vec<CertificateDer<'static>>,
    pins: Vec<CertPin>,
    algorithms: WebPkiSupportedAlgorithms,
    refusal: Mutex<Option<Refusal>>,
}

impl Verifier {
    pub(crate) fn new(
        chain: Option<Arc<WebPkiServerVerifier>>,
        own: Vec<CertificateDer<'static>>,
        pins: Vec<CertPin>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Verifier {
        Verifier {
            chain,
            own,
            pins,
            algorithms,
            refusal: Mutex::new(None),
        }
    }

    /// Why the last certificate was refused, if it was.
    pub(crate) fn refusal(&self) -> Option<Refusal> {
        self.refusal.lock().ok()?.clone()
    }

    pub(crate) fn pins(&self) -> &[CertPin] {
        &self.pins
    }

    fn judge(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
        presented: Option<&PresentedCertificate>,
    ) -> Result<(), (Reason, rustls::Error)> {
        let refused = |reason: Reason| {
            (
                reason,
                rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure),
            )
        };
        if !self.pins.is_empty() {
            return match presented {
                Some(c) if self.pins.iter().any(|p| p.matches(c)) => Ok(()),
                _ => Err(refused(Reason::PinMismatch)),
            };
        }
        if self.own.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            return own_certificate_holds(end_entity, server_name, now, presented);
        }
        let Some(chain) = &self.chain else {
            return Err(refused(Reason::Untrusted));
        };
        chain
            .verify_server_cert(end_entity, intermediates, server_name, &[], now)
            .map(|_| ())
            .map_err(|e| (reason_of(&e), e))
    }
}

/// The CA file holds this very certificate: the name and the dates still
/// have to fit, as for any certificate.
fn own_certificate_holds(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
    presented: Option<&PresentedCertificate>,
) -> Result<(), (Reason, rustls::Error)> {
    let fail = |reason: Reason, e: CertificateError| (reason, rustls::Error::InvalidCertificate(e));
    let parsed = webpki::EndEntityCert::try_from(end_entity).map_err(|e| {
        fail(
            Reason::Other(format!("unreadable: {e}")),
            CertificateError::BadEncoding,
        )
    })?;
    parsed
        .verify_is_valid_for_subject_name(server_name)
        .map_err(|_| fail(Reason::WrongName, CertificateError::NotValidForName))?;
    let now = now.as_secs() as i64;
    let (Some(from), Some(to)) = (
        presented.and_then(|c| c.not_before),
        presented.and_then(|c| c.not_after),
    ) else {
        return Err(fail(
            Reason::Other("its validity dates cannot be read".into()),
            CertificateError::BadEncoding,
        ));
    };
    if now < from {
        return Err(fail(Reason::NotYetValid, CertificateError::NotValidYet));
    }
    if now > to {
        return Err(fail(Reason::Expired, CertificateError::Expired));
    }
    Ok(())
}

/// webpki's verdict in the message's terms.
fn reason_of(e: &rustls::Error) -> Reason {
    let rustls::Error::InvalidCertificate(c) = e else {
        return Reason::Other(e.to_string());
    };
    match c {
        CertificateError::UnknownIssuer => Reason::Untrusted,
        // A CA certificate presented as the server's own, not in the CA
        // file: the self-signed recipe, untrusted as it stands.
        CertificateError::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
            Reason::Untrusted
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            Reason::WrongName
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => Reason::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            Reason::NotYetValid
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            Reason::Other("it is not issued for TLS servers (its extended key usage)".into())
        }
        CertificateError::BadSignature => {
            Reason::Other("a signature in its chain does not verify".into())
        }
        CertificateError::Revoked => Reason::Other("it has been revoked".into()),
        CertificateError::BadEncoding => Reason::Other("it is not a readable certificate".into()),
        other => Reason::Other(format!("{other:?}")),
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = PresentedCertificate::read(end_entity.as_ref());
        match self.judge(
            end_entity,
            intermediates,
            server_name,
            now,
            presented.as_ref(),
        ) {
            Ok(()) => Ok(ServerCertVerified::assertion()),
            Err((reason, error)) => {
                if let Ok(mut slot) = self.refusal.lock() {
                    *slot = Some(Refusal {
                        reason,
                        certificate: presented,
                        now: now.as_secs() as i64,
                    });
                }
                Err(error)
            }
        }
    }

    // The handshake signature proves the server holds the certificate's
    // key: checked whichever way the certificate was accepted.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex() -> String {
        super::super::certificate::tests::RECIPE_SHA256.to_uppercase()
    }

    #[test]
    fn pins_accept_openssls_and_curls_spellings() {
        let hex = hex();
        let want = CertPin::Certificate(hex.clone());
        for spec in [
            format!("sha256:{hex}"),
            format!("SHA256:{}", hex.to_lowercase()),
            format!("sha256:{}", hex.replace(':', "")),
            format!("sha256 Fingerprint={hex}"),
            format!("  sha256:{hex}\n"),
        ] {
            assert_eq!(CertPin::parse(&spec), Ok(want.clone()), "{spec}");
        }
        let key = CertPin::PublicKey("kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw=".into());
        for spec in [
            "spki-sha256:kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw=",
            "sha256//kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw=",
            "spki-sha256:kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw",
        ] {
            assert_eq!(CertPin::parse(spec), Ok(key.clone()), "{spec}");
        }
        assert_eq!(
            key.to_string(),
            "spki-sha256:kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw="
        );
        assert_eq!(want.to_string(), format!("sha256:{hex}"));
    }

    #[test]
    fn malformed_pins_are_refused_saying_the_forms() {
        for spec in [
            "c0:bc",
            "sha256:c0:bc",
            &format!("sha256:{}", hex().replace('C', "G")),
            "md5:AB:CD",
            "spki-sha256:not base64!",
            "sha256//Zm9v",
        ] {
            let e = CertPin::parse(spec).unwrap_err();
            assert!(
                e.contains("sha256:HEX") && e.contains("spki-sha256:BASE64"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_pin_matches_the_certificate_or_its_key() {
        let cert = PresentedCertificate::read(&super::super::certificate::tests::der(
            super::super::certificate::tests::RECIPE,
        ))
        .unwrap();
        assert!(CertPin::parse(&format!("sha256:{}", hex()))
            .unwrap()
            .matches(&cert));
        assert!(
            CertPin::parse("sha256//kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw=")
                .unwrap()
                .matches(&cert)
        );
        let other = format!("sha256:{}", "D".to_string() + &hex()[1..]);
        assert!(!CertPin::parse(&other).unwrap().matches(&cert));
    }
}
