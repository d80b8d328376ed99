//! Which cached messages a run re-reads: the least recently verified first
//! (never verified first of all), as many as the budget allows per side.
//! Pure: the snapshot hands the rows over in that order, this says where
//! to stop.

use crate::model::ScrubBudget;

/// The most messages a time budget takes into one run's slice per side
/// (reading stops at the deadline anyway; this bounds the memory).
pub const MOST_FOR_TIME: usize = 100_000;

/// How much of one side's budget is left while rows are taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allowance {
    budget: ScrubBudget,
    /// Messages a share allows.
    count: usize,
    taken: usize,
    bytes: u64,
}

impl Allowance {
    /// The budget for a side holding `messages` messages.
    pub fn new(budget: ScrubBudget, messages: usize) -> Allowance {
        let count = match budget {
            // Rounded up: a side with anything in it gets at least one.
            ScrubBudget::Share(p) => ((messages as f64) * p / 100.0).ceil() as usize,
            ScrubBudget::Bytes(_) => usize::MAX,
            ScrubBudget::Time(_) => MOST_FOR_TIME,
        };
        Allowance {
            budget,
            count: count.min(messages.max(1)),
            taken: 0,
            bytes: 0,
        }
    }

    /// Takes a message of `size` bytes if the budget allows it. A size
    /// budget always takes the first message, however large, so that a
    /// message larger than the budget is not left unverified for ever.
    pub fn take(&mut self, size: u32) -> bool {
        if self.taken >= self.count {
            return false;
        }
        if let ScrubBudget::Bytes(limit) = self.budget {
            if self.taken > 0 && self.bytes + u64::from(size) > limit {
                return false;
            }
        }
        self.taken += 1;
        self.bytes += u64::from(size);
        true
    }

    /// Whether nothing more can be taken (a size budget may still fit a
    /// smaller message later, so it is never full before its count).
    pub fn full(&self) -> bool {
        self.taken >= self.count
            || matches!(self.budget, ScrubBudget::Bytes(limit) if self.bytes >= limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(budget: ScrubBudget, messages: usize, sizes: &[u32]) -> usize {
        let mut a = Allowance::new(budget, messages);
        sizes.iter().take_while(|s| a.take(**s)).count()
    }

    #[test]
    fn a_share_takes_its_count_rounded_up() {
        let sizes = vec![100; 1000];
        assert_eq!(taken(ScrubBudget::Share(2.0), 1000, &sizes), 20);
        assert_eq!(taken(ScrubBudget::Share(2.0), 1001, &sizes), 21);
        assert_eq!(taken(ScrubBudget::Share(2.0), 10, &sizes), 1);
        assert_eq!(taken(ScrubBudget::Share(100.0), 7, &sizes), 7);
        assert_eq!(taken(ScrubBudget::Share(2.0), 0, &sizes), 0);
    }

    #[test]
    fn a_size_budget_takes_while_the_bytes_fit_but_always_one() {
        assert_eq!(taken(ScrubBudget::Bytes(250), 10, &[100, 100, 100, 100]), 2);
        assert_eq!(taken(ScrubBudget::Bytes(10), 10, &[100, 5]), 1);
        let mut a = Allowance::new(ScrubBudget::Bytes(250), 10);
        assert!(a.take(200) && !a.take(100) && a.take(50) && a.full());
    }

    #[test]
    fn a_time_budget_takes_up_to_its_cap() {
        let sizes = vec![1; 10];
        let t = ScrubBudget::Time(std::time::Duration::from_secs(30));
        assert_eq!(taken(t, 10, &sizes), 10);
        assert_eq!(Allowance::new(t, 1 << 30).count, MOST_FOR_TIME);
    }
}
