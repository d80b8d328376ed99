//! The policies the reconcile core takes as values, not as flags threaded
//! through I/O code. Each field says which SCENARIOS.md decision it carries.

use crate::model::Side;

/// Decisions the operator can change. `Default` is the documented default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// F7: for a pair with no agreed base, this side's flags win instead of
    /// the union.
    pub prefer: Option<Side>,
}
