//! A merchant's payout (INSTRUMENTS.md §6.6, D-5.11; the rules are
//! `omnibus_core::instruments::Payout`): the house's own request, with X1 `merchant[m] →
//! fin_parent` and X2 `deposit_firm[bank] → merchant_bank[m]`. Started here with its
//! acceptance (naming the merchant, setting X2's payout aside on the deposit firm slice)
//! and its X1 entry, holding the amount on the merchant's slice; driven by the saga
//! runtime like every request once durable. The rail calls are the remittance's
//! (`remit.rs`), which take the accounts from the entry. When and how much to pay is the
//! payout supervisor's.

use std::cell::RefCell;

use omnibus_core::instruments::{first_step, reserves_for, step_legs};
use omnibus_core::ledger::MerchantEntry;
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::saga::{Accepted, EntryId, Named, RequestKind, HOUSE};
use omnibus_core::{Amount, BankCode, ParentAccount, Payee, RequestDate, RequestNo};

use crate::error::EngineError;
use crate::ledger::{Admission, ShardLedger};
use crate::saga::{Barrier, SagaRuntime};

/// Starts a payout of `amount` from this shard's slice of `merchant[m]` under
/// `request_no`. `Ok(None)`: not started, with nothing on record (the deposit firm slice
/// cannot set X2's payout aside now, or the merchant's slice cannot pay it); the next
/// pass tries again.
pub fn start(
    saga: &SagaRuntime,
    ledger: &RefCell<ShardLedger>,
    merchant: &MerchantEntry,
    amount: Amount,
    request_no: RequestNo,
) -> Result<Option<(EntryId, Barrier)>, EngineError> {
    let now = saga.now_ms();
    let request_date = RequestDate::from_unix_ms(now).ok_or_else(|| {
        EngineError::Internal(format!(
            "the clock reads {now} ms, outside the engine's dates"
        ))
    })?;
    let m = &merchant.merchant;
    let name = omnibus_core::ids::PayeeName::new(m.id.as_str())
        .map_err(|e| EngineError::Internal(format!("merchant {} as a payee: {e}", m.id)))?;
    let payee = Payee {
        bank: m.payout_bank,
        account: m.payout_account,
        name,
    };
    let accepted = Accepted {
        customer: HOUSE,
        request_no,
        request_date,
        kind: RequestKind::Payout,
        amount,
        payee: Some(payee),
        path: None,
        deficit: None,
        at_ms: now,
    };
    let named = Named {
        merchant: Some(merchant.no),
        pocket: None,
    };
    let parties = saga.parties_of(
        HOUSE,
        BankCode::new("000").expect("three digits"),
        Some(&payee),
        named,
    );
    let reserves = reserves_for(&accepted, &parties);
    let (step, amount) = first_step(&accepted);
    let (debit, credit) = step_legs(RequestKind::Payout, step, &parties);
    let mut ledger = ledger.borrow_mut();
    let books = ledger.books();
    // What refunds to be tried again are owed stays (`ShardBooks::check_leaves_owed`
    // would refuse the entry after the acceptance is written, leaving an accepted
    // payout with no entry under the day's number).
    let slice_free = books
        .merchant_slice(merchant.no)
        .map(|s| s.balance - s.held - books.owed_debits_from(debit))
        .unwrap_or_default();
    if books.check_reserves(&reserves).is_err() || slice_free < amount.value() {
        return Ok(None);
    }
    ledger.admit(2, Admission::New)?;
    let id = ledger.books().next_entry_id();
    let actor = ActorId::Parent(ParentAccount::FinParent);
    ledger.execute_unwaited(
        actor,
        &LedgerRecord::RequestAccepted {
            accepted,
            reserves: Some(reserves),
            named,
        },
    )?;
    ledger.execute_unwaited(
        actor,
        &LedgerRecord::EntryRequested {
            entry: id,
            customer: HOUSE,
            request_no,
            step,
            amount,
            debit,
            credit,
            at_ms: now,
        },
    )?;
    drop(ledger);
    Ok(Some((id, saga.durable())))
}
