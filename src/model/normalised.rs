//! A record's normalised fingerprint ([`crate::fingerprint`]), held in 16
//! bytes rather than 33: most mail's normalised fingerprint is its exact one
//! (7-bit header, CRLF line ends, one final line break), so a record says
//! "the same as the exact one" in its tag and holds a second fingerprint
//! only where the two differ. "Not known" (a cache row of an older rules
//! version, a copy whose body was not read) stays apart from "equal": an
//! unknown normalised fingerprint is never compared.

use super::Fingerprint;

/// The normalised fingerprint of a message whose exact fingerprint the
/// holder keeps beside it (`MessageMeta::fingerprint`).
///
/// Built only by [`Normalised::of`], which says "equal" wherever the value
/// is the exact fingerprint, so two records with the same fingerprints
/// compare equal however they were made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalised(Slot);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Slot {
    /// Not known.
    #[default]
    Unknown,
    /// The same as the exact fingerprint.
    Exact,
    /// Differs from the exact fingerprint (the minority: 8-bit header
    /// bytes, NUL, bare CR, several final line breaks).
    Other(Box<Fingerprint>),
}

impl Normalised {
    /// Not known.
    pub const UNKNOWN: Normalised = Normalised(Slot::Unknown);

    /// `normalised` of a message whose exact fingerprint is `exact`.
    pub fn of(exact: &Fingerprint, normalised: Option<Fingerprint>) -> Normalised {
        Normalised(match normalised {
            None => Slot::Unknown,
            Some(n) if n == *exact => Slot::Exact,
            Some(n) => Slot::Other(Box::new(n)),
        })
    }

    /// The value, given the exact fingerprint it was made with.
    pub fn get(&self, exact: &Fingerprint) -> Option<Fingerprint> {
        match &self.0 {
            Slot::Unknown => None,
            Slot::Exact => Some(*exact),
            Slot::Other(n) => Some(**n),
        }
    }

    pub fn is_known(&self) -> bool {
        !matches!(self.0, Slot::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_equal_and_different_stay_apart() {
        let exact = Fingerprint([1; 32]);
        let other = Fingerprint([2; 32]);
        assert_eq!(Normalised::of(&exact, None).get(&exact), None);
        assert!(!Normalised::of(&exact, None).is_known());
        assert_eq!(Normalised::of(&exact, Some(exact)).get(&exact), Some(exact));
        assert_eq!(Normalised::of(&exact, Some(other)).get(&exact), Some(other));
        assert_ne!(Normalised::of(&exact, Some(exact)), Normalised::UNKNOWN);
        assert_ne!(
            Normalised::of(&exact, Some(exact)),
            Normalised::of(&exact, Some(other))
        );
        assert_eq!(std::mem::size_of::<Normalised>(), 16);
    }
}
