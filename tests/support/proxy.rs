//! A loopback TCP proxy in front of a server, to break connections on
//! purpose: cut after N bytes in either direction (mid-literal included),
//! stall (stop forwarding, keep the connection open), pause at a command
//! until the test resumes it, slow every chunk down, or rewrite the
//! server's response lines. It also counts and records what passes, so a
//! test can measure a clean run and aim its faults.
//!
//! [`Proxy::start_rebuilding`] makes a server that rebuilds messages on
//! FETCH, as Exchange does, out of any server: on every connection each
//! `BODY[]` literal the server sends is replaced by what a function makes
//! of it (the announced length adjusted), and RFC822.SIZE can be skewed
//! ([`Proxy::skew_sizes`]), as an estimate would be.
//!
//! A fault is armed for the *next* connection only ([`Proxy::arm`]), or the
//! one after a few more ([`Proxy::arm_after`]); every other connection
//! passes through untouched. A run can therefore go
//! through the same proxy (the same `host:port`, which the snapshot
//! remembers) before, during and after a fault.
//!
//! Plain threads and blocking sockets: the proxy runs beside the test,
//! independent of any async runtime.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the client (imapmend) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// What to do to one connection.
#[derive(Clone)]
pub enum Fault {
    /// Forward exactly `after` bytes in `dir`, then close both ends.
    Cut { dir: Dir, after: u64 },
    /// Forward `after` bytes in `dir`, then forward nothing more that way
    /// while keeping the connection open (the other way still flows).
    Stall { dir: Dir, after: u64 },
    /// Hold the client's bytes from the first chunk containing `text`
    /// until [`Proxy::resume`]; [`Proxy::wait_paused`] tells when.
    PauseOn { text: Vec<u8> },
    /// Sleep this long before forwarding each chunk, both ways.
    Delay(Duration),
    /// Replace each response line from the server (outside literals) by
    /// what the function returns. Literal announcements must be kept.
    Rewrite(fn(&[u8]) -> Vec<u8>),
}

/// What a rebuilding proxy makes of a message's bytes.
pub type Rebuild = fn(&[u8]) -> Vec<u8>;

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// The fault, and how many connections pass before the one it hits.
    armed: Mutex<Option<(usize, Fault)>>,
    connections: AtomicUsize,
    /// Connections open now, and the most ever open at once.
    open: AtomicUsize,
    peak: AtomicUsize,
    to_server: AtomicU64,
    to_client: AtomicU64,
    faults_fired: AtomicUsize,
    recording: AtomicBool,
    record_to_server: Mutex<Vec<u8>>,
    record_to_client: Mutex<Vec<u8>>,
    sockets: Mutex<Vec<TcpStream>>,
    paused: Mutex<bool>,
    resumed: Mutex<bool>,
    pause_cv: Condvar,
    /// Every connection: `BODY[]` literals rebuilt by this function.
    rebuild: Option<Rebuild>,
    /// Added to every RFC822.SIZE the server sends (with `rebuild`).
    size_skew: AtomicU64,
}

/// A running proxy; stops (and cuts every connection) when dropped.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> Proxy {
        Proxy::listen(upstream, Shared::default())
    }

    /// A proxy whose server serves every message rebuilt: each `BODY[]`
    /// literal it sends, on every connection, is `rebuild` of it. (Plain
    /// IMAP only: give imapmend `--no-compress`.)
    pub fn start_rebuilding(upstream: u16, rebuild: Rebuild) -> Proxy {
        let shared = Shared {
            rebuild: Some(rebuild),
            ..Shared::default()
        };
        Proxy::listen(upstream, shared)
    }

    /// From now on, a rebuilding proxy adds `bytes` to every RFC822.SIZE.
    pub fn skew_sizes(&self, bytes: u64) {
        self.shared.size_skew.store(bytes, Ordering::SeqCst);
    }

    fn listen(upstream: u16, shared: Shared) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(shared);
        let s = shared.clone();
        std::thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || accept_loop(listener, upstream, s))
            .expect("spawn the proxy");
        Proxy { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The fault for the next connection (replacing one not yet used).
    pub fn arm(&self, fault: Fault) {
        self.arm_after(0, fault);
    }

    /// The fault for the connection after the next `skip` ones (a pooled
    /// connection rather than the first).
    pub fn arm_after(&self, skip: usize, fault: Fault) {
        *self.shared.paused.lock().unwrap() = false;
        *self.shared.resumed.lock().unwrap() = false;
        *self.shared.armed.lock().unwrap() = Some((skip, fault));
    }

    /// Forgets an armed fault that no connection has taken yet.
    pub fn disarm(&self) {
        *self.shared.armed.lock().unwrap() = None;
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The most connections that were open at the same time.
    pub fn peak(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }

    /// Cuts and stalls that actually happened (a fault armed beyond the
    /// end of a conversation never fires).
    pub fn faults_fired(&self) -> usize {
        self.shared.faults_fired.load(Ordering::SeqCst)
    }

    /// Bytes forwarded so far (to the server, to the client), all
    /// connections together.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.shared.to_server.load(Ordering::SeqCst),
            self.shared.to_client.load(Ordering::SeqCst),
        )
    }

    /// Starts recording what passes (from now on, all connections).
    pub fn record(&self) {
        self.shared.record_to_server.lock().unwrap().clear();
        self.shared.record_to_client.lock().unwrap().clear();
        self.shared.recording.store(true, Ordering::SeqCst);
    }

    /// What was recorded in one direction.
    pub fn recorded(&self, dir: Dir) -> Vec<u8> {
        match dir {
            Dir::ToServer => self.shared.record_to_server.lock().unwrap().clone(),
            Dir::ToClient => self.shared.record_to_client.lock().unwrap().clone(),
        }
    }

    /// Waits until a [`Fault::PauseOn`] holds the client; false on timeout.
    pub fn wait_paused(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut paused = self.shared.paused.lock().unwrap();
        while !*paused {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            paused = self.shared.pause_cv.wait_timeout(paused, left).unwrap().0;
        }
        true
    }

    /// Lets a paused connection go on.
    pub fn resume(&self) {
        *self.shared.resumed.lock().unwrap() = true;
        self.shared.pause_cv.notify_all();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.resume();
        for s in self.shared.sockets.lock().unwrap().iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn accept_loop(listener: TcpListener, upstream: u16, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let open = shared.open.fetch_add(1, Ordering::SeqCst) + 1;
        shared.peak.fetch_max(open, Ordering::SeqCst);
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let fault = {
            let mut armed = shared.armed.lock().unwrap();
            match armed.as_mut() {
                Some((0, _)) => armed.take().map(|(_, fault)| fault),
                Some((skip, _)) => {
                    *skip -= 1;
                    None
                }
                None => None,
            }
        };
        {
            let mut sockets = shared.sockets.lock().unwrap();
            sockets.push(client.try_clone().unwrap());
            sockets.push(server.try_clone().unwrap());
        }
        let conn = Arc::new(Conn {
            client: client.try_clone().unwrap(),
            server: server.try_clone().unwrap(),
            shared: shared.clone(),
            fault,
            cut: AtomicBool::new(false),
        });
        for dir in [Dir::ToServer, Dir::ToClient] {
            let conn = conn.clone();
            let (from, to) = match dir {
                Dir::ToServer => (client.try_clone().unwrap(), server.try_clone().unwrap()),
                Dir::ToClient => (server.try_clone().unwrap(), client.try_clone().unwrap()),
            };
            std::thread::spawn(move || conn.pump(dir, from, to));
        }
    }
}

/// One proxied connection.
struct Conn {
    client: TcpStream,
    server: TcpStream,
    shared: Arc<Shared>,
    fault: Option<Fault>,
    cut: AtomicBool,
}

impl Drop for Conn {
    /// Both directions are done: the connection is closed.
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Conn {
    fn close_both(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }

    fn account(&self, dir: Dir, data: &[u8]) {
        let counter = match dir {
            Dir::ToServer => &self.shared.to_server,
            Dir::ToClient => &self.shared.to_client,
        };
        counter.fetch_add(data.len() as u64, Ordering::SeqCst);
        if self.shared.recording.load(Ordering::SeqCst) {
            let rec = match dir {
                Dir::ToServer => &self.shared.record_to_server,
                Dir::ToClient => &self.shared.record_to_client,
            };
            rec.lock().unwrap().extend_from_slice(data);
        }
    }

    fn pump(&self, dir: Dir, mut from: TcpStream, mut to: TcpStream) {
        let mut buf = vec![0u8; 16 * 1024];
        let mut forwarded: u64 = 0;
        let mut rewriter = Rewriter::default();
        let mut rebuilder = Rebuilder::default();
        let mut tail: Vec<u8> = Vec::new();
        let mut paused_once = false;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut chunk = &buf[..n];
            match &self.fault {
                Some(Fault::Cut { dir: d, after }) if *d == dir => {
                    let room = after.saturating_sub(forwarded);
                    if (chunk.len() as u64) >= room {
                        let part = &chunk[..room as usize];
                        let _ = to.write_all(part);
                        let _ = to.flush();
                        self.account(dir, part);
                        self.shared.faults_fired.fetch_add(1, Ordering::SeqCst);
                        self.close_both();
                        return;
                    }
                }
                Some(Fault::Stall { dir: d, after }) if *d == dir => {
                    let room = after.saturating_sub(forwarded);
                    if (chunk.len() as u64) >= room {
                        let part = &chunk[..room as usize];
                        let _ = to.write_all(part);
                        self.account(dir, part);
                        self.shared.faults_fired.fetch_add(1, Ordering::SeqCst);
                        // Swallow everything from now on, forward nothing.
                        while !self.shared.stop.load(Ordering::SeqCst) {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(_) => {}
                            }
                        }
                        self.close_both();
                        return;
                    }
                }
                Some(Fault::PauseOn { text }) if dir == Dir::ToServer && !paused_once => {
                    let mut window = std::mem::take(&mut tail);
                    window.extend_from_slice(chunk);
                    if window.windows(text.len()).any(|w| w == &text[..]) {
                        paused_once = true;
                        self.wait_for_resume();
                    } else {
                        let keep = text.len().saturating_sub(1).min(window.len());
                        tail = window[window.len() - keep..].to_vec();
                    }
                }
                Some(Fault::Delay(d)) => std::thread::sleep(*d),
                _ => {}
            }
            let rewritten;
            if let (Some(Fault::Rewrite(f)), Dir::ToClient) = (&self.fault, dir) {
                rewritten = rewriter.feed(chunk, *f);
                chunk = &rewritten;
            } else if let (Some(rebuild), Dir::ToClient) = (self.shared.rebuild, dir) {
                let skew = self.shared.size_skew.load(Ordering::SeqCst);
                rewritten = rebuilder.feed(chunk, rebuild, skew);
                chunk = &rewritten;
            }
            if to.write_all(chunk).is_err() {
                break;
            }
            forwarded += n as u64;
            self.account(dir, chunk);
        }
        if let (Some(Fault::Rewrite(f)), Dir::ToClient) = (&self.fault, dir) {
            let rest = rewriter.finish(*f);
            let _ = to.write_all(&rest);
        }
        // One side closed: pass the close on.
        let _ = to.shutdown(Shutdown::Write);
    }

    fn wait_for_resume(&self) {
        *self.shared.paused.lock().unwrap() = true;
        self.shared.pause_cv.notify_all();
        let mut resumed = self.shared.resumed.lock().unwrap();
        while !*resumed && !self.shared.stop.load(Ordering::SeqCst) {
            resumed = self
                .shared
                .pause_cv
                .wait_timeout(resumed, Duration::from_millis(100))
                .unwrap()
                .0;
        }
    }
}

/// Splits the server's bytes into lines and literals, rewriting lines —
/// until the server agrees to STARTTLS (a tagged OK saying TLS): what
/// follows is the TLS handshake, passed through untouched.
#[derive(Default)]
struct Rewriter {
    pending: Vec<u8>,
    literal_left: usize,
    tls: bool,
}

impl Rewriter {
    fn feed(&mut self, data: &[u8], f: fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            if self.tls {
                out.append(&mut self.pending);
                return out;
            }
            if self.literal_left > 0 {
                let take = self.literal_left.min(self.pending.len());
                out.extend(self.pending.drain(..take));
                self.literal_left -= take;
                if self.literal_left > 0 {
                    return out;
                }
            }
            let Some(lf) = self.pending.iter().position(|&b| b == b'\n') else {
                return out;
            };
            let line: Vec<u8> = self.pending.drain(..=lf).collect();
            self.literal_left = literal_size(&line);
            self.tls = starts_tls(&line);
            out.extend(f(&line));
        }
    }

    fn finish(&mut self, _f: fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

/// Splits the server's bytes into lines and literals; a `BODY[]` literal
/// is held whole, then sent rebuilt behind its announcement with the new
/// length; RFC822.SIZE values in lines get the skew added.
#[derive(Default)]
struct Rebuilder {
    pending: Vec<u8>,
    /// Bytes of a literal still to pass; with `body`, to hold and rebuild.
    literal_left: usize,
    /// The announcing line (without `{n}\r\n`) of a body being held.
    body: Option<Vec<u8>>,
}

impl Rebuilder {
    fn feed(&mut self, data: &[u8], rebuild: Rebuild, skew: u64) -> Vec<u8> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            if self.literal_left > 0 {
                if let Some(head) = &self.body {
                    if self.pending.len() < self.literal_left {
                        return out;
                    }
                    let literal: Vec<u8> = self.pending.drain(..self.literal_left).collect();
                    let rebuilt = rebuild(&literal);
                    out.extend_from_slice(head);
                    out.extend_from_slice(format!("{{{}}}\r\n", rebuilt.len()).as_bytes());
                    out.extend_from_slice(&rebuilt);
                    self.body = None;
                    self.literal_left = 0;
                } else {
                    let take = self.literal_left.min(self.pending.len());
                    out.extend(self.pending.drain(..take));
                    self.literal_left -= take;
                    if self.literal_left > 0 {
                        return out;
                    }
                }
            }
            let Some(lf) = self.pending.iter().position(|&b| b == b'\n') else {
                return out;
            };
            let line: Vec<u8> = self.pending.drain(..=lf).collect();
            let line = skew_sizes(&line, skew);
            self.literal_left = literal_size(&line);
            let announces_body = line.windows(b"BODY[] {".len()).any(|w| w == b"BODY[] {");
            if self.literal_left > 0 && announces_body {
                let open = line.iter().rposition(|&b| b == b'{').unwrap();
                self.body = Some(line[..open].to_vec());
            } else {
                out.extend(line);
            }
        }
    }
}

/// A line with `skew` added to each `RFC822.SIZE n` in it.
fn skew_sizes(line: &[u8], skew: u64) -> Vec<u8> {
    const KEY: &[u8] = b"RFC822.SIZE ";
    let Some(at) = find(line, KEY, 0).filter(|_| skew > 0) else {
        return line.to_vec();
    };
    let start = at + KEY.len();
    let end = start
        + line[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
    let Some(size) = std::str::from_utf8(&line[start..end])
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
    else {
        return line.to_vec();
    };
    let mut out = line[..start].to_vec();
    out.extend_from_slice((size + skew).to_string().as_bytes());
    out.extend_from_slice(&skew_sizes(&line[end..], skew));
    out
}

/// A tagged OK mentioning TLS: the answer to STARTTLS.
fn starts_tls(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line).to_ascii_uppercase();
    !text.starts_with('*') && text.split(' ').nth(1) == Some("OK") && text.contains("TLS")
}

/// The size of the literal a line announces at its end (`{n}` / `{n+}`).
fn literal_size(line: &[u8]) -> usize {
    let line = line.strip_suffix(b"\r\n").unwrap_or(line);
    let Some(inner) = line.strip_suffix(b"}") else {
        return 0;
    };
    let Some(open) = inner.iter().rposition(|&b| b == b'{') else {
        return 0;
    };
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// Where `needle` first occurs in `haystack` at or after `from`.
pub fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Offsets just after each literal announcement (`{n}\r\n`) of at least
/// `min` bytes in a recorded stream, with the literal's size: aiming points
/// for cuts in the middle of a literal.
pub fn literals(stream: &[u8], min: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(lf) = find(stream, b"\n", pos) {
        let line = &stream[pos..=lf];
        let size = literal_size(line);
        pos = lf + 1;
        if size > 0 {
            if size >= min {
                out.push((pos, size));
            }
            pos = pos.saturating_add(size);
        }
    }
    out
}

/// One command a client sent: its text with literals left out (their
/// `{N}` announcements kept), and the literals' sizes.
#[derive(Debug)]
pub struct Sent {
    pub words: Vec<String>,
    pub literals: Vec<usize>,
}

/// The commands in what a client sent, in order.
pub fn commands(stream: &[u8]) -> Vec<Sent> {
    let mut out = Vec::new();
    let (mut at, mut text, mut literals) = (0, String::new(), Vec::new());
    while let Some(end) = find(stream, b"\r\n", at) {
        let line = String::from_utf8_lossy(&stream[at..end]).into_owned();
        at = end + 2;
        text.push_str(&line);
        let announced = line
            .strip_suffix('}')
            .and_then(|l| l.rsplit_once('{'))
            .and_then(|(_, n)| n.trim_end_matches('+').parse::<usize>().ok());
        match announced {
            Some(n) => {
                literals.push(n);
                at += n;
            }
            None => {
                out.push(Sent {
                    words: text.split_whitespace().map(str::to_string).collect(),
                    literals: std::mem::take(&mut literals),
                });
                text.clear();
            }
        }
    }
    out
}
