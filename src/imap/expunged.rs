//! UIDs expunged while a command ran, read from the untagged data that
//! came with it: `* VANISHED` (not EARLIER), and `* n EXPUNGE` mapped to
//! UIDs through the sequence numbers the FETCH data revealed — so that a
//! listing taken while another client expunges leaves those messages out
//! rather than counting them. Bounded: a hostile sequence number or an
//! endless VANISHED cannot make it grow without limit.

use super::parse::{self, Untagged};
use super::selected::Selected;
use super::uidset;
use crate::model::Uid;

/// Most sequence numbers we map to UIDs beyond EXISTS, so that a hostile
/// sequence number cannot make us allocate without bound.
const SEQ_SLACK: usize = 100_000;

/// UIDs expunged while commands ran: from `* VANISHED` (not EARLIER), and
/// from `* n EXPUNGE` mapped through the sequence numbers that the FETCH
/// data seen so far revealed (an EXPUNGE of a number we never saw cannot
/// be mapped, and only shifts the numbers after it).
#[derive(Debug, Default)]
pub(crate) struct Expunged {
    /// UID by sequence number − 1; 0 where unknown.
    by_seq: Vec<Uid>,
    cap: usize,
    gone: Vec<(Uid, Uid)>,
}

impl Expunged {
    pub(crate) fn new(selected: &Option<Selected>) -> Expunged {
        let exists = selected.as_ref().map_or(0, |s| s.exists as usize);
        Expunged {
            by_seq: Vec::new(),
            cap: exists.saturating_add(SEQ_SLACK),
            gone: Vec::new(),
        }
    }

    /// Files one response; Err past the bound (more ranges reported gone
    /// than the mailbox could have lost).
    pub(crate) fn see(&mut self, u: &Untagged<'_>) -> Result<(), String> {
        match u {
            Untagged::Fetch { seq, attrs } => {
                let i = (*seq as usize).wrapping_sub(1);
                if let (Some(uid), true) = (parse::fetch_uid(attrs), i < self.cap) {
                    if self.by_seq.len() <= i {
                        self.by_seq.resize(i + 1, 0);
                    }
                    self.by_seq[i] = uid;
                }
            }
            Untagged::Expunge(n) => {
                let i = (*n as usize).wrapping_sub(1);
                if i < self.by_seq.len() {
                    let uid = self.by_seq.remove(i);
                    if uid != 0 {
                        self.gone.push((uid, uid));
                    }
                }
            }
            Untagged::Vanished {
                earlier: false,
                uid_set,
            } => self
                .gone
                .extend(uidset::parse_ranges(uid_set).unwrap_or_default()),
            _ => {}
        }
        if self.gone.len() > self.cap {
            return Err(format!(
                "the server reported more than {} expunged UIDs or ranges (EXISTS + {SEQ_SLACK}), \
                 over the bound for this command; not reading any further from this connection",
                self.cap
            ));
        }
        Ok(())
    }

    /// What was expunged, as sorted, merged ranges.
    pub(crate) fn ranges(&self) -> Vec<(Uid, Uid)> {
        uidset::merge_ranges(self.gone.clone())
    }
}
