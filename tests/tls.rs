//! TLS against a real Dovecot (docs/TLS.md): implicit TLS and STARTTLS with
//! a private CA, the guides' self-signed CA:TRUE certificate through
//! `--a-ca-file` and through each kind of pin, and every refusal — wrong
//! name, expired, untrusted, pin mismatch — exiting 3 with the certificate
//! described and nothing written. Through a recording proxy: the password
//! never crosses the wire in clear, and what a man in the middle can do
//! before STARTTLS (strip it, fake PREAUTH, lie about capabilities) never
//! gets a plaintext login.
//!
//! One TLS Dovecot for the whole binary ([`support::tls::shared`]); each
//! test a fresh pair of users: A on the TLS endpoint under test, holding
//! one message, B on the same server over plain loopback.

mod support;

use support::dovecot::User;
use support::imapmend::{bare, Finish, Outcome, LIMIT};
use support::mail::msg;
use support::proxy::{Dir, Fault, Proxy};
use support::tls::{self, Host};

/// A with one message behind the TLS endpoint, B empty.
struct Case {
    a: User,
    b: User,
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let server = tls::shared();
        let a = server.fresh_user();
        a.client().append("INBOX", &msg("over TLS"), &[], None);
        Case {
            a,
            b: server.fresh_user(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `imapmend sync --a URL EXTRA… --b (plain loopback)`.
    fn sync(&self, a_url: &str, extra: &[&str]) -> Outcome {
        let b_url = format!("imap://{}@127.0.0.1:{}", self.b.name, self.b.port);
        let out = bare()
            .args(["sync", "--a", a_url, "--b", &b_url, "--b-tls", "none"])
            .arg("--state")
            .arg(self.state())
            .args(extra)
            .env("IMAPMEND_A_PASSWORD", &self.a.password)
            .env("IMAPMEND_B_PASSWORD", &self.b.password)
            .env("XDG_STATE_HOME", self.dir.path())
            .finish(LIMIT);
        eprintln!(
            "--- imapmend sync --a {a_url} {extra:?}\n{}",
            out.describe()
        );
        out
    }

    fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("state.sqlite")
    }

    /// The run went over TLS to the end: B got A's message.
    #[track_caller]
    fn assert_synced(&self, out: &Outcome) {
        assert_eq!(out.code, Some(0), "{}", out.describe());
        assert_eq!(self.b.client().examine("INBOX").exists, 1);
    }

    /// Exit 3, both sides as they were, and the snapshot (opened before
    /// connecting) remembers no mailbox, message or intent.
    #[track_caller]
    fn assert_refused(&self, out: &Outcome) -> String {
        assert_eq!(out.code, Some(3), "{}", out.describe());
        assert_eq!(self.a.client().examine("INBOX").exists, 1);
        assert_eq!(self.b.client().examine("INBOX").exists, 0);
        if self.state().exists() {
            let db = rusqlite::Connection::open_with_flags(
                self.state(),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let rows: i64 = db
                .query_row(
                    "SELECT (SELECT count(*) FROM mailbox) + (SELECT count(*) FROM message) \
                     + (SELECT count(*) FROM intent)",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(rows, 0, "the snapshot remembers something");
        }
        out.stderr.clone()
    }
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// Every refusal describes the certificate, names its fingerprint as the
/// option to paste, and asks to confirm it through another channel.
#[track_caller]
fn assert_describes(text: &str, host: Host) {
    let cert = tls::shared().cert(host);
    for needle in [
        "A (".to_string(),
        "subject:".into(),
        "issuer:".into(),
        "names:".into(),
        "valid:".into(),
        format!("sha256:      {}", cert.sha256),
        format!("spki-sha256: {}", cert.spki_sha256),
        format!("--a-fingerprint sha256:{}", cert.sha256),
        "through another channel".into(),
    ] {
        assert!(text.contains(&needle), "{needle:?} missing from:\n{text}");
    }
    assert!(
        !text.contains("OtherError"),
        "rustls' words leaked:\n{text}"
    );
}

/// A sync over implicit TLS, then one over STARTTLS, trusting `ca_file`.
fn assert_both_modes_sync(host: Host, ca_file: &std::path::Path) {
    for implicit in [true, false] {
        let case = Case::new();
        let url = tls::shared().url(&case.a, host, implicit);
        case.assert_synced(&case.sync(&url, &["--a-ca-file", path(ca_file)]));
    }
}

#[test]
fn t1_private_ca_over_implicit_tls_and_starttls() {
    assert_both_modes_sync(Host::Leaf, &tls::shared().ca.pem);
}

#[test]
fn t2_self_signed_ca_true_recipe_through_the_ca_file() {
    assert_both_modes_sync(Host::Recipe, &tls::shared().recipe.pem);
}

#[test]
fn t3_each_kind_of_pin_accepts_the_self_signed_certificate() {
    let server = tls::shared();
    let c = &server.recipe;
    for pin in [
        format!("sha256:{}", c.sha256),
        format!("sha256:{}", c.sha256.replace(':', "").to_lowercase()),
        format!("spki-sha256:{}", c.spki_sha256),
        format!("sha256//{}", c.spki_sha256),
    ] {
        let case = Case::new();
        let out = case.sync(
            &server.url(&case.a, Host::Recipe, true),
            &["--a-fingerprint", &pin],
        );
        case.assert_synced(&out);
    }
    // A config file's `fingerprint` list, one of several pins matching.
    let case = Case::new();
    let config = case.dir.path().join("job.toml");
    std::fs::write(
        &config,
        format!(
            "[a]\nfingerprint = [\"sha256:{}\", \"spki-sha256:{}\"]\n",
            server.leaf.sha256, c.spki_sha256
        ),
    )
    .unwrap();
    let out = case.sync(
        &server.url(&case.a, Host::Recipe, false),
        &["--config", path(&config)],
    );
    case.assert_synced(&out);
}

#[test]
fn t4_untrusted_certificates_exit_3_offering_the_pin() {
    let server = tls::shared();
    // Self-signed, no CA file: the recipe as a new user meets it.
    let case = Case::new();
    let text = case.assert_refused(&case.sync(&server.url(&case.a, Host::Recipe, true), &[]));
    assert_describes(&text, Host::Recipe);
    assert!(
        text.contains("certificate is self-signed")
            && text.contains("(self-signed, marked CA:TRUE)"),
        "{text}"
    );
    assert!(text.contains("localhost (sent in SNI)"), "{text}");
    // A private CA's leaf, the CA not given (over STARTTLS).
    let case = Case::new();
    let text = case.assert_refused(&case.sync(&server.url(&case.a, Host::Leaf, false), &[]));
    assert_describes(&text, Host::Leaf);
    assert!(
        text.contains("issued by a CA that is not among the system's CAs"),
        "{text}"
    );
    assert!(text.contains("issuer:      CN=imapmend test CA"), "{text}");
}

#[test]
fn t5_wrong_name_and_expiry_exit_3_explained_as_such() {
    let server = tls::shared();
    let ca = ["--a-ca-file", path(&server.ca.pem)];
    let case = Case::new();
    let text = case.assert_refused(&case.sync(&server.url(&case.a, Host::OtherName, true), &ca));
    assert_describes(&text, Host::OtherName);
    assert!(
        text.contains("not valid for the address 127.0.0.4")
            && text.contains("it names DNS:mail.example.test")
            && text.find("attack") < text.find("--a-fingerprint"),
        "{text}"
    );
    let case = Case::new();
    let text = case.assert_refused(&case.sync(&server.url(&case.a, Host::Expired, true), &ca));
    assert_describes(&text, Host::Expired);
    assert!(
        text.contains("certificate has expired")
            && text.find("renewed") < text.find("--a-fingerprint"),
        "{text}"
    );
    // The server's own certificate in the CA file is held to its name too:
    // the recipe names localhost, not 127.0.0.1.
    let case = Case::new();
    let url = server
        .url(&case.a, Host::Recipe, true)
        .replace("localhost", "127.0.0.1");
    let text = case.assert_refused(&case.sync(&url, &["--a-ca-file", path(&server.recipe.pem)]));
    assert!(
        text.contains("not valid for the address 127.0.0.1"),
        "{text}"
    );
}

#[test]
fn t6_with_a_pin_set_only_a_match_is_accepted() {
    let server = tls::shared();
    // The chain is valid (CA given), but the pin names another certificate.
    let case = Case::new();
    let wrong = format!("sha256:{}", server.recipe.sha256);
    let text = case.assert_refused(&case.sync(
        &server.url(&case.a, Host::Leaf, true),
        &[
            "--a-ca-file",
            path(&server.ca.pem),
            "--a-fingerprint",
            &wrong,
        ],
    ));
    assert_describes(&text, Host::Leaf);
    assert!(
        text.contains(&format!(
            "matches none of the fingerprints pinned for A ({wrong})"
        )),
        "{text}"
    );
    // A pin replaces expiry and name checks: the operator vouched for it.
    let case = Case::new();
    let pin = format!("sha256:{}", server.expired.sha256);
    let out = case.sync(
        &server.url(&case.a, Host::Expired, true),
        &["--a-fingerprint", &pin],
    );
    case.assert_synced(&out);
}

/// A man in the middle before STARTTLS: the proxy in front of the plain
/// port, recording what imapmend sends.
fn through_proxy(case: &Case, fault: Option<Fault>, extra: &[&str]) -> (Outcome, Vec<u8>) {
    let server = tls::shared();
    let proxy = Proxy::start(server.server.port());
    if let Some(f) = fault {
        proxy.arm(f);
    }
    proxy.record();
    let url = format!("imap://{}@localhost:{}", case.a.name, proxy.port());
    let out = case.sync(&url, extra);
    (out, proxy.recorded(Dir::ToServer))
}

#[track_caller]
fn assert_no_login_in_clear(sent: &[u8], password: &str) {
    let text = String::from_utf8_lossy(sent);
    assert!(
        !text.contains(password),
        "the password crossed the wire in clear"
    );
    for word in ["LOGIN", "AUTHENTICATE"] {
        assert!(!text.contains(word), "{word} sent in clear: {text:?}");
    }
}

#[test]
fn t7_the_password_never_reaches_a_plaintext_socket() {
    let server = tls::shared();
    let ca = ["--a-ca-file", path(&server.recipe.pem)];
    // STARTTLS through the proxy: the login goes inside TLS.
    let case = Case::new();
    let (out, sent) = through_proxy(&case, None, &ca);
    case.assert_synced(&out);
    assert!(String::from_utf8_lossy(&sent).contains("STARTTLS"));
    assert_no_login_in_clear(&sent, &case.a.password);

    // STARTTLS stripped from the capabilities: refused, no login.
    fn strip(line: &[u8]) -> Vec<u8> {
        String::from_utf8_lossy(line)
            .replace(" STARTTLS", "")
            .into_bytes()
    }
    let case = Case::new();
    let (out, sent) = through_proxy(&case, Some(Fault::Rewrite(strip)), &ca);
    let text = case.assert_refused(&out);
    assert!(text.contains("does not offer it"), "{text}");
    assert_no_login_in_clear(&sent, &case.a.password);

    // PREAUTH before TLS: refused, never used as a session.
    fn preauth(line: &[u8]) -> Vec<u8> {
        match line.strip_prefix(b"* OK ") {
            Some(rest) => [b"* PREAUTH ".as_slice(), rest].concat(),
            None => line.to_vec(),
        }
    }
    let case = Case::new();
    let (out, sent) = through_proxy(&case, Some(Fault::Rewrite(preauth)), &ca);
    let text = case.assert_refused(&out);
    assert!(text.contains("PREAUTH"), "{text}");
    assert_no_login_in_clear(&sent, &case.a.password);

    // A failed handshake after STARTTLS (no CA file) never falls back.
    let case = Case::new();
    let (out, sent) = through_proxy(&case, None, &[]);
    let text = case.assert_refused(&out);
    assert!(text.contains("self-signed"), "{text}");
    assert_no_login_in_clear(&sent, &case.a.password);
}

#[test]
fn t8_capabilities_seen_before_starttls_are_forgotten() {
    // The proxy makes the plaintext greeting say logins are disabled and
    // AUTH=PLAIN absent; believed after TLS, imapmend could not log in.
    fn lie(line: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(line);
        if text.starts_with("* OK [CAPABILITY ") {
            b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n".to_vec()
        } else {
            line.to_vec()
        }
    }
    let server = tls::shared();
    let case = Case::new();
    let (out, sent) = through_proxy(
        &case,
        Some(Fault::Rewrite(lie)),
        &["--a-ca-file", path(&server.recipe.pem)],
    );
    case.assert_synced(&out);
    assert_no_login_in_clear(&sent, &case.a.password);
}

#[test]
fn t9_batch_lists_carry_ca_files_and_pins_per_pair() {
    let server = tls::shared();
    let (one, two, wrong) = (Case::new(), Case::new(), Case::new());
    let dir = one.dir.path();
    let b_url = |c: &Case| format!("imap://{}@127.0.0.1:{}", c.b.name, c.b.port);
    let row = |c: &Case, name: &str, ca: &str, pin: &str| {
        std::fs::write(dir.join(format!("{name}.a")), &c.a.password).unwrap();
        std::fs::write(dir.join(format!("{name}.b")), &c.b.password).unwrap();
        format!(
            "{name},{},{},{name}.a,{name}.b,{ca},{pin}\n",
            server.url(&c.a, Host::Recipe, true),
            b_url(c)
        )
    };
    std::fs::copy(&server.recipe.pem, dir.join("recipe.pem")).unwrap();
    let list = format!(
        "name,a,b,a_password_file,b_password_file,a_ca_file,a_fingerprint\n{}{}{}",
        row(&one, "one", "recipe.pem", ""),
        row(
            &two,
            "two",
            "",
            &format!("sha256//{}", server.recipe.spki_sha256)
        ),
        row(
            &wrong,
            "wrong",
            "recipe.pem",
            &format!("sha256:{}", server.leaf.sha256)
        ),
    );
    std::fs::write(dir.join("list.csv"), list).unwrap();
    let out = bare()
        .current_dir(dir)
        .env("XDG_STATE_HOME", dir)
        .env_remove("IMAPMEND_A_PASSWORD")
        .env_remove("IMAPMEND_B_PASSWORD")
        .args(["batch", "sync", "list.csv", "--", "--b-tls", "none"])
        .finish(LIMIT);
    // "wrong" pins another certificate: exit 3, which a batch counts as 2;
    // its summary is the refusal's first line.
    assert_eq!(out.code, Some(2), "{}", out.describe());
    assert!(
        out.stdout
            .contains("matches none of the fingerprints pinned for A"),
        "{}",
        out.describe()
    );
    for (case, synced) in [(&one, 1), (&two, 1), (&wrong, 0)] {
        assert_eq!(
            case.b.client().examine("INBOX").exists,
            synced,
            "{}",
            out.describe()
        );
    }
}
