//! A merchant's payout (INSTRUMENTS.md §6.6, D-5.11; P8): the house pays what a merchant's
//! slice of `merchant[m]` holds beyond what it keeps back, through the same two calls as a
//! remittance's first path: X1 `merchant[m] → fin_parent` (SS decrease of the merchant's
//! account at the securities firm), then X2 `deposit_firm[bank] → merchant_bank[m]` (BS
//! deposit into the merchant's payout account, booked on `designated[bank]` like every
//! outside payee). A deposit that fails for good is recovered into `merchant[m]`
//! (`fin_parent → merchant[m]`), and the next payout pays it again.
//!
//! It is the house's own request: nobody waits for its answer, so it tells nothing, and an
//! X1 found done by a confirm goes on to X2 (a remittance would recover it, its customer
//! having been told it failed). The steps and their SPEC §4 rows are the remittance's; the
//! legs name the merchant instead of a customer. When and how much to pay is the payout
//! supervisor's (`actors/src/supervisors/payout.rs`).

use crate::ids::{AccountId, ParentAccount};
use crate::money::Amount;
use crate::request_log::{Step, Transition};
use crate::saga::{
    done, then_step, Accepted, Instrument, LogEntry, Parties, Plan, RequestKind, Reserve, Settled,
};

/// A payout.
pub struct Payout;

impl Instrument for Payout {
    fn kind(&self) -> RequestKind {
        RequestKind::Payout
    }

    fn is_house(&self) -> bool {
        true
    }

    fn first_step(&self, accepted: &Accepted) -> (Step, Amount) {
        (Step::RemitDeduction, accepted.amount)
    }

    /// X2's payout on the deposit firm account that pays the merchant's bank.
    fn reserves(&self, accepted: &Accepted, parties: &Parties) -> Vec<Reserve> {
        parties
            .deposit_bank
            .map(|bank| {
                vec![(
                    AccountId::parent(ParentAccount::DepositFirm(bank)),
                    accepted.amount,
                )]
            })
            .unwrap_or_default()
    }

    fn legs(&self, step: Step, parties: &Parties) -> (AccountId, AccountId) {
        let merchant = AccountId::merchant(parties.merchant.expect("a payout names its merchant"));
        let fin_parent = AccountId::parent(ParentAccount::FinParent);
        match step {
            Step::RemitDeduction => (merchant, fin_parent),
            Step::RemitDeposit => (
                AccountId::parent(ParentAccount::DepositFirm(
                    parties
                        .deposit_bank
                        .expect("a payout has a deposit firm bank"),
                )),
                AccountId::Designated {
                    bank: parties
                        .payee_bank
                        .expect("a payout has the merchant's bank"),
                },
            ),
            Step::Recovery => (fin_parent, merchant),
            _ => unreachable!("{step} is not a step of a payout"),
        }
    }

    /// Tells nothing (no caller); otherwise the SPEC §4 table's "then".
    fn plan_after(
        &self,
        _: &Accepted,
        _: bool,
        _: Step,
        amount: Amount,
        transition: &Transition,
    ) -> Plan {
        Plan {
            tell: None,
            next: then_step(amount, transition),
        }
    }

    /// A deduction, for its recovery.
    fn sets_aside_for_compensation(&self, step: Step) -> bool {
        step == Step::RemitDeduction
    }

    fn settled(&self, entries: &[LogEntry]) -> Settled {
        if done(entries, Step::RemitDeposit) {
            Settled::PaidOut
        } else if done(entries, Step::Recovery) {
            Settled::Recovered
        } else {
            Settled::NothingMoved
        }
    }
}
