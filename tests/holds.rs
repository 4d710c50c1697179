//! Two-phase holds through the engine (issue 12): a hold survives a restart with its
//! expiry; the shards' expiry pass releases a hold once it falls due, and a post after that
//! is answered with the expiry; a hold that fell due while the engine was down expires
//! when it starts; creates, posts and voids are idempotent by hold id; a hold constrains
//! what the customer has available, to postings as to other holds.

mod support;

use std::time::{Duration, Instant};

use omnibus_actors::{Engine, EngineError};
use omnibus_core::ledger::BooksError;
use omnibus_core::ledger::{HoldAnswer, HoldId, HoldState, NewHold};
use omnibus_core::{AccountId, CustomerId};
use support::*;

/// A customer's available amount, in won.
async fn available(engine: &Engine, c: CustomerId) -> i64 {
    engine
        .customer_balance(c)
        .await
        .unwrap()
        .available
        .value()
        .try_into()
        .unwrap()
}

/// A hold of `won` on customer `c` toward the fin parent account, expiring `ttl_ms` from now.
fn new_hold(c: CustomerId, number: u64, won: i64, ttl_ms: u64) -> NewHold {
    NewHold {
        id: HoldId::new(c, number),
        debit: AccountId::customer(c),
        credit: FIN_PARENT,
        amount: krw(won),
        expires_at_ms: now_ms() + ttl_ms,
    }
}

/// Waits (at most five seconds) until the hold has resolved, and answers its state.
async fn resolved(engine: &Engine, id: HoldId) -> HoldState {
    let started = Instant::now();
    loop {
        let hold = engine.hold(id).await.unwrap().expect("the hold exists");
        if !hold.state.is_open() {
            return hold.state;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{id} still open: {hold:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_hold_survives_a_restart_then_expires_and_a_post_after_is_answered_expired() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "[actors]\nhold_expiry_interval_ms = 50\n";
    let c = customer(1);
    let rt = runtime();
    let kept = new_hold(c, 1, 7_000, 600_000);
    let engine = start(dir.path(), 2, extra);
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        engine
            .post(FIN_PARENT, AccountId::customer(c), krw(10_000))
            .await
            .unwrap();
        let created = engine.create_hold(kept).await.unwrap();
        assert!(created.is_done(), "{created:?}");
        assert_eq!(created.hold().state, HoldState::Open);
        assert_eq!(available(&engine, c).await, 3_000);
    });
    engine.shutdown().unwrap();

    let engine = start(dir.path(), 2, extra);
    rt.block_on(async {
        let hold = engine.hold(kept.id).await.unwrap().expect("kept");
        assert_eq!(hold.body(), kept, "the same hold, with its expiry");
        assert_eq!(hold.state, HoldState::Open);
        assert_eq!(
            engine.holds_of(AccountId::customer(c)).await.unwrap(),
            vec![hold]
        );
        assert_eq!(available(&engine, c).await, 3_000);
        assert_eq!(won(&engine, 1).await, 10_000);

        // A short hold falls due and the shard's pass expires it.
        let short = new_hold(c, 2, 2_000, 300);
        engine.create_hold(short).await.unwrap();
        assert_eq!(available(&engine, c).await, 1_000);
        let state = resolved(&engine, short.id).await;
        assert!(matches!(state, HoldState::Expired { at_ms } if at_ms >= short.expires_at_ms));
        assert_eq!(available(&engine, c).await, 3_000);
        // A post after the expiry is answered with the expiry, and moves nothing.
        let late = engine.post_hold(short.id, None).await.unwrap();
        assert_eq!(late, HoldAnswer::Unchanged(*late.hold()));
        assert_eq!(late.hold().state, state);
        assert_eq!(won(&engine, 1).await, 10_000);

        // The kept hold is still open, and posts in part: the rest is released.
        let posted = engine.post_hold(kept.id, Some(krw(4_000))).await.unwrap();
        assert!(posted.is_done());
        assert!(
            matches!(posted.hold().state, HoldState::Posted { amount, .. } if amount == krw(4_000))
        );
        assert_eq!(won(&engine, 1).await, 6_000);
        assert_eq!(available(&engine, c).await, 6_000);
        assert!(engine.totals().await.unwrap().sum.is_zero());
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_hold_that_fell_due_while_the_engine_was_down_expires_when_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    // No pass but the one at start could expire it: the interval is an hour.
    let extra = "[actors]\nhold_expiry_interval_ms = 3_600_000\n";
    let c = customer(1);
    let rt = runtime();
    let hold = new_hold(c, 1, 500, 300);
    let engine = start(dir.path(), 1, extra);
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        engine
            .post(FIN_PARENT, AccountId::customer(c), krw(1_000))
            .await
            .unwrap();
        engine.create_hold(hold).await.unwrap();
    });
    engine.shutdown().unwrap();
    std::thread::sleep(Duration::from_millis(400));

    let engine = start(dir.path(), 1, extra);
    rt.block_on(async {
        let state = resolved(&engine, hold.id).await;
        assert!(matches!(state, HoldState::Expired { at_ms } if at_ms >= hold.expires_at_ms));
        assert_eq!(available(&engine, c).await, 1_000);
    });
    engine.shutdown().unwrap();
}

#[test]
fn holds_are_idempotent_by_id_and_constrain_what_is_available() {
    let dir = tempfile::tempdir().unwrap();
    let c = customer(1);
    let rt = runtime();
    let engine = start(dir.path(), 2, "");
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        engine
            .post(FIN_PARENT, AccountId::customer(c), krw(1_000))
            .await
            .unwrap();
        let hold = new_hold(c, 1, 800, 600_000);
        let first = engine.create_hold(hold).await.unwrap();
        assert!(first.is_done());
        // The same create again: the same hold, nothing written.
        assert_eq!(
            engine.create_hold(hold).await.unwrap(),
            HoldAnswer::Unchanged(*first.hold())
        );
        // The same id with another body: a conflict.
        let other = NewHold {
            amount: krw(801),
            ..hold
        };
        assert_eq!(
            engine.create_hold(other).await,
            Err(EngineError::Refused(BooksError::HoldConflict(hold.id)))
        );
        // What the hold sets aside is not available to a posting or another hold.
        assert!(matches!(
            engine
                .post(AccountId::customer(c), FIN_PARENT, krw(201))
                .await,
            Err(EngineError::Refused(BooksError::InsufficientFunds { .. }))
        ));
        assert!(matches!(
            engine.create_hold(new_hold(c, 2, 201, 600_000)).await,
            Err(EngineError::Refused(BooksError::InsufficientFunds { .. }))
        ));
        // Void, then every later post or void answers the void.
        let voided = engine.void_hold(hold.id).await.unwrap();
        assert!(voided.is_done());
        assert!(matches!(voided.hold().state, HoldState::Voided { .. }));
        assert_eq!(
            engine.void_hold(hold.id).await.unwrap(),
            HoldAnswer::Unchanged(*voided.hold())
        );
        assert_eq!(
            engine.post_hold(hold.id, None).await.unwrap(),
            HoldAnswer::Unchanged(*voided.hold())
        );
        assert_eq!(available(&engine, c).await, 1_000);
        // A post above the held amount is refused; an unknown hold is refused.
        let second = new_hold(c, 3, 300, 600_000);
        engine.create_hold(second).await.unwrap();
        assert!(matches!(
            engine.post_hold(second.id, Some(krw(301))).await,
            Err(EngineError::Refused(BooksError::PostExceedsHold { .. }))
        ));
        let unknown = HoldId::new(c, 99);
        assert_eq!(
            engine.void_hold(unknown).await,
            Err(EngineError::Refused(BooksError::UnknownHold(unknown)))
        );
        assert_eq!(engine.hold(unknown).await.unwrap(), None);
        // A hold on a parent account's slice is listed from every shard.
        let slice = NewHold {
            id: HoldId::new(c, 4),
            debit: FIN_PARENT,
            credit: AccountId::customer(c),
            amount: krw(5),
            expires_at_ms: now_ms() + 600_000,
        };
        engine.create_hold(slice).await.unwrap();
        let on_slice = engine.holds_of(FIN_PARENT).await.unwrap();
        assert_eq!(on_slice.len(), 1);
        assert_eq!(on_slice[0].body(), slice);
        assert!(engine.totals().await.unwrap().sum.is_zero());
    });
    engine.shutdown().unwrap();
}
