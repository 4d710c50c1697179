//! What a customer was told about a request, by which step, and why ([`Answer`],
//! [`Reason`]): archived with the request, named in the API.

use serde::{Deserialize, Serialize};

use crate::request_log::{Event, Step, Told};

/// What the customer was told, and which step decided it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Answer {
    pub told: Told,
    pub decided_by: Step,
    /// The deciding step had no answer within its timeout.
    pub timed_out: bool,
    pub at_ms: u64,
    /// Why a request was told it failed ([`Reason::None`] when told it succeeded).
    pub reason: Reason,
}

/// Why a request was told it failed. Stable: archived in the log, named in the API.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Told it succeeded: no reason needed.
    None,
    /// Recorded before answers carried a reason.
    Unrecorded,
    /// The deciding step got no answer within its timeout (SPEC §4 tells failed for it).
    Timeout,
    /// The outside system of the deciding step refused it (its FAIL).
    RailRefused,
    /// A parent account's slice could not fund the request: nothing was called, nothing
    /// moved.
    ParentSliceShort,
    /// A remittance's deficit charge was not credited live (left to reprocessing or a
    /// confirmation), so the remittance did not go on.
    DeficitNotCredited,
    /// Nothing decided it live (a crash came in between) and nothing went out for it.
    NotCarriedOut,
}

impl Reason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::None => "none",
            Reason::Unrecorded => "unrecorded",
            Reason::Timeout => "timeout",
            Reason::RailRefused => "rail_refused",
            Reason::ParentSliceShort => "parent_slice_short",
            Reason::DeficitNotCredited => "deficit_not_credited",
            Reason::NotCarriedOut => "not_carried_out",
        }
    }

    /// The reason of an answer the SPEC §4 table gives: `told` after `event` of the deciding
    /// step, whatever the instrument (an instrument may name a reason of its own: see
    /// [`super::Instrument::reason`]).
    pub fn of_event(told: Told, event: Event) -> Reason {
        match (told, event) {
            (Told::Succeeded, _) => Reason::None,
            (Told::Failed, Event::TimedOut) => Reason::Timeout,
            (Told::Failed, _) => Reason::RailRefused,
        }
    }
}
