//! Where the snapshot lives: `--state`, the config file's `state`, or a
//! default file under the XDG state directory named after both endpoints,
//! the same whichever side is A.

use super::endpoint::parse_endpoint;
use super::merge::side_settings;
use super::{ConfigError, ConfigFile};
use crate::cli::CommonArgs;
use crate::model::Side;
use crate::snapshot::EndpointIdentity;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where a run with these options keeps its snapshot, and the endpoints the
/// options name (None when only a state path was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotLocation {
    pub path: PathBuf,
    pub identities: Option<[EndpointIdentity; 2]>,
}

/// Finds the snapshot as a run with the same `--config`, `--a`, `--b` and
/// `--state` would, without any password (nothing is sent anywhere, so the
/// plaintext guard does not apply either).
pub fn locate_snapshot(
    common: &CommonArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SnapshotLocation, ConfigError> {
    let file = common.config.as_deref().map(ConfigFile::load).transpose()?;
    let file = file.as_ref();
    let file_state = file.and_then(|f| f.content.state.as_ref().map(|s| s.get_ref().clone()));
    let state = common.state.clone().or(file_state);
    let names_url = |side: Side| {
        common.endpoint(side).url.is_some()
            || file
                .and_then(|f| f.endpoint(side))
                .is_some_and(|e| e.url.is_some())
    };
    let identities = if state.is_some() && !names_url(Side::A) && !names_url(Side::B) {
        None
    } else {
        let mut ids = Vec::new();
        for side in [Side::A, Side::B] {
            ids.push(parse_endpoint(&side_settings(side, common, file)?, true)?.identity());
        }
        Some([ids[0].clone(), ids[1].clone()])
    };
    let path = match (state, &identities) {
        (Some(p), _) => p,
        (None, Some(ids)) => default_state_path(ids, env)?,
        (None, None) => unreachable!("no state path implies both URLs were parsed"),
    };
    Ok(SnapshotLocation { path, identities })
}

/// `$XDG_STATE_HOME/imapmend/<name>.sqlite`, else
/// `$HOME/.local/state/imapmend/<name>.sqlite`. The name is built from both
/// identities in sorted order, so giving A and B the other way round finds
/// the same file (the snapshot recognises the swap). The directory is not
/// created here.
pub fn default_state_path(
    identities: &[EndpointIdentity; 2],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf, ConfigError> {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    // The XDG spec says relative values are invalid and must be ignored.
    let dir = match non_empty("XDG_STATE_HOME").filter(|v| Path::new(v).is_absolute()) {
        Some(state) => PathBuf::from(state),
        None => match non_empty("HOME") {
            Some(home) => Path::new(&home).join(".local").join("state"),
            None => {
                return Err(ConfigError::StatePath(
                    "neither XDG_STATE_HOME nor HOME is set; pass --state PATH".into(),
                ))
            }
        },
    };
    Ok(dir
        .join("imapmend")
        .join(format!("{}.sqlite", state_file_stem(identities))))
}

/// `imaps_user@host_993--imap_user@host_143-<hash>`: readable, filename-safe
/// and collision-free. Characters outside `[A-Za-z0-9._@+-]` become `_`, a
/// long name is cut, and a short hash of the exact identities always follows,
/// so neither sanitising nor cutting can make two pairs share a file.
fn state_file_stem(identities: &[EndpointIdentity; 2]) -> String {
    const MAX_READABLE: usize = 100;
    let mut keys = identities
        .clone()
        .map(|id| format!("{}_{}@{}_{}", id.scheme, id.user, id.host, id.port));
    keys.sort();
    let mut hasher = Sha256::new();
    for key in &keys {
        hasher.update((key.len() as u64).to_be_bytes());
        hasher.update(key.as_bytes());
    }
    let hash: String = hasher.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut readable: String = keys
        .join("--")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    readable.truncate(MAX_READABLE); // ASCII only by now
    format!("{readable}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::*;

    #[test]
    fn config_default_state_path_is_order_independent_and_filename_safe() {
        let c = plan(
            "imaps://alice@mail.example.org",
            "imap://bob@127.0.0.1:1143",
            &[],
        );
        let swapped = plan(
            "imap://bob@127.0.0.1:1143",
            "imaps://alice@mail.example.org",
            &[],
        );
        let env = env_of(&[
            ("IMAPMEND_A_PASSWORD", "x"),
            ("IMAPMEND_B_PASSWORD", "y"),
            ("XDG_STATE_HOME", "/xdg/state"),
            ("HOME", "/home/op"),
        ]);
        let path = resolve_env(&c, &env).unwrap().state_path;
        assert_eq!(path, resolve_env(&swapped, &env).unwrap().state_path);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(path.parent().unwrap(), Path::new("/xdg/state/imapmend"));
        assert!(
            name.starts_with("imap_bob@127.0.0.1_1143--imaps_alice@mail.example.org_993-")
                && name.ends_with(".sqlite"),
            "{name}"
        );

        // HOME fallback; a relative XDG_STATE_HOME is ignored as the spec says.
        let env = env_of(&[
            ("IMAPMEND_A_PASSWORD", "x"),
            ("IMAPMEND_B_PASSWORD", "y"),
            ("XDG_STATE_HOME", "relative"),
            ("HOME", "/home/op"),
        ]);
        let path = resolve_env(&c, &env).unwrap().state_path;
        assert_eq!(
            path.parent().unwrap(),
            Path::new("/home/op/.local/state/imapmend")
        );

        let env = env_of(&[("IMAPMEND_A_PASSWORD", "x"), ("IMAPMEND_B_PASSWORD", "y")]);
        let msg = resolve_env(&c, &env).unwrap_err().to_string();
        assert!(msg.contains("--state"), "{msg}");
        let c = plan(
            "imaps://u@a.example",
            "imaps://v@b.example",
            &["--state", "s.db"],
        );
        assert_eq!(
            resolve_env(&c, &env).unwrap().state_path,
            PathBuf::from("s.db")
        );
    }

    #[test]
    fn config_state_file_names_never_collide_and_stay_short() {
        let odd = [id("imaps", "::1", 993, "a b/c"), id("imaps", "h", 993, "x")];
        let similar = [id("imaps", "::1", 993, "a_b_c"), id("imaps", "h", 993, "x")];
        let (s1, s2) = (state_file_stem(&odd), state_file_stem(&similar));
        assert_ne!(s1, s2);
        assert!(
            s1.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b)),
            "{s1}"
        );
        let long = [
            id("imaps", "h", 993, &"x".repeat(300)),
            id("imaps", "h", 993, &"x".repeat(301)),
        ];
        let stem = state_file_stem(&long);
        assert!(stem.len() <= 113, "{}", stem.len());
        let mut swapped = long.clone();
        swapped.reverse();
        assert_eq!(stem, state_file_stem(&swapped));
        assert_ne!(
            stem,
            state_file_stem(&[long[0].clone(), id("imaps", "h", 993, &"x".repeat(302))])
        );
    }
}
