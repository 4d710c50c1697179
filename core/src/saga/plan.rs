//! What follows an entry's transition: what to tell the customer, and which step to
//! request next ([`Plan`], [`plan_after`]).

use super::remit_step;
use crate::ledger::{Accepted, RequestKind};
use crate::money::Amount;
use crate::request_log::{FollowUp, Step, Told, Transition};

/// What to do after an entry of `request` took `transition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Tell the customer this (only if nothing was told yet).
    pub tell: Option<Told>,
    /// Request this step next, for this amount.
    pub next: Option<(Step, Amount)>,
}

/// The flow's next move (SPEC §3 and the "then" column of SPEC §4).
///
/// In a remittance with a deficit, the deficit charge's credit must really have
/// happened before the remittance goes on; if it is left to reprocessing or to a
/// confirmation, the remittance is told it failed (the charge itself still completes,
/// so the money lands in the customer's balance).
pub fn plan_after(
    accepted: &Accepted,
    answered: bool,
    step: Step,
    amount: Amount,
    transition: &Transition,
) -> Plan {
    let told_already = answered;
    let mut tell = transition.told;
    let next = match (step, transition.then) {
        (_, FollowUp::PostThenCredit) => Some((Step::ChargeCredit, amount)),
        (Step::ChargeCredit, FollowUp::Post) if accepted.kind == RequestKind::Remit => {
            tell = None;
            if told_already {
                None
            } else {
                let path = accepted.path.expect("a remittance has a path");
                Some((remit_step(path), accepted.amount))
            }
        }
        (Step::ChargeCredit, FollowUp::Reprocess | FollowUp::Confirm)
            if accepted.kind == RequestKind::Remit =>
        {
            tell = Some(Told::Failed);
            None
        }
        // The deduction answered done after the customer was already told the remittance
        // failed (its caller's deadline came first, and SPEC §4 tells a deduction in flight
        // failed): it must not pay out now; the deducted money goes back ([0226]).
        (Step::RemitDeduction, FollowUp::PostThenDeposit) if told_already => {
            Some((Step::Recovery, amount))
        }
        (_, FollowUp::PostThenDeposit) => Some((Step::RemitDeposit, amount)),
        (_, FollowUp::PostThenRecover | FollowUp::Recover) => Some((Step::Recovery, amount)),
        (_, FollowUp::Refund) => Some((Step::Refund, amount)),
        _ => None,
    };
    Plan {
        tell: if told_already { None } else { tell },
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, RequestNo};
    use crate::ledger::{Answer, Reason, RequestState};
    use crate::request::RequestDate;
    use crate::request_log::{transition, EntryState, Event};
    use crate::routing::RemitPath;
    use crate::saga::first_step;
    use crate::Currency;

    fn request(kind: RequestKind, deficit: Option<i64>, path: Option<RemitPath>) -> RequestState {
        RequestState {
            accepted: Accepted {
                customer: CustomerId::new(1).unwrap(),
                request_no: RequestNo::new("R1").unwrap(),
                request_date: RequestDate::from_ymd(2026, 11, 21).unwrap(),
                kind,
                amount: Amount::krw(1_500_000).unwrap(),
                payee: None,
                path,
                deficit: deficit.map(|d| Amount::krw(d).unwrap()),
                at_ms: 0,
            },
            answer: None,
            entries: vec![],
            reserved: None,
        }
    }

    fn krw(won: i64) -> Amount {
        Amount::new(Currency::Krw, won.into()).unwrap()
    }

    #[test]
    fn a_charge_goes_from_withdrawal_to_credit_and_tells_success() {
        let r = request(RequestKind::Charge, None, None);
        let a1 = transition(
            Step::ChargeWithdrawal,
            EntryState::Requested,
            Event::Succeeded,
        )
        .unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::ChargeWithdrawal,
                krw(10),
                &a1
            ),
            Plan {
                tell: None,
                next: Some((Step::ChargeCredit, krw(10)))
            }
        );
        let a2 = transition(Step::ChargeCredit, EntryState::Requested, Event::Succeeded).unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::ChargeCredit,
                krw(10),
                &a2
            ),
            Plan {
                tell: Some(Told::Succeeded),
                next: None
            }
        );
    }

    #[test]
    fn a_deficit_charge_continues_with_the_remittance_once_credited() {
        let r = request(RequestKind::Remit, Some(1_000_000), Some(RemitPath::First));
        assert_eq!(
            first_step(&r.accepted),
            (Step::ChargeWithdrawal, krw(1_000_000))
        );
        let a2 = transition(Step::ChargeCredit, EntryState::Requested, Event::Succeeded).unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::ChargeCredit,
                krw(1_000_000),
                &a2
            ),
            Plan {
                tell: None,
                next: Some((Step::RemitDeduction, krw(1_500_000)))
            }
        );
    }

    #[test]
    fn a_deficit_charge_left_to_reprocessing_fails_the_remittance() {
        let r = request(
            RequestKind::Remit,
            Some(1_000_000),
            Some(RemitPath::PaymentInstruction),
        );
        let a2 = transition(Step::ChargeCredit, EntryState::Requested, Event::Failed).unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::ChargeCredit,
                krw(1_000_000),
                &a2
            ),
            Plan {
                tell: Some(Told::Failed),
                next: None
            }
        );
    }

    #[test]
    fn a_deposit_that_failed_is_recovered_and_the_customer_told_it_failed() {
        let r = request(RequestKind::Remit, None, Some(RemitPath::First));
        let x2 = transition(Step::RemitDeposit, EntryState::Requested, Event::Failed).unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::RemitDeposit,
                krw(5),
                &x2
            ),
            Plan {
                tell: Some(Told::Failed),
                next: Some((Step::Recovery, krw(5)))
            }
        );
    }

    #[test]
    fn nothing_is_told_twice() {
        let mut r = request(RequestKind::Remit, None, Some(RemitPath::First));
        r.answer = Some(Answer {
            told: Told::Failed,
            decided_by: Step::RemitDeduction,
            timed_out: true,
            at_ms: 1,
            reason: Reason::Timeout,
        });
        let done = transition(
            Step::RemitDeduction,
            EntryState::Unknown,
            Event::ConfirmedDone,
        )
        .unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::RemitDeduction,
                krw(5),
                &done
            ),
            Plan {
                tell: None,
                next: Some((Step::Recovery, krw(5)))
            }
        );
    }
}
