//! The [`Instrument`] trait: everything the books and the saga runtime need to know about
//! one kind of request, and nothing they do themselves. Each instrument (a charge, a
//! remittance, the house's settlement sweep; later a merchant payment, a card
//! authorization) implements it in `core/src/instruments/`, and the ledger and the saga
//! runtime call through it, so neither names a product.

use serde::{Deserialize, Serialize};

use super::{owed_compensation, then_step, Accepted, LogEntry, Reason, RequestKind, Reserve};
use crate::ids::{AccountId, BankCode, CardSeq, CustomerId, MerchantNo, ParentAccount};
use crate::money::Amount;
use crate::request_log::{Event, Step, Told, Transition};

/// The rules of one kind of request. The methods are pure: they read the request as
/// accepted and its entries as they stand, and say what to do; the books apply it and the
/// saga runtime carries it out. Every method has to give the same answer on replay as it
/// gave live, so none may depend on anything but its arguments.
pub trait Instrument: Sync {
    /// The kind of request this instrument carries out.
    fn kind(&self) -> RequestKind;

    /// Whether it is the house's own request (a sweep between parent accounts): no
    /// customer account, no caller waiting for an answer. `false` for customers' requests.
    fn is_house(&self) -> bool {
        false
    }

    /// Admission: whether a resubmission under the same request number is "the same"
    /// request (then it gets the original answer; otherwise it is refused). `again` is
    /// what the resubmission would be accepted as. By default: the same kind, request
    /// date, amount and payee (the path and deficit follow from those and the balance).
    fn same_request(&self, on_record: &Accepted, again: &Accepted) -> bool {
        on_record.kind == again.kind
            && on_record.request_date == again.request_date
            && on_record.amount == again.amount
            && on_record.payee == again.payee
    }

    /// The first step of an accepted request, and its amount.
    fn first_step(&self, accepted: &Accepted) -> (Step, Amount);

    /// What the request sets aside on parent slices before its first call, so the steps
    /// it may still need are never refused for want of funds (see [`Reserve`]).
    fn reserves(&self, accepted: &Accepted, parties: &Parties) -> Vec<Reserve>;

    /// The posting `step` books on SUCCESS: (debit, credit).
    fn legs(&self, step: Step, parties: &Parties) -> (AccountId, AccountId);

    /// What follows a transition of one of the request's entries: what to tell the
    /// caller, and which step to request next (SPEC §3 and the "then" column of SPEC §4).
    /// By default: what the transition tells, if nothing was told yet, and the step the
    /// SPEC §4 table's "then" column asks for.
    fn plan_after(
        &self,
        accepted: &Accepted,
        answered: bool,
        step: Step,
        amount: Amount,
        transition: &Transition,
    ) -> Plan {
        let _ = (accepted, step);
        Plan {
            tell: if answered { None } else { transition.told },
            next: then_step(amount, transition),
        }
    }

    /// The step the request still owes, whose entry could not be created when it fell due
    /// (its hold refused, or a crash in between): found again from the entries after a
    /// restart and created by a supervisor. `told`: what the caller was told, if the
    /// answer is on record. `None`: nothing is owed. By default: the compensations its
    /// steps' results oblige ([`owed_compensation`]).
    fn owed(
        &self,
        accepted: &Accepted,
        told: Option<Told>,
        entries: &[LogEntry],
    ) -> Option<(Step, Amount)> {
        let _ = (accepted, told);
        owed_compensation(entries)
    }

    /// Whether `step`'s SUCCESS sets its credit aside for the compensation that may
    /// follow it (a refund of a withdrawal, a recovery of a deduction).
    fn sets_aside_for_compensation(&self, step: Step) -> bool {
        let _ = step;
        false
    }

    /// Why the caller was told `told` after `event` of `step` (SPEC §4's answer).
    fn reason(&self, told: Told, step: Step, event: Event) -> Reason {
        let _ = step;
        Reason::of_event(told, event)
    }

    /// The step a request that stopped with nothing decided failed at: `owed` is what it
    /// still owes, `next` the step that should have come next.
    fn not_carried_out(&self, owed: Option<Step>, next: Option<Step>) -> Option<Step> {
        let _ = owed;
        next
    }

    /// Where a request whose entries are all final and which owes nothing stands for good.
    fn settled(&self, entries: &[LogEntry]) -> Settled;
}

/// Where the money of a request's steps lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parties {
    pub customer: CustomerId,
    /// The bank of the customer-linked account (its withdrawal firm parent account).
    pub linked_bank: BankCode,
    /// For remittances: the payee's bank, and the deposit firm bank that pays it.
    pub payee_bank: Option<BankCode>,
    pub deposit_bank: Option<BankCode>,
    /// For a settlement sweep: the parent account it debits and the one it credits.
    pub settlement: Option<(ParentAccount, ParentAccount)>,
    /// For a sale: the merchant it pays (`merchant[m]`); after a restart, the merchant
    /// account the request's entries name.
    pub merchant: Option<MerchantNo>,
    /// For a prepaid card's charge or payment: the customer's card whose pocket
    /// (`pocket[c,card]`) it fills or draws on.
    pub pocket: Option<CardSeq>,
}

/// The accounts beyond the customer's own that a request's legs name: the merchant it
/// pays, the card whose pocket it fills or draws on. Given with the submission, and on
/// record in the request's acceptance since version 3 of `request_accepted`: a charge
/// into a pocket names the pocket in no entry before its credit (A1 is `linked →
/// withdrawal_firm`). Requests accepted before that find them in their entries
/// ([`Named::in_entries`]).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Named {
    pub merchant: Option<MerchantNo>,
    pub pocket: Option<CardSeq>,
}

impl Named {
    /// What the entries of a request name.
    pub fn in_entries<'a>(entries: impl IntoIterator<Item = &'a LogEntry>) -> Named {
        let mut named = Named::default();
        for e in entries {
            for account in [e.debit, e.credit] {
                match account {
                    AccountId::Merchant { merchant } => named.merchant = Some(merchant),
                    AccountId::Pocket { card, .. } => named.pocket = Some(card),
                    _ => {}
                }
            }
        }
        named
    }

    /// Whether it names nothing.
    pub fn is_empty(&self) -> bool {
        *self == Named::default()
    }

    /// What `self` names, and what `other` names where `self` names nothing.
    pub fn or(self, other: Named) -> Named {
        Named {
            merchant: self.merchant.or(other.merchant),
            pocket: self.pocket.or(other.pocket),
        }
    }
}

/// What to do after an entry of a request took a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Tell the customer this (only if nothing was told yet).
    pub tell: Option<Told>,
    /// Request this step next, for this amount.
    pub next: Option<(Step, Amount)>,
}

/// Where a request stands for good, for a client deciding what to do next: what moved,
/// whatever it was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    /// Still moving: a call open, a step owed, or no answer yet.
    Pending,
    /// A charge: the money is in the customer's account.
    Credited,
    /// A charge: drawn from the linked account, then given back to it.
    Refunded,
    /// A remittance: the payee was paid.
    PaidOut,
    /// A remittance: deducted from the customer, not paid, and credited back.
    Recovered,
    /// A remittance that did not pay out, but whose deficit charge was credited to the
    /// customer's account.
    DeficitCredited,
    /// Nothing moved.
    NothingMoved,
}

impl Settled {
    pub const fn as_str(self) -> &'static str {
        match self {
            Settled::Pending => "pending",
            Settled::Credited => "credited",
            Settled::Refunded => "refunded",
            Settled::PaidOut => "paid_out",
            Settled::Recovered => "recovered",
            Settled::DeficitCredited => "deficit_credited",
            Settled::NothingMoved => "nothing_moved",
        }
    }
}

/// Whether one of `entries` is `step` at SUCCESS.
pub fn done(entries: &[LogEntry], step: Step) -> bool {
    entries
        .iter()
        .any(|e| e.step == step && e.state == crate::request_log::EntryState::Success)
}
