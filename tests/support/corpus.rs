//! Real, odd mail from `../shared/corpora` (see its README) and the
//! project's own small set in `fixtures/mail/`.
//!
//! Owns: loading message files as bytes. The shared corpora may be absent (a
//! checkout without `../shared/`): the tests that need them are
//! `#[ignore]`d (`scripts/matrix` runs them) and [`shared_corpus`] fails
//! them, saying so, when run without. `fixtures/mail/` is always there.

use std::path::{Path, PathBuf};

/// One message file.
#[derive(Debug, Clone)]
pub struct MailFile {
    /// File name, e.g. `msg_01.txt`.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// `../shared/corpora` next to the crate, or `IMAPMEND_CORPORA`.
pub fn corpora_dir() -> PathBuf {
    std::env::var_os("IMAPMEND_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"))
}

/// The messages of one shared corpus (`cpython-email`, `mail-parser`), sorted
/// by name, a leading mbox `From ` line stripped. Panics when absent.
pub fn shared_corpus(name: &str) -> Vec<MailFile> {
    let dir = corpora_dir().join(name);
    assert!(
        dir.is_dir(),
        "corpus {} is not present: set IMAPMEND_CORPORA to the directory holding {name}/",
        dir.display()
    );
    let mut paths = Vec::new();
    walk(&dir, &mut paths);
    let mut files: Vec<MailFile> = paths
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".eml") || (name.starts_with("msg_") && name.ends_with(".txt"))
        })
        .map(|p| MailFile {
            name: p.strip_prefix(&dir).unwrap().display().to_string(),
            bytes: strip_mbox_from_line(&std::fs::read(&p).unwrap()),
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

/// The project's fixture mails (`fixtures/mail/*.eml`), sorted by name.
pub fn fixture_mail() -> Vec<MailFile> {
    read_dir_files(&fixtures_dir().join("mail"), &["eml"])
}

/// One fixture mail by file name (panics if missing).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join("mail").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

fn read_dir_files(dir: &Path, extensions: &[&str]) -> Vec<MailFile> {
    let mut out: Vec<MailFile> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| extensions.contains(&e))
        })
        .map(|p| MailFile {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            bytes: std::fs::read(&p).unwrap(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Drops a leading mbox `From ` separator line, if any.
pub fn strip_mbox_from_line(bytes: &[u8]) -> Vec<u8> {
    if bytes.starts_with(b"From ") {
        match bytes.iter().position(|&b| b == b'\n') {
            Some(nl) => bytes[nl + 1..].to_vec(),
            None => Vec::new(),
        }
    } else {
        bytes.to_vec()
    }
}
