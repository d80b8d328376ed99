//! Build script: records the commit the binary is built from, for
//! `imapmend --version` ("imapmend 0.1.0 (commit 1a2b3c4d5e6f)"). Outside a
//! git checkout (a crate from the registry, a source tarball) or without
//! git, the commit is "unknown"; a packager may set IMAPMEND_COMMIT.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=IMAPMEND_COMMIT");
    let commit = std::env::var("IMAPMEND_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            // Only the repository this crate is the top of: a crate
            // unpacked inside some other checkout is not built from it.
            let top = git(&["rev-parse", "--show-toplevel"])?;
            let here = std::env::var("CARGO_MANIFEST_DIR").ok()?;
            let same = std::fs::canonicalize(&top).ok()? == std::fs::canonicalize(&here).ok()?;
            if !same {
                return None;
            }
            // Rebuild when HEAD moves: HEAD itself (a checkout), the ref it
            // names (a commit) and packed-refs (a gc). In a worktree, HEAD
            // is in its own git dir, the refs in the common one.
            let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
            let common = git(&["rev-parse", "--git-common-dir"])
                .map(|c| {
                    let c = PathBuf::from(c);
                    if c.is_absolute() {
                        c
                    } else {
                        PathBuf::from(&here).join(c)
                    }
                })
                .unwrap_or_else(|| git_dir.clone());
            // (A path that does not exist would rerun this script, and
            // rebuild the crate, on every build.)
            let head_ref = git(&["symbolic-ref", "-q", "HEAD"]);
            let watched = [
                Some(git_dir.join("HEAD")),
                Some(common.join("packed-refs")),
                head_ref.map(|r| common.join(r)),
            ];
            for path in watched.into_iter().flatten().filter(|p| p.exists()) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            git(&["rev-parse", "--short=12", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=IMAPMEND_COMMIT={commit}");
}
