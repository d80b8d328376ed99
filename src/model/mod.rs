//! Plain domain types shared by every layer: sides, UIDs, fingerprints,
//! flags, message metadata and mailbox status, and what is listed from a
//! server ([`ListedMessage`]).
//!
//! This module owns *values only*: no I/O, no decisions. The IMAP layer fills
//! these from the wire, the snapshot stores them, the reconcile core compares
//! them. The operator's policies ([`DeleteMode`], [`MaxDelete`], [`OneWay`]),
//! units ([`ByteSize`]) and mailbox naming rules ([`NameRules`]) are values
//! too, so they live here where the command line and the core both reach
//! them. Flag semantics that every layer must agree on live here: keywords
//! compare case-insensitively and `\Recent` never enters a [`FlagSet`].

mod mailbox_names;
mod normalised;
mod pair;
mod policy;
mod scrub_budget;
mod units;

pub use mailbox_names::NameRules;
pub use normalised::Normalised;
pub use pair::KnownPair;
pub use policy::{DeleteMode, Identity, MaxDelete, OneWay};
pub use scrub_budget::ScrubBudget;
pub use units::ByteSize;

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

mod listing;

pub use listing::ListedMessage;

/// A message UID. IMAP UIDs are 32-bit unsigned (RFC 3501 §2.3.1.1).
pub type Uid = u32;

/// One of the two servers being reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::A, Side::B];

    /// The other server.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// 0 for A, 1 for B: the index into a `[T; 2]` kept per side.
    pub fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }

    pub fn letter(self) -> char {
        match self {
            Side::A => 'A',
            Side::B => 'B',
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

/// SHA-256 of a message's bytes with canonical (CRLF) line endings.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(s: &str) -> Option<Fingerprint> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(chunk).ok()?;
            out[i] = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Fingerprint(out))
    }

    /// First 12 hex digits, for tables meant for humans.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_string()
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.short())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Fingerprint::from_hex(&s).ok_or_else(|| serde::de::Error::custom("bad fingerprint hex"))
    }
}

/// One flag or keyword as the server spelled it. Equality and ordering are
/// ASCII case-insensitive (RFC 3501: flag names are case-insensitive), so
/// `$Junk` and `$junk` are the same flag and never cause a change.
///
/// System flags borrow their static spelling: a flag set of them allocates
/// nothing per flag (there are millions of them at 100,000 messages).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Flag(Cow<'static, str>);

impl Flag {
    /// A flag as spelled on the wire. System flags are normalised to their
    /// RFC spelling (`\SEEN` becomes `\Seen`) so reports read consistently.
    pub fn new(wire: &str) -> Flag {
        const SYSTEM: [&str; 6] = [
            "\\Seen",
            "\\Answered",
            "\\Flagged",
            "\\Deleted",
            "\\Draft",
            "\\Recent",
        ];
        for sys in SYSTEM {
            if sys.eq_ignore_ascii_case(wire) {
                return Flag(Cow::Borrowed(sys));
            }
        }
        Flag(Cow::Owned(wire.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_recent(&self) -> bool {
        self.0 == "\\Recent"
    }

    /// A system flag starts with a backslash; anything else is a keyword.
    pub fn is_system(&self) -> bool {
        self.0.starts_with('\\')
    }

    pub fn deleted() -> Flag {
        Flag::new("\\Deleted")
    }
}

impl PartialEq for Flag {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for Flag {}

impl Ord for Flag {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.0.bytes().map(|b| b.to_ascii_lowercase());
        let b = other.0.bytes().map(|b| b.to_ascii_lowercase());
        a.cmp(b)
    }
}
impl PartialOrd for Flag {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl std::hash::Hash for Flag {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl fmt::Debug for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The system flags a [`FlagSet`] keeps as bits, in the set's order (by
/// [`Flag`]'s ordering). `\Recent` is never kept.
static SYSTEM_FLAGS: [Flag; 5] = [
    Flag(Cow::Borrowed("\\Answered")),
    Flag(Cow::Borrowed("\\Deleted")),
    Flag(Cow::Borrowed("\\Draft")),
    Flag(Cow::Borrowed("\\Flagged")),
    Flag(Cow::Borrowed("\\Seen")),
];

/// The bit of a system flag in [`FlagSet::system`].
fn system_bit(flag: &Flag) -> Option<u8> {
    if !flag.is_system() {
        return None;
    }
    SYSTEM_FLAGS.iter().position(|f| f == flag).map(|i| 1 << i)
}

/// A set of flags and keywords, never containing `\Recent` (it is
/// session-local, so it is neither read nor written).
///
/// The five system flags are bits; any other flag or keyword is kept in a
/// sorted slice without duplicates (by [`Flag`]'s ordering), allocated only
/// when there is one and shared by the set's clones (behind one thin
/// pointer: the plan's copies of a listing's flags allocate nothing). Most
/// messages carry system flags only, so a set is 16 bytes and no
/// allocation, and set operations on them are bit operations: at 100,000
/// messages there are several sets per message in a run (each side's
/// listing, the snapshot's agreed flags, the plan's). A full path holds a
/// million of them (docs/ARCHITECTURE.md, "A full path holds one record
/// per message"); `model::tests::compact_sizes` holds the size.
#[derive(Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "Vec<Flag>")]
pub struct FlagSet {
    /// Bit i set: `SYSTEM_FLAGS[i]` is in the set.
    system: Bits,
    /// The other flags, sorted, no duplicates; None rather than empty.
    /// Never changed in place: a change builds a new slice.
    others: Option<Arc<Box<[Flag]>>>,
}

/// A set's system bits with the high bit always set, so that the value is
/// never zero and `Option<FlagSet>` (the plan's and the snapshot's pairs
/// hold one) needs no tag beside it: 16 bytes, not 24.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Bits(std::num::NonZeroU8);

impl Bits {
    const MARK: u8 = 0x80;

    fn new(bits: u8) -> Bits {
        // Never zero: the mark is set.
        Bits(std::num::NonZeroU8::new(bits | Bits::MARK).unwrap_or(std::num::NonZeroU8::MAX))
    }
}

impl Default for Bits {
    fn default() -> Bits {
        Bits::new(0)
    }
}

impl FlagSet {
    pub fn new() -> FlagSet {
        FlagSet::default()
    }

    /// Builds a set from wire spellings, dropping `\Recent`.
    pub fn from_wire<'a>(flags: impl IntoIterator<Item = &'a str>) -> FlagSet {
        flags.into_iter().map(Flag::new).collect()
    }

    fn bits(&self) -> u8 {
        self.system.0.get() & !Bits::MARK
    }

    fn others(&self) -> &[Flag] {
        self.others.as_deref().map(|o| &o[..]).unwrap_or_default()
    }

    fn with(system: u8, others: Vec<Flag>) -> FlagSet {
        FlagSet {
            system: Bits::new(system),
            others: (!others.is_empty()).then(|| Arc::new(others.into_boxed_slice())),
        }
    }

    pub fn insert(&mut self, flag: Flag) {
        if flag.is_recent() {
            return;
        }
        if let Some(bit) = system_bit(&flag) {
            self.system = Bits::new(self.bits() | bit);
        } else if let Err(at) = self.others().binary_search(&flag) {
            let mut others = self.others().to_vec();
            others.insert(at, flag);
            self.others = Some(Arc::new(others.into_boxed_slice()));
        }
    }

    pub fn remove(&mut self, flag: &Flag) {
        if let Some(bit) = system_bit(flag) {
            self.system = Bits::new(self.bits() & !bit);
        } else if let Ok(at) = self.others().binary_search(flag) {
            let mut others = self.others().to_vec();
            others.remove(at);
            *self = FlagSet::with(self.bits(), others);
        }
    }

    pub fn contains(&self, flag: &Flag) -> bool {
        match system_bit(flag) {
            Some(bit) => self.bits() & bit != 0,
            None => self.others().binary_search(flag).is_ok(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bits() == 0 && self.others.is_none()
    }

    pub fn len(&self) -> usize {
        self.bits().count_ones() as usize + self.others().len()
    }

    /// The flags in order (by [`Flag`]'s ordering).
    pub fn iter(&self) -> impl Iterator<Item = &Flag> {
        Iter {
            system: self.bits(),
            next_system: 0,
            others: self.others(),
        }
    }

    pub fn union(&self, other: &FlagSet) -> FlagSet {
        if other.others.is_none() {
            return FlagSet {
                system: Bits::new(self.bits() | other.bits()),
                others: self.others.clone(),
            };
        }
        // The first spelling of a keyword given twice is kept: self's.
        let mut out: FlagSet = self
            .others()
            .iter()
            .chain(other.others())
            .cloned()
            .collect();
        out.system = Bits::new(self.bits() | other.bits());
        out
    }

    /// Flags in `self` that are not in `other`.
    pub fn minus(&self, other: &FlagSet) -> FlagSet {
        let others = self.others().iter().filter(|f| !other.contains(f));
        FlagSet::with(self.bits() & !other.bits(), others.cloned().collect())
    }

    pub fn intersection(&self, other: &FlagSet) -> FlagSet {
        let others = self.others().iter().filter(|f| other.contains(f));
        FlagSet::with(self.bits() & other.bits(), others.cloned().collect())
    }

    /// The flags as an IMAP parenthesised list body: `\Seen $Forwarded`.
    pub fn to_wire(&self) -> String {
        self.iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// [`FlagSet::iter`]: the system bits and the other flags, merged in order.
struct Iter<'a> {
    system: u8,
    /// The first index into `SYSTEM_FLAGS` not yet considered.
    next_system: usize,
    others: &'a [Flag],
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Flag;

    fn next(&mut self) -> Option<&'a Flag> {
        while self.next_system < SYSTEM_FLAGS.len() && self.system & (1 << self.next_system) == 0 {
            self.next_system += 1;
        }
        let system = SYSTEM_FLAGS.get(self.next_system);
        match (system, self.others.split_first()) {
            (Some(s), Some((o, rest))) if o < s => {
                self.others = rest;
                Some(o)
            }
            (Some(s), _) => {
                self.next_system += 1;
                Some(s)
            }
            (None, Some((o, rest))) => {
                self.others = rest;
                Some(o)
            }
            (None, None) => None,
        }
    }
}

/// Ordered as the sorted sequences of their flags compare.
impl Ord for FlagSet {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}
impl PartialOrd for FlagSet {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromIterator<Flag> for FlagSet {
    /// The first spelling of a flag given twice (in any case) is kept.
    fn from_iter<I: IntoIterator<Item = Flag>>(iter: I) -> Self {
        let mut system = 0;
        let mut others = Vec::new();
        for flag in iter {
            match system_bit(&flag) {
                Some(bit) => system |= bit,
                None if flag.is_recent() => {}
                None => others.push(flag),
            }
        }
        others.sort(); // stable: equal flags keep their order
        others.dedup();
        FlagSet::with(system, others)
    }
}

impl From<Vec<Flag>> for FlagSet {
    fn from(flags: Vec<Flag>) -> FlagSet {
        flags.into_iter().collect()
    }
}

impl Serialize for FlagSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl fmt::Debug for FlagSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({})", self.to_wire())
    }
}
impl fmt::Display for FlagSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({})", self.to_wire())
    }
}

/// The flags to add and to remove on one message of one side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FlagDelta {
    pub add: FlagSet,
    pub remove: FlagSet,
}

impl FlagDelta {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// INTERNALDATE: the instant plus the zone offset the server reported, so it
/// can be written back exactly as read (`17-Jul-1996 02:44:25 -0700`).
///
/// One integer (8 bytes, not 16: a full path holds one per message and
/// side, docs/ARCHITECTURE.md "A full path holds one record per message"):
/// the seconds shifted left by 16 bits, the offset in the low 16, biased so
/// that the integers order as (seconds, offset) do. The seconds keep 48
/// bits (±4 million years; every date IMAP can write fits); a value beyond
/// them, which only a damaged snapshot row could hold, is saturated.
/// Serialised as before, `{"unix": …, "offset_minutes": …}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "DateParts", into = "DateParts")]
pub struct InternalDate(i64);

/// [`InternalDate`]'s serialised form and parts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct DateParts {
    unix: i64,
    offset_minutes: i16,
}

impl From<DateParts> for InternalDate {
    fn from(p: DateParts) -> InternalDate {
        InternalDate::new(p.unix, p.offset_minutes)
    }
}
impl From<InternalDate> for DateParts {
    fn from(d: InternalDate) -> DateParts {
        DateParts {
            unix: d.unix(),
            offset_minutes: d.offset_minutes(),
        }
    }
}

impl fmt::Debug for InternalDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InternalDate")
            .field("unix", &self.unix())
            .field("offset_minutes", &self.offset_minutes())
            .finish()
    }
}

const SECONDS_MAX: i64 = (1 << 47) - 1;

impl InternalDate {
    /// The instant `unix` (seconds since the Unix epoch, UTC) in the zone
    /// `offset_minutes` east of UTC.
    pub fn new(unix: i64, offset_minutes: i16) -> InternalDate {
        let unix = unix.clamp(-SECONDS_MAX - 1, SECONDS_MAX);
        let offset = (offset_minutes as i32 + 0x8000) as i64;
        InternalDate((unix << 16) | offset)
    }

    /// Seconds since the Unix epoch (UTC).
    pub fn unix(self) -> i64 {
        self.0 >> 16
    }

    /// Zone offset east of UTC, in minutes.
    pub fn offset_minutes(self) -> i16 {
        ((self.0 & 0xffff) as i32 - 0x8000) as i16
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl InternalDate {
    /// Parses the IMAP `date-time` form `dd-Mon-yyyy hh:mm:ss +zzzz`
    /// (the day may be space-padded).
    pub fn parse(s: &str) -> Option<InternalDate> {
        let s = s.trim();
        let (date, rest) = s.split_once(' ')?;
        let (time, zone) = rest.trim_start().split_once(' ')?;
        let mut d = date.split('-');
        let day: u32 = d.next()?.trim().parse().ok()?;
        let mon = d.next()?;
        let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(mon))? as u32 + 1;
        let year: i64 = d.next()?.parse().ok()?;
        let mut t = time.split(':');
        let hh: i64 = t.next()?.parse().ok()?;
        let mm: i64 = t.next()?.parse().ok()?;
        let ss: i64 = t.next()?.parse().ok()?;
        let zone = zone.trim();
        if zone.len() != 5 {
            return None;
        }
        let sign = match &zone[..1] {
            "+" => 1i16,
            "-" => -1i16,
            _ => return None,
        };
        let zh: i16 = zone[1..3].parse().ok()?;
        let zm: i16 = zone[3..5].parse().ok()?;
        if !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        let offset_minutes = sign * (zh * 60 + zm);
        let local = days_from_civil(year, month, day) * 86_400 + hh * 3600 + mm * 60 + ss;
        Some(InternalDate::new(
            local - offset_minutes as i64 * 60,
            offset_minutes,
        ))
    }

    /// Formats as IMAP `date-time`, in the zone it was read in.
    pub fn to_imap(&self) -> String {
        let local = self.unix() + self.offset_minutes() as i64 * 60;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let sign = if self.offset_minutes() < 0 { '-' } else { '+' };
        let off = self.offset_minutes().unsigned_abs();
        format!(
            "{:02}-{}-{:04} {:02}:{:02}:{:02} {}{:02}{:02}",
            d,
            MONTHS[(m - 1) as usize],
            y,
            secs / 3600,
            secs % 3600 / 60,
            secs % 60,
            sign,
            off / 60,
            off % 60
        )
    }
}

// Howard Hinnant's civil-date algorithms: exact for the proleptic Gregorian calendar.
/// Days since 1970-01-01 of a calendar date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date (year, month, day) of a day counted from 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// What a listing knows about one message on one side: 80 bytes, a million
/// of them per side in a full path of issue 18's size
/// (`model::tests::compact_sizes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: Uid,
    pub size: u32,
    pub internal_date: InternalDate,
    pub flags: FlagSet,
    /// Content identity: SHA-256 over canonical line endings.
    pub fingerprint: Fingerprint,
    /// The normalised fingerprint ([`crate::fingerprint::normalised`], of
    /// the current version), read with [`MessageMeta::normalised`]; not
    /// known for a cache row of an older version or a copy whose body was
    /// not read. Made with [`Normalised::of`] from the exact fingerprint
    /// above, so it is set again whenever that one changes
    /// ([`MessageMeta::set_fingerprints`]).
    pub normalised: Normalised,
}

impl MessageMeta {
    /// The normalised fingerprint, where known.
    pub fn normalised(&self) -> Option<Fingerprint> {
        self.normalised.get(&self.fingerprint)
    }

    /// Both fingerprints at once: the normalised one is held relative to
    /// the exact one, so neither is changed alone.
    pub fn set_fingerprints(&mut self, exact: Fingerprint, normalised: Option<Fingerprint>) {
        self.fingerprint = exact;
        self.normalised = Normalised::of(&exact, normalised);
    }
}

/// At which level of identity a pair was made, strongest first
/// (docs/ARCHITECTURE.md, "Identity").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PairLevel {
    /// The exact content hash is equal (or imapmend recorded the pair from
    /// its own APPENDUID).
    #[default]
    Exact,
    /// Only the normalised fingerprint is equal: the two differ by the
    /// rewrites of [`crate::fingerprint`] and nothing else.
    Normalised,
    /// `--identity headers`: Message-ID, Date and From agree, sizes within
    /// a tolerance; the contents may differ in any way.
    Headers,
}

impl PairLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            PairLevel::Exact => "exact",
            PairLevel::Normalised => "normalised",
            PairLevel::Headers => "headers",
        }
    }

    pub fn from_sql(text: &str) -> Option<PairLevel> {
        [PairLevel::Exact, PairLevel::Normalised, PairLevel::Headers]
            .into_iter()
            .find(|l| l.as_str() == text)
    }
}

impl fmt::Display for PairLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What SELECT/EXAMINE said about a mailbox on one side.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MailboxStatus {
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub exists: u32,
    /// None when the side has no CONDSTORE or answered NOMODSEQ.
    pub highestmodseq: Option<u64>,
    /// PERMANENTFLAGS as a SELECT listed them; `\*` means new keywords may
    /// be created. None when not known: the server sent none (RFC 3501
    /// §7.1: then every flag is permanent), or the mailbox was opened with
    /// EXAMINE, whose answer (`PERMANENTFLAGS ()` on every server) is about
    /// the read-only session and says nothing about what a sync may store.
    pub permanent_flags: Option<Vec<String>>,
}

impl MailboxStatus {
    /// Whether the side can keep this flag on a message (PERMANENTFLAGS).
    /// Unknown PERMANENTFLAGS are taken to allow everything (RFC 3501 §7.1:
    /// absent means all flags are permanent).
    pub fn can_store(&self, flag: &Flag) -> bool {
        let Some(permanent) = &self.permanent_flags else {
            return true;
        };
        let listed = permanent.iter().any(|p| Flag::new(p) == *flag);
        listed || (!flag.is_system() && permanent.iter().any(|p| p == "\\*"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_compare_case_insensitively_and_recent_is_dropped() {
        let a = FlagSet::from_wire(["$Junk", "\\SEEN", "\\Recent"]);
        let b = FlagSet::from_wire(["$junk", "\\Seen"]);
        assert_eq!(a, b);
        assert_eq!(a.to_wire(), "$Junk \\Seen");
    }

    #[test]
    fn system_flags_take_no_allocation_and_keep_their_order_among_keywords() {
        let set = FlagSet::from_wire(["\\seen", "zz", "$Junk", "\\Foo", "\\answered"]);
        assert!(set.others.as_deref().is_some_and(|o| o.len() == 3));
        assert_eq!(set.to_wire(), "$Junk \\Answered \\Foo \\Seen zz");
        assert!(FlagSet::from_wire(["\\Seen", "\\Flagged"]).others.is_none());
    }

    /// What a full path holds per message and side (docs/PERFORMANCE.md,
    /// "What a full path holds per message"): a record per listed message,
    /// a million of them at issue 18's size. A field that grows the record
    /// shows here as a number, not as a slower benchmark.
    #[test]
    fn compact_sizes() {
        use std::mem::size_of;
        assert_eq!(size_of::<FlagSet>(), 16);
        assert_eq!(size_of::<Option<FlagSet>>(), 16);
        assert_eq!(size_of::<InternalDate>(), 8);
        assert_eq!(size_of::<MessageMeta>(), 80);
    }

    proptest::proptest! {
        /// The date as one integer keeps its parts, orders as (seconds,
        /// offset) did, and serialises in the old form.
        #[test]
        fn a_date_in_one_integer_keeps_its_parts_and_order(
            a in (-(1i64 << 47)..(1i64 << 47)), oa in proptest::num::i16::ANY,
            b in (-(1i64 << 47)..(1i64 << 47)), ob in proptest::num::i16::ANY,
        ) {
            let (x, y) = (InternalDate::new(a, oa), InternalDate::new(b, ob));
            proptest::prop_assert_eq!((x.unix(), x.offset_minutes()), (a, oa));
            proptest::prop_assert_eq!(x.cmp(&y), (a, oa).cmp(&(b, ob)));
            let json = serde_json::to_string(&x).unwrap();
            proptest::prop_assert_eq!(&json, &format!(r#"{{"unix":{a},"offset_minutes":{oa}}}"#));
            proptest::prop_assert_eq!(serde_json::from_str::<InternalDate>(&json).unwrap(), x);
        }
    }

    #[test]
    fn a_date_beyond_48_bits_of_seconds_is_saturated_not_wrapped() {
        let far = InternalDate::new(i64::MAX, -420);
        assert_eq!((far.unix(), far.offset_minutes()), ((1 << 47) - 1, -420));
        assert!(far > InternalDate::new(0, 0));
        let past = InternalDate::new(i64::MIN, 60);
        assert_eq!((past.unix(), past.offset_minutes()), (-(1 << 47), 60));
    }

    /// The reference: a sorted vector of flags, the first spelling kept.
    fn reference(flags: &[Flag]) -> Vec<Flag> {
        let mut v: Vec<Flag> = flags.iter().filter(|f| !f.is_recent()).cloned().collect();
        v.sort();
        v.dedup();
        v
    }

    fn arb_flags() -> impl proptest::strategy::Strategy<Value = Vec<Flag>> {
        use proptest::prelude::*;
        let names = prop_oneof![
            Just("\\Seen"),
            Just("\\SEEN"),
            Just("\\Answered"),
            Just("\\Flagged"),
            Just("\\deleted"),
            Just("\\Draft"),
            Just("\\Recent"),
            Just("\\Foo"),
            Just("$Junk"),
            Just("$junk"),
            Just("Work"),
            Just("a"),
            Just("]x"),
            Just("~z"),
        ];
        proptest::collection::vec(names.prop_map(Flag::new), 0..6)
    }

    proptest::proptest! {
        /// The bit-and-slice set behaves as a sorted vector of flags would:
        /// order, membership, the set operations, equality and ordering.
        #[test]
        fn flag_set_behaves_as_a_sorted_vector(a in arb_flags(), b in arb_flags(), extra in arb_flags()) {
            let (sa, sb) = (a.iter().cloned().collect::<FlagSet>(), b.iter().cloned().collect::<FlagSet>());
            let (ra, rb) = (reference(&a), reference(&b));
            let listed = |s: &FlagSet| s.iter().cloned().collect::<Vec<_>>();
            proptest::prop_assert_eq!(listed(&sa), ra.clone());
            proptest::prop_assert_eq!(sa.len(), ra.len());
            proptest::prop_assert_eq!(sa.is_empty(), ra.is_empty());
            let union = reference(&[ra.clone(), rb.clone()].concat());
            proptest::prop_assert_eq!(listed(&sa.union(&sb)), union);
            let minus: Vec<_> = ra.iter().filter(|f| !rb.contains(f)).cloned().collect();
            proptest::prop_assert_eq!(listed(&sa.minus(&sb)), minus);
            let both: Vec<_> = ra.iter().filter(|f| rb.contains(f)).cloned().collect();
            proptest::prop_assert_eq!(listed(&sa.intersection(&sb)), both);
            proptest::prop_assert_eq!(sa == sb, ra == rb);
            proptest::prop_assert_eq!(sa.cmp(&sb), ra.cmp(&rb));
            let mut edited = sa.clone();
            let mut r = ra.clone();
            for f in &extra {
                if r.contains(f) {
                    edited.remove(f);
                    r.retain(|g| g != f);
                } else {
                    edited.insert(f.clone());
                    r = reference(&[r, vec![f.clone()]].concat());
                }
                proptest::prop_assert_eq!(edited.contains(f), r.contains(f));
            }
            proptest::prop_assert_eq!(listed(&edited), r.clone());
            // Equal sets are equal values: canonical, whatever the edits.
            proptest::prop_assert_eq!(&edited, &r.iter().cloned().collect::<FlagSet>());
        }
    }

    #[test]
    fn internal_date_round_trips_with_its_zone() {
        for s in [
            "17-Jul-1996 02:44:25 -0700",
            "01-Jan-1970 00:00:00 +0000",
            "29-Feb-2024 23:59:59 +0530",
        ] {
            let d = InternalDate::parse(s).unwrap();
            assert_eq!(d.to_imap(), s);
        }
        let padded = InternalDate::parse(" 7-Jul-1996 02:44:25 -0700").unwrap();
        assert_eq!(padded.to_imap(), "07-Jul-1996 02:44:25 -0700");
        assert_eq!(
            InternalDate::parse("01-Jan-1970 01:00:00 +0100")
                .unwrap()
                .unix(),
            0
        );
    }

    #[test]
    fn fingerprint_hex_round_trips() {
        let f = Fingerprint([0xab; 32]);
        assert_eq!(Fingerprint::from_hex(&f.to_hex()), Some(f));
        assert_eq!(Fingerprint::from_hex("zz"), None);
    }
}
