//! Transports: a TCP connection (TCP_NODELAY), optionally wrapped in TLS —
//! from the first byte (implicit TLS) or after STARTTLS — or a tunnel
//! command's pipes ([`super::tunnel`]). Whom TLS trusts is
//! [`super::trust`]'s to say.
//!
//! It knows nothing of IMAP; the engine reads and writes a [`Stream`].

use super::certificate_message::{self, Given};
use super::error::{ImapError, Peer};
use super::trust::{CertPin, Verifier};
use super::tunnel::Tunnel;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::TlsConnector;

/// A connected byte stream: plain TCP, TLS, or a tunnel command's pipes.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Tunnel(Box<Tunnel>),
    /// COMPRESS=DEFLATE over one of the others.
    Deflate(Box<super::deflate::Deflated>),
}

impl Stream {
    pub(crate) fn is_tls(&self) -> bool {
        match self {
            Stream::Tls(_) => true,
            Stream::Deflate(d) => d.inner().is_tls(),
            _ => false,
        }
    }

    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Tls(s) => Some(s.get_ref().0),
            Stream::Tunnel(_) => None,
            Stream::Deflate(d) => d.inner().tcp(),
        }
    }

    /// The address we are actually connected to (none through a tunnel).
    pub(crate) fn peer_ip(&self) -> Option<IpAddr> {
        self.tcp()?.peer_addr().ok().map(|a| a.ip())
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Tunnel(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Tunnel(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Tunnel(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Tunnel(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Opens the TCP connection (every resolved address in turn) within `limit`.
pub(crate) async fn connect_tcp(peer: &Peer, limit: Duration) -> Result<TcpStream, ImapError> {
    let attempt = TcpStream::connect((peer.host.as_str(), peer.port));
    let tcp = match tokio::time::timeout(limit, attempt).await {
        Err(_) => {
            return Err(ImapError::Timeout {
                peer: peer.clone(),
                during: "connecting".into(),
                secs: limit.as_secs(),
            })
        }
        Ok(Err(source)) => {
            return Err(ImapError::Connect {
                peer: peer.clone(),
                source,
            })
        }
        Ok(Ok(tcp)) => tcp,
    };
    tcp.set_nodelay(true).map_err(|source| ImapError::Connect {
        peer: peer.clone(),
        source,
    })?;
    Ok(tcp)
}

/// A TLS client for one connection, and the verifier that remembers why
/// it refused a certificate (for the message).
pub(crate) struct TlsClient {
    connector: TlsConnector,
    verifier: Arc<Verifier>,
    ca_file: Option<std::path::PathBuf>,
}

/// A TLS client trusting what [`super::trust`] describes: `pins` alone when
/// any is given, else the server's own certificate in `ca_file`, else a
/// chain to the system roots or a CA of `ca_file` (PEM).
pub(crate) fn connector(
    peer: &Peer,
    ca_file: Option<&Path>,
    pins: &[CertPin],
) -> Result<TlsClient, ImapError> {
    let tls_err = |detail: String| ImapError::Tls {
        peer: peer.clone(),
        detail,
    };
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are not fatal: a ca_file may be all
    // that is needed. An empty store is caught below.
    let native = rustls_native_certs::load_native_certs();
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    let mut own = Vec::new();
    if let Some(path) = ca_file {
        let file = std::fs::File::open(path)
            .map_err(|e| tls_err(format!("cannot read CA file {}: {e}", path.display())))?;
        let mut reader = io::BufReader::new(file);
        for cert in rustls_pemfile::certs(&mut reader) {
            let cert =
                cert.map_err(|e| tls_err(format!("bad PEM in CA file {}: {e}", path.display())))?;
            roots
                .add(cert.clone())
                .map_err(|e| tls_err(format!("bad certificate in {}: {e}", path.display())))?;
            own.push(cert);
        }
        if own.is_empty() {
            return Err(tls_err(format!(
                "CA file {} holds no certificate",
                path.display()
            )));
        }
    }
    if roots.is_empty() && pins.is_empty() {
        return Err(tls_err(
            "no trusted CA certificates (none in the system store, no CA file given)".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = if roots.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| tls_err(format!("TLS set-up: {e}")))?,
        )
    };
    let verifier = Arc::new(Verifier::new(
        chain,
        own,
        pins.to_vec(),
        provider.signature_verification_algorithms,
    ));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(format!("TLS set-up: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    Ok(TlsClient {
        connector: TlsConnector::from(Arc::new(config)),
        verifier,
        ca_file: ca_file.map(Path::to_path_buf),
    })
}

/// The TLS handshake over an open TCP connection, verifying `peer.host`.
/// A refused certificate gets the whole story ([`super::refusal`]).
pub(crate) async fn handshake(
    peer: &Peer,
    client: &TlsClient,
    tcp: TcpStream,
    limit: Duration,
) -> Result<Stream, ImapError> {
    let name =
        rustls::pki_types::ServerName::try_from(peer.host.clone()).map_err(|e| ImapError::Tls {
            peer: peer.clone(),
            detail: format!("{:?} is not a valid server name: {e}", peer.host),
        })?;
    match tokio::time::timeout(limit, client.connector.connect(name, tcp)).await {
        Err(_) => Err(ImapError::Timeout {
            peer: peer.clone(),
            during: "the TLS handshake".into(),
            secs: limit.as_secs(),
        }),
        Ok(Err(e)) => Err(ImapError::Tls {
            peer: peer.clone(),
            detail: match client.verifier.refusal() {
                Some(refusal) => certificate_message::explain(
                    peer,
                    &refusal,
                    &Given {
                        ca_file: client.ca_file.as_deref(),
                        pins: client.verifier.pins(),
                    },
                ),
                None => format!("handshake failed: {e}"),
            },
        }),
        Ok(Ok(tls)) => Ok(Stream::Tls(Box::new(tls))),
    }
}

/// Whether a password may go in clear to this host: only to loopback,
/// judged by the address actually connected to (and the name "localhost").
pub(crate) fn is_loopback(host: &str, connected: Option<IpAddr>) -> bool {
    let ip_loopback = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    match connected {
        Some(ip) => ip_loopback(ip),
        None => {
            host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(ip_loopback)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::certificate::tests::{der, RECIPE, RECIPE_SHA256};
    use super::*;
    use crate::model::Side;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
    use tokio_rustls::rustls::sign::CertifiedKey;

    /// Presents the recipe's certificate, signing with `key`.
    #[derive(Debug)]
    struct Presents(Arc<CertifiedKey>);

    impl ResolvesServerCert for Presents {
        fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(self.0.clone())
        }
    }

    /// A handshake with a server holding the recipe's certificate and
    /// `key` (PEM), the client pinning that certificate.
    async fn pinned_handshake(key: &str) -> Result<(), String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls_pemfile::private_key(&mut key.as_bytes())
            .unwrap()
            .unwrap();
        let signing = provider.key_provider.load_private_key(key).unwrap();
        let certified = CertifiedKey::new(vec![CertificateDer::from(der(RECIPE))], signing);
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Presents(Arc::new(certified))));
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            let _ = tokio_rustls::TlsAcceptor::from(Arc::new(server))
                .accept(server_io)
                .await;
        });
        let peer = Peer {
            side: Side::A,
            host: "localhost".into(),
            port: 993,
        };
        let pin = CertPin::parse(&format!("sha256:{RECIPE_SHA256}")).unwrap();
        let client = connector(&peer, None, &[pin]).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        client
            .connector
            .connect(name, client_io)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn a_pin_match_still_needs_the_handshake_signed_with_the_certificates_key() {
        pinned_handshake(include_str!("../../fixtures/tls/recipe.key"))
            .await
            .expect("the certificate's own key");
        let err = pinned_handshake(include_str!("../../fixtures/tls/other.key"))
            .await
            .expect_err("another key under the pinned certificate");
        assert!(err.contains("ignature"), "{err}");
    }

    #[test]
    fn plaintext_is_allowed_only_to_loopback() {
        let v4 = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(is_loopback("x", v4("127.0.0.1")));
        assert!(is_loopback("x", v4("127.8.9.10")));
        assert!(is_loopback("x", v4("::1")));
        assert!(is_loopback("x", v4("::ffff:127.0.0.1")));
        assert!(!is_loopback("localhost", v4("192.0.2.1")));
        assert!(!is_loopback("x", v4("10.0.0.1")));
        assert!(is_loopback("localhost", None));
        assert!(is_loopback("127.0.0.1", None));
        assert!(!is_loopback("mail.example.org", None));
    }
}
