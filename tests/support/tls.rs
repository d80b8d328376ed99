//! A Dovecot serving TLS, with certificates the test makes with `openssl`:
//! one server per test binary (a [`super::dovecot`] server with TLS
//! settings appended), listening on four loopback addresses, each with its
//! own certificate (Dovecot's `local IP { ssl_cert }`), both as implicit
//! TLS (the imaps port) and STARTTLS (the imap port):
//!
//! | address   | certificate                                               |
//! |-----------|-----------------------------------------------------------|
//! | 127.0.0.1 | the guides' self-signed recipe (CN=localhost, CA:TRUE)    |
//! | 127.0.0.2 | a leaf of a private CA, for IP:127.0.0.2                  |
//! | 127.0.0.3 | the same CA's leaf for IP:127.0.0.3, expired              |
//! | 127.0.0.4 | the same CA's leaf for DNS:mail.example.test only         |
//!
//! 127.0.0.1 is reached as `localhost` (the name its certificate carries,
//! sent in SNI); the others by address.
//!
//! Owns the certificate files and the fingerprints a test pins; it does not
//! run imapmend. `openssl` comes with Dovecot (dovecot-core depends on it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::dovecot::{Dovecot, Kind, User};
use super::process;

/// One certificate (and its key) the server presents, and its pins.
#[derive(Debug, Clone)]
pub struct Cert {
    pub pem: PathBuf,
    pub key: PathBuf,
    /// `AB:CD:…`, as `openssl x509 -noout -fingerprint -sha256` prints it.
    pub sha256: String,
    /// Base64 of the SHA-256 of the public key (curl's pin).
    pub spki_sha256: String,
}

/// Where each certificate is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `localhost` (127.0.0.1): the self-signed recipe.
    Recipe,
    /// 127.0.0.2: the private CA's valid leaf.
    Leaf,
    /// 127.0.0.3: the private CA's expired leaf.
    Expired,
    /// 127.0.0.4: the private CA's leaf for another name.
    OtherName,
}

impl Host {
    /// The host part of a URL reaching this certificate.
    pub fn name(self) -> &'static str {
        match self {
            Host::Recipe => "localhost",
            Host::Leaf => "127.0.0.2",
            Host::Expired => "127.0.0.3",
            Host::OtherName => "127.0.0.4",
        }
    }
}

/// The shared TLS server and its certificates.
pub struct TlsServer {
    pub server: Dovecot,
    /// Implicit TLS; the plain port (`server.port()`) offers STARTTLS.
    pub imaps_port: u16,
    /// The private CA that issued the leaves.
    pub ca: Cert,
    pub recipe: Cert,
    pub leaf: Cert,
    pub expired: Cert,
    pub other_name: Cert,
    /// Holds the files.
    _dir: tempfile::TempDir,
}

impl TlsServer {
    pub fn cert(&self, host: Host) -> &Cert {
        match host {
            Host::Recipe => &self.recipe,
            Host::Leaf => &self.leaf,
            Host::Expired => &self.expired,
            Host::OtherName => &self.other_name,
        }
    }

    pub fn fresh_user(&self) -> User {
        self.server.fresh_user()
    }

    /// `imaps://USER@HOST:PORT` (implicit TLS) or `imap://…` (STARTTLS).
    pub fn url(&self, user: &User, host: Host, implicit: bool) -> String {
        if implicit {
            format!("imaps://{}@{}:{}", user.name, host.name(), self.imaps_port)
        } else {
            format!(
                "imap://{}@{}:{}",
                user.name,
                host.name(),
                self.server.port()
            )
        }
    }
}

/// The TLS server shared by this test binary (started, and its
/// certificates made, on first use).
pub fn shared() -> &'static TlsServer {
    static SERVER: OnceLock<TlsServer> = OnceLock::new();
    SERVER.get_or_init(start)
}

const ADDRESSES: &str = "127.0.0.1, 127.0.0.2, 127.0.0.3, 127.0.0.4";

fn start() -> TlsServer {
    let dir = tempfile::Builder::new()
        .prefix("imapmend-tls-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let ca = self_signed(d, "ca", "/CN=imapmend test CA", None, "ec");
    let recipe = self_signed(
        d,
        "recipe",
        "/CN=localhost",
        Some("DNS:localhost"),
        "rsa:2048",
    );
    let leaf = issued(d, &ca, "leaf", "IP:127.0.0.2", 30);
    let expired = issued(d, &ca, "expired", "IP:127.0.0.3", -1);
    let other_name = issued(d, &ca, "other-name", "DNS:mail.example.test", 30);
    let imaps_port = process::free_port();
    let local = |ip: &str, c: &Cert| {
        format!(
            "local {ip} {{\n  ssl_cert = <{}\n  ssl_key = <{}\n}}\n",
            c.pem.display(),
            c.key.display()
        )
    };
    let config = format!(
        "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n\
         service imap-login {{\n  inet_listener imap {{\n    address = {ADDRESSES}\n  }}\n\
         \x20 inet_listener imaps {{\n    address = {ADDRESSES}\n    port = {imaps_port}\n    ssl = yes\n  }}\n}}\n\
         {}{}{}",
        recipe.pem.display(),
        recipe.key.display(),
        local("127.0.0.2", &leaf),
        local("127.0.0.3", &expired),
        local("127.0.0.4", &other_name),
    );
    // Dovecot reads the keys as root before dropping privileges; as
    // non-root they are ours already.
    let server = Dovecot::start_with(Kind::Full, &config);
    TlsServer {
        server,
        imaps_port,
        ca,
        recipe,
        leaf,
        expired,
        other_name,
        _dir: dir,
    }
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn key_args(kind: &str) -> Vec<&str> {
    if kind == "ec" {
        vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    } else {
        vec!["-newkey", kind]
    }
}

/// `openssl req -x509`: CA:TRUE, as the guides' recipe makes it.
fn self_signed(dir: &Path, name: &str, subject: &str, san: Option<&str>, kind: &str) -> Cert {
    let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
    let san = san.map(|s| format!("subjectAltName={s}"));
    let mut args = vec!["req", "-x509"];
    args.extend(key_args(kind));
    args.extend(["-nodes", "-subj", subject, "-days", "30"]);
    args.extend(["-keyout", &key, "-out", &pem]);
    if let Some(s) = &san {
        args.extend(["-addext", s]);
    }
    openssl(&args, dir);
    cert(dir, name)
}

/// A server certificate for `san`, issued by `ca`, valid for `days` (-1:
/// it expired when it was made).
fn issued(dir: &Path, ca: &Cert, name: &str, san: &str, days: i32) -> Cert {
    let (pem, key, csr, ext) = (
        format!("{name}.pem"),
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
    );
    std::fs::write(
        dir.join(&ext),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    let mut args = vec!["req", "-new"];
    args.extend(key_args("ec"));
    args.extend(["-nodes", "-subj", "/CN=imapmend test server"]);
    args.extend(["-keyout", &key, "-out", &csr]);
    openssl(&args, dir);
    let days = days.to_string();
    let (ca_pem, ca_key) = (ca.pem.display().to_string(), ca.key.display().to_string());
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-set_serial",
            "1000",
            "-days",
            &days,
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
        dir,
    );
    cert(dir, name)
}

/// The file's fingerprints, as openssl computes them (independent of the
/// code under test).
fn cert(dir: &Path, name: &str) -> Cert {
    let pem = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    let run = |script: String| {
        let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert!(out.status.success(), "{script}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let p = pem.display();
    let sha256 = run(format!(
        "openssl x509 -in '{p}' -noout -fingerprint -sha256"
    ));
    let sha256 = sha256.split_once('=').unwrap().1.to_string();
    let spki_sha256 = run(format!(
        "openssl x509 -in '{p}' -pubkey -noout | openssl pkey -pubin -outform der | \
         openssl dgst -sha256 -binary | base64"
    ));
    Cert {
        pem,
        key,
        sha256,
        spki_sha256,
    }
}
