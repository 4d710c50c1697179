//! Where a request stands for good ([`super::Settled`]): what moved, whatever it was told.

use super::{Accepted, Instrument, LogEntry, Settled};
use crate::request_log::Told;

/// Where a request stands for good: pending while a call is open, a step is owed or no
/// answer was given to a customer (`told`: the answer on record; the house's own requests
/// have nobody to answer); otherwise what its instrument says its final entries add up to.
pub fn settled_outcome(
    instrument: &dyn Instrument,
    accepted: &Accepted,
    told: Option<Told>,
    entries: &[LogEntry],
) -> Settled {
    let open = entries.iter().any(|e| !e.state.is_final());
    let owed = instrument.owed(accepted, told, entries).is_some();
    if open || owed || (told.is_none() && !instrument.is_house()) {
        return Settled::Pending;
    }
    instrument.settled(entries)
}
