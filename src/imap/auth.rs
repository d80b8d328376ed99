//! Opening a session: TCP, TLS (implicit or STARTTLS) or a tunnel command,
//! the greeting (PREAUTH: no login), the
//! plaintext-password guard, authentication (AUTHENTICATE PLAIN with SASL-IR
//! where offered, else LOGIN) and the capabilities that hold afterwards.
//!
//! Everything after the greeting already goes through the engine; this
//! module only decides the order of the first commands.

use super::engine::{Command, Engine};
use super::error::{ImapError, Peer};
use super::parse::{Code, Cond, Status, Untagged};
use super::transport::{self, Stream};
use super::tunnel;
use super::{quote, AuthMethod, ConnectSpec, Limits, TlsMode};
use std::time::Duration;

/// A session ready for commands, with its capabilities set on the engine.
///
/// With `enable` (what the run's first session to this server enabled
/// after its login), the `ENABLE` rides in the login's flight where the
/// login needs no continuation (`AUTHENTICATE PLAIN` with SASL-IR): a
/// further session saves the turn. What `* ENABLED` listed is then
/// returned beside the engine (None when the ENABLE was not sent). A
/// refused login is still its refusal: the ENABLE behind it is answered
/// in the not-authenticated state (Dovecot: "ignored") and counts for
/// nothing.
pub(crate) async fn open(
    spec: &ConnectSpec,
    limits: &Limits,
    enable: Option<&'static str>,
) -> Result<(Engine, Option<Vec<String>>), ImapError> {
    let peer = Peer {
        side: spec.side,
        host: spec.host.clone(),
        port: spec.port,
    };
    let Some(tunnel_spec) = &spec.tunnel else {
        let tcp = transport::connect_tcp(&peer, limits.connect_timeout).await?;
        let stream = match spec.tls {
            TlsMode::Implicit => {
                let connector = transport::connector(&peer, spec.ca_file.as_deref(), &spec.pins)?;
                transport::handshake(&peer, &connector, tcp, limits.connect_timeout).await?
            }
            TlsMode::StartTls | TlsMode::None => Stream::Plain(tcp),
        };
        return start(spec, limits, peer, stream, enable).await;
    };
    if spec.tls != TlsMode::None {
        return Err(ImapError::Tls {
            peer,
            detail: "TLS over a tunnel command is not supported: the command protects the \
                     connection"
                .into(),
        });
    }
    let tunnel = tunnel::spawn(&peer, tunnel_spec)?;
    let watch = tunnel.watch();
    let stream = Stream::Tunnel(Box::new(tunnel));
    match start(spec, limits, peer.clone(), stream, enable).await {
        Ok(engine) => Ok(engine),
        // A refusal, or our own error: the command is fine.
        Err(e @ (ImapError::AuthRefused { .. } | ImapError::No { .. } | ImapError::Bad { .. })) => {
            Err(e)
        }
        Err(e) => {
            let why = watch.explain(Duration::from_secs(2), &spec.password).await;
            let what = e.to_string();
            let what = what
                .strip_prefix(&format!("{peer}: "))
                .unwrap_or(&what)
                .to_string();
            Err(ImapError::Connect {
                peer,
                source: std::io::Error::other(format!("through the tunnel: {what}; {why}")),
            })
        }
    }
}

/// From the greeting to an authenticated session over `stream`.
async fn start(
    spec: &ConnectSpec,
    limits: &Limits,
    peer: Peer,
    stream: Stream,
    enable: Option<&'static str>,
) -> Result<(Engine, Option<Vec<String>>), ImapError> {
    let mut engine = Engine::new(stream, peer.clone(), limits.clone(), 1);
    let greeting = engine.read_greeting().await?;
    let preauth = greeting.cond == Cond::PreAuth;
    let mut caps = capabilities_in(&greeting);

    if spec.tls == TlsMode::StartTls {
        if preauth {
            return Err(ImapError::Tls {
                peer,
                detail: "server greeted with PREAUTH, so STARTTLS is impossible".into(),
            });
        }
        let offered = match caps.take() {
            Some(c) => c,
            None => capability(&mut engine).await?,
        };
        if !offered.iter().any(|c| c.eq_ignore_ascii_case("STARTTLS")) {
            return Err(ImapError::Tls {
                peer,
                detail: "STARTTLS requested but the server does not offer it".into(),
            });
        }
        engine
            .run_one(Command::new("STARTTLS", "STARTTLS"), &mut |_, _| Ok(()))
            .await
            .map_err(|e| match e {
                ImapError::No { text, .. } | ImapError::Bad { text, .. } => ImapError::Tls {
                    peer: peer.clone(),
                    detail: format!("server refused STARTTLS: {text}"),
                },
                other => other,
            })?;
        let (stream, next_tag) = engine.into_stream()?;
        let Stream::Plain(tcp) = stream else {
            return Err(ImapError::Tls {
                peer,
                detail: "STARTTLS on a connection that is already TLS".into(),
            });
        };
        let connector = transport::connector(&peer, spec.ca_file.as_deref(), &spec.pins)?;
        let tls = transport::handshake(&peer, &connector, tcp, limits.connect_timeout).await?;
        engine = Engine::new(tls, peer.clone(), limits.clone(), next_tag);
        // Capabilities seen before TLS must not be trusted (RFC 3501 §6.2.1).
        caps = None;
    }

    if preauth {
        let caps = match caps {
            Some(c) => c,
            None => capability(&mut engine).await?,
        };
        engine.set_capabilities(caps);
        return Ok((engine, None));
    }

    if spec.tunnel.is_some() && spec.password.expose().is_empty() {
        return Err(ImapError::AuthRefused {
            peer,
            user: spec.user.clone(),
            text: "the server at the end of the tunnel asks for a login (its greeting is not \
                   PREAUTH) and no password was given for this side"
                .into(),
        });
    }
    if spec.tunnel.is_none()
        && !engine.is_tls()
        && !spec.allow_plaintext_auth
        && !transport::is_loopback(&spec.host, engine.peer_ip())
    {
        return Err(ImapError::PlaintextRefused {
            peer,
            user: spec.user.clone(),
        });
    }
    let before = match caps {
        Some(c) => c,
        None => capability(&mut engine).await?,
    };
    engine.set_capabilities(before);
    let refused = |text: String| ImapError::AuthRefused {
        peer: peer.clone(),
        user: spec.user.clone(),
        text,
    };
    let cmd = if spec.auth == AuthMethod::OAuth2 {
        authenticate_oauth2(&engine, spec).ok_or_else(|| {
            refused(
                "an OAuth 2.0 token was given, but the server offers neither \
                 AUTH=OAUTHBEARER nor AUTH=XOAUTH2"
                    .into(),
            )
        })?
    } else if engine.has_capability("AUTH=PLAIN") {
        authenticate_plain(&engine, spec)
    } else if engine.has_capability("LOGINDISABLED") {
        return Err(refused(
            "the server disables LOGIN here (LOGINDISABLED) and offers no AUTH=PLAIN".into(),
        ));
    } else {
        Command::new("LOGIN", "LOGIN")
            .text(" ")
            .astring(quote::astring(spec.user.as_bytes()))
            .text(" ")
            .astring(quote::astring(spec.password.expose().as_bytes()))
    };
    // The ENABLE rides only behind a login sent whole (no continuation).
    let inline = spec.auth != AuthMethod::OAuth2
        && engine.has_capability("AUTH=PLAIN")
        && engine.has_capability("SASL-IR");
    let enable = enable.filter(|_| inline);
    let mut cmds = vec![cmd];
    if let Some(want) = enable {
        cmds.push(super::history::enable_command(want).failure_is_an_answer());
    }
    let window = cmds.len();
    let mut untagged_caps = None;
    let mut enabled = Vec::new();
    let done = engine
        .run(cmds, window, &mut |i, u| {
            match (i, u) {
                (0, Untagged::Capability(c)) => untagged_caps = Some(c.clone()),
                (1, u) => super::history::note_enabled(&mut enabled, u),
                _ => {}
            }
            Ok(())
        })
        .await
        .map_err(|e| match e {
            ImapError::No { text, code, .. } => refused(match code {
                Some(c) => format!("[{c}] {text}"),
                None => text,
            }),
            ImapError::Bad { text, .. } => refused(format!("BAD {text}")),
            other => other,
        })?;
    let after = match capabilities_in(&done[0]).or(untagged_caps) {
        Some(c) => c,
        None => capability(&mut engine).await?,
    };
    engine.set_capabilities(after);
    // An ENABLE the server refused (NO, BAD) enabled nothing.
    let enabled = enable.map(|_| match done.get(1) {
        Some(status) if status.cond == Cond::Ok => enabled,
        _ => Vec::new(),
    });
    Ok((engine, enabled))
}

/// `AUTHENTICATE PLAIN`, with the initial response inline where SASL-IR is
/// offered, else after the server's continuation request.
fn authenticate_plain(engine: &Engine, spec: &ConnectSpec) -> Command<'static> {
    let mut token = Vec::new();
    token.push(0);
    token.extend_from_slice(spec.user.as_bytes());
    token.push(0);
    token.extend_from_slice(spec.password.expose().as_bytes());
    let encoded = base64(&token);
    let cmd = Command::new("AUTHENTICATE", "AUTHENTICATE PLAIN");
    if engine.has_capability("SASL-IR") {
        cmd.text(format!(" PLAIN {encoded}"))
    } else {
        cmd.text(" PLAIN").after_continue(encoded.into_bytes())
    }
}

/// `AUTHENTICATE OAUTHBEARER` (RFC 7628) where offered, else `XOAUTH2`,
/// with the token as a bearer credential; None when the server offers
/// neither. A refused token gets an error challenge (`+ <base64 JSON>`),
/// answered with the dummy response each mechanism asks for, after which
/// the server says NO.
fn authenticate_oauth2(engine: &Engine, spec: &ConnectSpec) -> Option<Command<'static>> {
    let token = spec.password.expose();
    let (mechanism, response, dummy) = if engine.has_capability("AUTH=OAUTHBEARER") {
        // The GS2 header names the user; ',' and '=' are escaped (RFC 5801).
        let user = spec.user.replace('=', "=3D").replace(',', "=2C");
        let response = format!(
            "n,a={user},\x01host={}\x01port={}\x01auth=Bearer {token}\x01\x01",
            spec.host, spec.port
        );
        ("OAUTHBEARER", response, base64(b"\x01"))
    } else if engine.has_capability("AUTH=XOAUTH2") {
        let response = format!("user={}\x01auth=Bearer {token}\x01\x01", spec.user);
        ("XOAUTH2", response, String::new())
    } else {
        return None;
    };
    let encoded = base64(response.as_bytes());
    let cmd = Command::new("AUTHENTICATE", format!("AUTHENTICATE {mechanism}"));
    let cmd = if engine.has_capability("SASL-IR") {
        cmd.text(format!(" {mechanism} {encoded}"))
    } else {
        cmd.text(format!(" {mechanism}"))
            .after_continue(encoded.into_bytes())
    };
    Some(cmd.after_continue(dummy.into_bytes()))
}

fn capabilities_in(status: &Status) -> Option<Vec<String>> {
    match &status.code {
        Some(Code::Capability(c)) => Some(c.clone()),
        _ => None,
    }
}

/// `CAPABILITY`.
pub(crate) async fn capability(engine: &mut Engine) -> Result<Vec<String>, ImapError> {
    let mut caps = None;
    let done = engine
        .run_one(Command::new("CAPABILITY", "CAPABILITY"), &mut |_, u| {
            if let Untagged::Capability(c) = u {
                caps = Some(c.clone());
            }
            Ok(())
        })
        .await?;
    caps.or_else(|| capabilities_in(&done))
        .ok_or_else(|| ImapError::Protocol {
            peer: engine.peer().clone(),
            during: "CAPABILITY".into(),
            detail: "no CAPABILITY data in the reply".into(),
        })
}

/// Standard base64 with padding (RFC 4648), for SASL.
pub(super) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("\0user\0pass", "AHVzZXIAcGFzcw=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc, "{plain:?}");
        }
    }
}
