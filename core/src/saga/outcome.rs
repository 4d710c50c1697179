//! Where a request stands for good ([`super::Settled`]): what moved, whatever it was told.

use super::{Accepted, Instrument, LogEntry, Settled};

/// Where a request stands for good: pending while a call is open, a step is owed or no
/// answer was given; otherwise what its instrument says its final entries add up to.
pub fn settled_outcome(
    instrument: &dyn Instrument,
    accepted: &Accepted,
    answered: bool,
    entries: &[LogEntry],
) -> Settled {
    let open = entries.iter().any(|e| !e.state.is_final());
    let owed = instrument.owed(accepted, answered, entries).is_some();
    if open || owed || !answered {
        return Settled::Pending;
    }
    instrument.settled(entries)
}
