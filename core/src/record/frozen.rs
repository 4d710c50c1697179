//! Archived layouts of earlier record versions, kept so that old logs stay readable
//! (docs/wal-format.md, "Payload versions"). Never change a type here: each is the exact
//! layout some version wrote. Each converts into today's type. (The snapshot's old
//! layouts are the ledger's: `crate::ledger::frozen`.)
//!
//! - Version 1 (and the unversioned version 0): an answer without a reason.

use crate::request_log::{Step, Told};
use crate::saga::{Answer, Reason};

/// [`Answer`] before it carried a reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct AnswerV1 {
    pub told: Told,
    pub decided_by: Step,
    pub timed_out: bool,
    pub at_ms: u64,
}

impl From<AnswerV1> for Answer {
    fn from(a: AnswerV1) -> Answer {
        Answer {
            told: a.told,
            decided_by: a.decided_by,
            timed_out: a.timed_out,
            at_ms: a.at_ms,
            // A reason was not recorded then; a timeout is the one thing the answer says.
            reason: match (a.told, a.timed_out) {
                (Told::Succeeded, _) => Reason::None,
                (Told::Failed, true) => Reason::Timeout,
                (Told::Failed, false) => Reason::Unrecorded,
            },
        }
    }
}

impl From<Answer> for AnswerV1 {
    fn from(a: Answer) -> AnswerV1 {
        AnswerV1 {
            told: a.told,
            decided_by: a.decided_by,
            timed_out: a.timed_out,
            at_ms: a.at_ms,
        }
    }
}
