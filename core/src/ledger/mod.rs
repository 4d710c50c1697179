//! The books of one shard. For now: the request and entry records the books hold and
//! snapshot (moved here from `flow.rs`), and the rules of `flow.rs` the books apply (what a
//! request still owes, what a step's success sets aside). `books.rs` moves in next.
//!
//! These live in the ledger rather than in `saga/`, where the code review (2026-11-30,
//! §2.3) puts the entry records, because the books store them and the ledger must not use
//! the saga: the saga takes them from here.

mod answer;
mod entries;
mod owed;
mod requests;
mod reserves;

pub use answer::{Answer, Reason};
pub use entries::{holds, EntryId, LogEntry};
pub use owed::{owed_compensation, owed_step};
pub use requests::{Accepted, RequestKind, RequestState, HOUSE};
pub use reserves::{reserves_credit_for_compensation, Reserve};
