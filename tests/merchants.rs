//! Merchants of the instruments layer (issue 14; INSTRUMENTS.md §6.1; docs/payments.md):
//! every shard holds every merchant, a change is answered once all hold it, and a shard a
//! crash left behind is brought up to date at start.

mod support;

use omnibus_actors::EngineError;
use omnibus_core::ids::{MerchantId, MerchantNo, Tag, TerminalId};
use omnibus_core::payments::merchant::{
    InstrumentType, InstrumentTypes, Merchant, MerchantStatus, Terminal,
};
use omnibus_core::payments::RefusalCode;
use support::*;

fn merchant(id: &str) -> Merchant {
    let mut m = merchant_taking(id, &[InstrumentType::PrepaidCard]);
    m.terminals = vec![Terminal {
        id: TerminalId::new("web-1").unwrap(),
        active: true,
    }];
    m
}

fn refusal_code(e: EngineError) -> RefusalCode {
    match e {
        EngineError::Refusal { code, .. } => code,
        other => panic!("a refusal, not {other:?}"),
    }
}

#[test]
fn a_merchant_onboarded_is_held_by_every_shard_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = start(dir.path(), 2, "");
    let (m1, created) = rt
        .block_on(engine.onboard_merchant(merchant("m1")))
        .unwrap();
    assert!(created);
    assert_eq!((m1.no, m1.version), (MerchantNo(1), 1));
    let (m2, _) = rt
        .block_on(engine.onboard_merchant(merchant("m2")))
        .unwrap();
    assert_eq!(m2.no, MerchantNo(2), "numbers are given one by one");
    let suspended = rt
        .block_on(engine.change_merchant(m1.merchant.id, |m| {
            m.status = MerchantStatus::Suspended;
            Ok(())
        }))
        .unwrap();
    assert_eq!(suspended.version, 2);
    for shard in 0..2 {
        let held = rt.block_on(engine.shard_merchants(shard)).unwrap();
        assert_eq!(held, [suspended.clone(), m2.clone()], "shard {shard}");
    }
    engine.shutdown().unwrap();

    let engine = start(dir.path(), 2, "");
    assert_eq!(engine.merchants(), [suspended, m2]);
    let (m3, _) = rt
        .block_on(engine.onboard_merchant(merchant("m3")))
        .unwrap();
    assert_eq!(m3.no, MerchantNo(3), "numbering goes on after a restart");
    engine.shutdown().unwrap();
}

#[test]
fn onboarding_again_answers_what_is_on_record_and_other_fields_are_an_idempotency_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = start(dir.path(), 2, "");
    let (first, _) = rt
        .block_on(engine.onboard_merchant(merchant("m1")))
        .unwrap();
    let (again, created) = rt
        .block_on(engine.onboard_merchant(merchant("m1")))
        .unwrap();
    assert_eq!((again, created), (first.clone(), false));
    let mut other = merchant("m1");
    other.category = Tag::new("food").unwrap();
    let refused = rt.block_on(engine.onboard_merchant(other)).unwrap_err();
    assert_eq!(refusal_code(refused), RefusalCode::IdempotencyConflict);
    let mut nothing = merchant("m2");
    nothing.accepts = InstrumentTypes::default();
    let refused = rt.block_on(engine.onboard_merchant(nothing)).unwrap_err();
    assert_eq!(refusal_code(refused), RefusalCode::InvalidRequest);
    let unknown = rt
        .block_on(engine.change_merchant(MerchantId::new("m9").unwrap(), |_| Ok(())))
        .unwrap_err();
    assert_eq!(refusal_code(unknown), RefusalCode::NotFound);
    // Nothing refused was written anywhere.
    assert_eq!(engine.merchants(), std::slice::from_ref(&first));
    for shard in 0..2 {
        assert_eq!(
            rt.block_on(engine.shard_merchants(shard)).unwrap(),
            std::slice::from_ref(&first)
        );
    }
    engine.shutdown().unwrap();
}

#[test]
fn a_shard_a_crash_left_without_a_merchant_is_brought_up_to_date_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = start(dir.path(), 2, "");
    let (m1, _) = rt
        .block_on(engine.onboard_merchant(merchant("m1")))
        .unwrap();
    let (m2, _) = rt
        .block_on(engine.onboard_merchant(merchant("m2")))
        .unwrap();
    engine.shutdown().unwrap();
    // A crash took m2's record from shard 0's log, not from shard 1's: the onboarding of
    // m2 was written to one shard only, and never answered.
    support::cut::tear_last_records(dir.path(), 1);

    let engine = start(dir.path(), 2, "");
    assert_eq!(engine.merchants(), [m1.clone(), m2.clone()]);
    for shard in 0..2 {
        assert_eq!(
            rt.block_on(engine.shard_merchants(shard)).unwrap(),
            [m1.clone(), m2.clone()],
            "shard {shard} holds every merchant at its newest version"
        );
    }
    engine.shutdown().unwrap();
}

#[test]
fn a_merchant_account_is_booked_in_the_payers_shard_and_never_goes_below_zero() {
    use omnibus_core::ledger::BooksError;
    use omnibus_core::{AccountId, Amount, ParentAccount};
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = start(dir.path(), 2, "");
    let krw = |won| Amount::krw(won).unwrap();
    rt.block_on(async {
        let (m1, _) = engine.onboard_merchant(merchant("m1")).await.unwrap();
        let account = AccountId::merchant(m1.no);
        let fin = AccountId::parent(ParentAccount::FinParent);
        // Two payers, one in each shard: each sale credits the slice in its payer's shard.
        let payers = [customers_in(0, 2, 1, 1)[0], customers_in(1, 2, 1, 1)[0]];
        for (i, payer) in payers.iter().enumerate() {
            engine.open_customer(opened(payer.get())).await.unwrap();
            let c = AccountId::customer(*payer);
            engine.post(fin, c, krw(100_000)).await.unwrap();
            engine
                .post(c, account, krw(30_000 + i as i64))
                .await
                .unwrap();
        }
        assert_eq!(
            engine.account_balance(account).await.unwrap().value(),
            60_001.into()
        );
        // Shard 1's slice holds 30,001: a refund of more, from there, is refused whole.
        let payer = AccountId::customer(payers[1]);
        let refused = engine.post(account, payer, krw(30_002)).await.unwrap_err();
        assert!(
            matches!(
                refused,
                EngineError::Refused(BooksError::MerchantShort { .. })
            ),
            "{refused:?}"
        );
        engine.post(account, payer, krw(30_001)).await.unwrap();
        assert_eq!(
            engine.account_balance(account).await.unwrap().value(),
            30_000.into()
        );
        let totals = engine.totals().await.unwrap();
        assert!(totals.sum.is_zero(), "the books balance: {totals:?}");
    });
    engine.shutdown().unwrap();
}
