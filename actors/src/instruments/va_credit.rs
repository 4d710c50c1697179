//! The credit a virtual-account deposit owes in modes B and C (INSTRUMENTS.md §2.7; the
//! rules are `omnibus_core::instruments::VaCredit`): the house's own request, with one
//! call, the A2 `fin_parent → merchant[p]` or `→ suspense`. Started here with its
//! acceptance (under the number the deposit fixes, `CreditDue::request_no`, so that the
//! books owe it no more) and its entry, holding the amount on this shard's `fin_parent`
//! slice; driven by the saga runtime like every request once durable. The rail call is
//! the charge's A2 (`charge.rs`), which takes the account from the entry.

use std::cell::RefCell;

use omnibus_core::ids::MerchantNo;
use omnibus_core::instruments::{first_step, step_legs};
use omnibus_core::payments::relay::CreditDue;
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::saga::{Accepted, EntryId, Named, RequestKind, HOUSE};
use omnibus_core::{AccountId, Amount, BankCode, ParentAccount, RequestDate, RequestNo};

use crate::error::EngineError;
use crate::ledger::{Admission, ShardLedger};
use crate::saga::{Barrier, SagaRuntime};

/// Starts the credit `due` owes, to `merchant[m]` (`merchant`: the lease's side in mode
/// B) or to `suspense` (`None`). `Ok(None)`: not started, nothing on record (this shard's
/// `fin_parent` slice cannot hold it now, or it is on record already); a later pass tries
/// again.
pub fn start(
    saga: &SagaRuntime,
    ledger: &RefCell<ShardLedger>,
    due: &CreditDue,
    merchant: Option<MerchantNo>,
) -> Result<Option<(EntryId, Barrier)>, EngineError> {
    let now = saga.now_ms();
    let request_date = RequestDate::from_unix_ms(now).ok_or_else(|| {
        EngineError::Internal(format!(
            "the clock reads {now} ms, outside the engine's dates"
        ))
    })?;
    let request_no = RequestNo::new(&due.request_no())
        .map_err(|e| EngineError::Internal(format!("a credit's number: {e}")))?;
    let currency = saga.books().currency();
    let amount = Amount::new(currency, due.amount_krw.into())
        .map_err(|e| EngineError::Internal(format!("a credit of {}: {e}", due.amount_krw)))?;
    let accepted = Accepted {
        customer: HOUSE,
        request_no,
        request_date,
        kind: RequestKind::VaCredit,
        amount,
        payee: None,
        path: None,
        deficit: None,
        at_ms: now,
    };
    let named = Named {
        merchant,
        pocket: None,
    };
    let parties = saga.parties_of(
        HOUSE,
        BankCode::new("000").expect("three digits"),
        None,
        named,
    );
    let (step, amount) = first_step(&accepted);
    let (debit, credit) = step_legs(RequestKind::VaCredit, step, &parties);
    let mut ledger = ledger.borrow_mut();
    let books = ledger.books();
    if books.request(HOUSE, request_no).is_some() {
        return Ok(None);
    }
    if books
        .check_reserves(&[(AccountId::parent(ParentAccount::FinParent), amount)])
        .is_err()
    {
        return Ok(None);
    }
    ledger.admit(2, Admission::New)?;
    let id = ledger.books().next_entry_id();
    let actor = ActorId::Parent(ParentAccount::FinParent);
    ledger.execute_unwaited(
        actor,
        &LedgerRecord::RequestAccepted {
            accepted,
            reserves: Some(Vec::new()),
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
