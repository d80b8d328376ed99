//! A scripted fake IMAP server for unit tests: what real servers will not
//! do on demand (split literals, a cut connection, a stall, NO where OK was
//! expected), each step of the conversation written out. Shared by the
//! IMAP layer's own tests (`fake_server_tests`) and by those of the code
//! above it that talks to servers (`apply`, `gather`).

use super::{AuthMethod, ConnectSpec, Limits, TlsMode};
use crate::model::Side;
use crate::secret::Secret;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One step of the server's script.
pub(crate) enum Step {
    /// Send these bytes at once.
    Send(Vec<u8>),
    /// Send these bytes `chunk` at a time with a pause between (so the
    /// client sees them split across reads).
    Trickle(Vec<u8>, usize),
    /// Read one line from the client; it must contain this text.
    Expect(&'static str),
    /// The client must send nothing for this long.
    Silence(u64),
    /// Close the connection.
    Close,
    /// Stop talking but keep the connection open.
    Hang,
}

pub(crate) fn send(s: &str) -> Step {
    Step::Send(s.as_bytes().to_vec())
}

pub(crate) async fn run_script(steps: Vec<Step>) -> (u16, Server) {
    run_sequence(vec![steps]).await
}

/// A server that follows one script per connection, the connections taken
/// in the order they come (a client that reconnects meets the next).
pub(crate) async fn run_sequence(scripts: Vec<Vec<Step>>) -> (u16, Server) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        for (n, steps) in scripts.into_iter().enumerate() {
            let (sock, _) = listener.accept().await.map_err(|e| e.to_string())?;
            follow(sock, steps)
                .await
                .map_err(|e| format!("connection {}: {e}", n + 1))?;
        }
        Ok(())
    });
    (port, task)
}

/// One connection's script.
async fn follow(sock: tokio::net::TcpStream, steps: Vec<Step>) -> Result<(), String> {
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    for step in steps {
        match step {
            Step::Send(b) => wr.write_all(&b).await.map_err(|e| e.to_string())?,
            Step::Trickle(b, chunk) => {
                for piece in b.chunks(chunk) {
                    wr.write_all(piece).await.map_err(|e| e.to_string())?;
                    wr.flush().await.map_err(|e| e.to_string())?;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            Step::Expect(want) => {
                let mut line = Vec::new();
                rd.read_until(b'\n', &mut line)
                    .await
                    .map_err(|e| e.to_string())?;
                let line = String::from_utf8_lossy(&line).into_owned();
                if !line.contains(want) {
                    return Err(format!("expected {want:?}, client sent {line:?}"));
                }
            }
            Step::Silence(ms) => {
                let mut line = Vec::new();
                let read = rd.read_until(b'\n', &mut line);
                if let Ok(r) = tokio::time::timeout(Duration::from_millis(ms), read).await {
                    return Err(format!(
                        "client spoke too early: {r:?} {:?}",
                        String::from_utf8_lossy(&line)
                    ));
                }
                // The cancelled read may have consumed a partial line;
                // scripts only use Silence before the client has sent.
            }
            Step::Close => return Ok(()),
            Step::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return Ok(());
            }
        }
    }
    // Keep the connection open until the client hangs up, so that
    // nothing it has yet to read is lost to a reset.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), rd.read_to_end(&mut rest)).await;
    Ok(())
}

/// A scripted server for each side ([A, B]): how to reach each (plain
/// IMAP on loopback, the side set), and the servers, to be checked with
/// [`followed`] once the client is done.
pub(crate) async fn run_pair(scripts: [Vec<Step>; 2]) -> ([ConnectSpec; 2], [Server; 2]) {
    run_pair_reconnecting(scripts.map(|s| vec![s])).await
}

/// [`run_pair`] with a script per connection on each side, for clients
/// that reconnect ([`run_sequence`]).
pub(crate) async fn run_pair_reconnecting(
    scripts: [Vec<Vec<Step>>; 2],
) -> ([ConnectSpec; 2], [Server; 2]) {
    let [a, b] = scripts;
    let (port_a, server_a) = run_sequence(a).await;
    let (port_b, server_b) = run_sequence(b).await;
    let specs = [(Side::A, port_a), (Side::B, port_b)].map(|(side, port)| ConnectSpec {
        side,
        ..spec(port, TlsMode::None)
    });
    (specs, [server_a, server_b])
}

/// A running scripted server: Err says where the client left its script.
pub(crate) type Server = tokio::task::JoinHandle<Result<(), String>>;

/// Every server of [`run_pair`] followed its script to the end (call it
/// after the client's sessions are dropped).
pub(crate) async fn followed(servers: [Server; 2]) {
    for (side, server) in Side::BOTH.into_iter().zip(servers) {
        if let Err(e) = server.await.unwrap() {
            panic!("{side}'s server: {e}");
        }
    }
}

pub(crate) fn spec(port: u16, tls: TlsMode) -> ConnectSpec {
    ConnectSpec {
        side: Side::B,
        host: "127.0.0.1".into(),
        port,
        user: "alice".into(),
        password: Secret::new("hunter2"),
        tls,
        ca_file: None,
        pins: Vec::new(),
        allow_plaintext_auth: false,
        compress: false,
        auth: AuthMethod::Password,
        tunnel: None,
        token_command: None,
    }
}

pub(crate) fn limits() -> Limits {
    Limits {
        read_timeout: Duration::from_millis(1500),
        connect_timeout: Duration::from_secs(2),
        ..Limits::default()
    }
}

/// Expects a line made at run time.
pub(crate) fn expect(s: String) -> Step {
    Step::Expect(Box::leak(s.into_boxed_str()))
}

/// Greeting and SASL-IR login (tag A0001), with these capabilities after
/// it.
pub(crate) fn logged_in(caps: &str) -> Vec<Step> {
    vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n"),
        Step::Expect("A0001 AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjI="),
        Step::Send(
            format!("A0001 OK [CAPABILITY IMAP4rev1 {caps}] Logged in\r\n")
                .replace(" ]", "]")
                .into_bytes(),
        ),
    ]
}

/// Greeting and login (A0001) with these capabilities after it, and the
/// ENABLE (A0002) connect() sends for them, answered with `enabled_reply`.
pub(crate) fn logged_in_enabling(
    caps: &str,
    enable: &'static str,
    enabled_reply: &str,
) -> Vec<Step> {
    let mut steps = logged_in(caps);
    steps.push(Step::Expect(enable));
    steps.push(Step::Send(
        format!("{enabled_reply}A0002 OK enabled\r\n").into_bytes(),
    ));
    steps
}
