//! The account actors: a customer's account actor and a parent slice's, and the jobs they
//! carry out against their shard's ledger.
//!
//! - `customer.rs`: [`CustomerActor`], activated by its shard on first use; carries out
//!   its customer's charges and remittances one at a time, in order (a bounded queue of
//!   those waiting their turn), and takes its signing texts to the instruments.
//! - `parent.rs`: [`ParentSliceActor`], this shard's slice of one parent account.
//! - `job.rs`: [`Job`] and [`run`]: a posting, a transfer's debit or an account's own
//!   record, written by (and tagged with) the actor whose account it debits.
//!
//! The account actors sit below the shard that activates them: they never name it. A job
//! whose transfer debit became durable hands it on through a [`Deliveries`] recipient,
//! which the shard gives them (its own address, seen only as a taker of [`SendTransfer`]).

mod customer;
mod job;
mod parent;

pub use self::customer::{CustomerActor, IssueText, Passivate, Submit};
pub use self::job::{run, Deliveries, Job, SendTransfer};
pub use self::parent::ParentSliceActor;
