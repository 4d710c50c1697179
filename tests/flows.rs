// Over 600 lines: one end-to-end test per SPEC §3-§5a flow and outcome (21), sharing one harness; split by flow they would repeat it.
//! Charges, remittances and payment instructions end to end (issue 5): SPEC §3, §4, §5a.

mod support;

use omnibus_actors::{Engine, EngineError, Rejection};
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::signing::SigningError;
use omnibus_core::RemitPath;
use support::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An engine on zero-fault rails with one customer (number 1) holding a signature key.
fn engine_with_customer(
    dir: &std::path::Path,
) -> (Engine, ed25519_dalek::SigningKey, tokio::runtime::Runtime) {
    let engine = start(dir, 2, "");
    let rt = runtime();
    let (opened, key) = opened_with_key(1);
    rt.block_on(engine.open_customer(opened)).unwrap();
    (engine, key, rt)
}

fn steps(view: &omnibus_actors::RequestView) -> Vec<(Step, EntryState)> {
    view.entries.iter().map(|e| (e.step, e.state)).collect()
}

#[test]
fn a_charge_withdraws_from_the_bank_then_credits_the_securities_account() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _, rt) = engine_with_customer(dir.path());
    rt.block_on(async {
        let outcome = engine.charge(charge(1, "C-1", 50_000)).await.unwrap();
        assert_eq!(outcome.told, Told::Succeeded);
        assert_eq!(won(&engine, 1).await, 50_000);
        let view = engine.request("C-1".parse().unwrap()).await.unwrap();
        assert_eq!(
            steps(&view),
            vec![
                (Step::ChargeWithdrawal, EntryState::Success),
                (Step::ChargeCredit, EntryState::Success)
            ]
        );
        assert!(engine.totals().await.unwrap().sum.is_zero());
    });
    engine.shutdown().unwrap();
}

#[test]
fn remit_1_500_000_holding_500_000_charges_the_1_000_000_deficit_then_goes_the_first_path() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _, rt) = engine_with_customer(dir.path());
    rt.block_on(async {
        engine.charge(charge(1, "C-1", 500_000)).await.unwrap();
        let outcome = engine.remit(remit(1, "R-1", 1_500_000)).await.unwrap();
        assert_eq!(outcome.told, Told::Succeeded);
        assert_eq!(outcome.path, Some(RemitPath::First));
        assert_eq!(outcome.deficit, Some(krw(1_000_000)));
        let view = engine.request("R-1".parse().unwrap()).await.unwrap();
        assert_eq!(
            steps(&view),
            vec![
                (Step::ChargeWithdrawal, EntryState::Success),
                (Step::ChargeCredit, EntryState::Success),
                (Step::RemitDeduction, EntryState::Success),
                (Step::RemitDeposit, EntryState::Success),
            ]
        );
        assert_eq!(view.entries[0].amount, krw(1_000_000));
        assert_eq!(view.entries[2].amount, krw(1_500_000));
        assert_eq!(won(&engine, 1).await, 0);
    });
    engine.shutdown().unwrap();
}

#[test]
fn remit_2_500_000_holding_1_500_000_charges_the_1_000_000_deficit_then_sends_a_payment_instruction(
) {
    let dir = tempfile::tempdir().unwrap();
    let (engine, key, rt) = engine_with_customer(dir.path());
    rt.block_on(async {
        engine.charge(charge(1, "C-1", 1_500_000)).await.unwrap();
        let request = remit(1, "R-2", 2_500_000);
        let text = engine.signing_text(request).await.unwrap();
        let outcome = engine
            .remit_signed(request, sign(&text.text, &key, 9_001))
            .await
            .unwrap();
        assert_eq!(outcome.told, Told::Succeeded);
        assert_eq!(outcome.path, Some(RemitPath::PaymentInstruction));
        assert_eq!(outcome.deficit, Some(krw(1_000_000)));
        let view = engine.request("R-2".parse().unwrap()).await.unwrap();
        assert_eq!(
            steps(&view),
            vec![
                (Step::ChargeWithdrawal, EntryState::Success),
                (Step::ChargeCredit, EntryState::Success),
                (Step::PaymentInstruction, EntryState::Success),
            ]
        );
        assert_eq!(won(&engine, 1).await, 0);
        // No parent account is touched by the payment instruction ([0114]): fin_parent
        // moved only by the two charges' credits.
        let fin = engine
            .parent_balance(omnibus_core::ParentAccount::FinParent)
            .await
            .unwrap();
        assert_eq!(
            fin.total,
            omnibus_core::Money::krw(
                omnibus_core::Config::embedded().parents.fin_parent.opening - 2_500_000
            )
            .unwrap()
        );
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_remittance_equal_to_the_usage_limit_goes_the_first_path_and_one_won_more_needs_a_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _, rt) = engine_with_customer(dir.path());
    rt.block_on(async {
        engine.charge(charge(1, "C-1", 5_000_000)).await.unwrap();
        let at_limit = engine.remit(remit(1, "R-AT", 2_000_000)).await.unwrap();
        assert_eq!(at_limit.path, Some(RemitPath::First));
        let over = engine
            .remit(remit(1, "R-OVER", 2_000_001))
            .await
            .unwrap_err();
        assert_eq!(over, EngineError::Rejected(Rejection::SignatureRequired));
        assert_eq!(
            won(&engine, 1).await,
            3_000_000,
            "the refused remittance moved nothing"
        );
    });
    engine.shutdown().unwrap();
}

#[test]
fn resubmitting_a_request_number_returns_the_original_outcome_and_executes_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _, rt) = engine_with_customer(dir.path());
    rt.block_on(async {
        let first = engine.charge(charge(1, "C-1", 10_000)).await.unwrap();
        let again = engine.charge(charge(1, "C-1", 10_000)).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(won(&engine, 1).await, 10_000, "executed once");
        let other = engine.charge(charge(1, "C-1", 20_000)).await.unwrap_err();
        assert_eq!(
            other,
            EngineError::Rejected(Rejection::RequestNoReused {
                request_no: "C-1".parse().unwrap()
            })
        );
        // The same number from another customer is refused too: numbers are engine-wide.
        engine.open_customer(opened(2)).await.unwrap();
        let stolen = engine.charge(charge(2, "C-1", 10_000)).await.unwrap_err();
        assert!(
            matches!(
                stolen,
                EngineError::Rejected(Rejection::RequestNoReused { .. })
            ),
            "{stolen}"
        );
        assert_eq!(won(&engine, 2).await, 0);
    });
    engine.shutdown().unwrap();
}

#[test]
fn concurrent_resubmissions_of_one_request_execute_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _, rt) = engine_with_customer(dir.path());
    rt.block_on(async {
        // As many as may wait on one request number (actors.callers_per_request_max).
        let tries: Vec<_> = (0..16)
            .map(|_| engine.charge(charge(1, "C-SAME", 7_000)))
            .collect();
        let outcomes = futures::future::join_all(tries).await;
        for outcome in outcomes {
            assert_eq!(outcome.unwrap().told, Told::Succeeded);
        }
        assert_eq!(won(&engine, 1).await, 7_000);
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_user_who_is_not_tradable_is_refused_and_nothing_moves() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _, rt) = engine_with_customer(dir.path());
    rt.block_on(async {
        engine
            .set_customer_status(customer(1), false, true)
            .await
            .unwrap();
        let err = engine.charge(charge(1, "C-1", 1_000)).await.unwrap_err();
        assert_eq!(
            err,
            EngineError::Rejected(Rejection::NotTradable(customer(1)))
        );
        engine
            .set_customer_status(customer(1), true, false)
            .await
            .unwrap();
        let err = engine.charge(charge(1, "C-2", 1_000)).await.unwrap_err();
        assert_eq!(
            err,
            EngineError::Rejected(Rejection::SubscriptionInvalid(customer(1)))
        );
        assert_eq!(won(&engine, 1).await, 0);
        // A refused request number is free to use once the customer is valid again.
        engine
            .set_customer_status(customer(1), true, true)
            .await
            .unwrap();
        assert_eq!(
            engine.charge(charge(1, "C-1", 1_000)).await.unwrap().told,
            Told::Succeeded
        );
    });
    engine.shutdown().unwrap();
}

mod payment_instruction_refusals {
    use super::*;

    /// Charges enough for an over-limit remittance and issues its text.
    fn setup(
        dir: &std::path::Path,
    ) -> (
        Engine,
        ed25519_dalek::SigningKey,
        tokio::runtime::Runtime,
        omnibus_core::RemitRequest,
        String,
    ) {
        let (engine, key, rt) = engine_with_customer(dir);
        let request = remit(1, "R-PI", 3_000_000);
        let text = rt.block_on(async {
            engine.charge(charge(1, "C-1", 3_000_000)).await.unwrap();
            engine.signing_text(request).await.unwrap().text
        });
        (engine, key, rt, request, text)
    }

    fn assert_nothing_moved(engine: &Engine, rt: &tokio::runtime::Runtime) {
        rt.block_on(async {
            assert_eq!(won(engine, 1).await, 3_000_000);
            assert!(
                engine.request("R-PI".parse().unwrap()).await.is_err(),
                "nothing is on record"
            );
        });
    }

    #[test]
    fn an_expired_signing_text_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let engine = start(dir.path(), 1, "[signing]\noriginal_text_ttl_ms = 1\n");
        let rt = runtime();
        let (opened, key) = opened_with_key(1);
        let request = remit(1, "R-PI", 3_000_000);
        let err = rt.block_on(async {
            engine.open_customer(opened).await.unwrap();
            engine.charge(charge(1, "C-1", 3_000_000)).await.unwrap();
            let text = engine.signing_text(request).await.unwrap().text;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            engine
                .remit_signed(request, sign(&text, &key, 9_001))
                .await
                .unwrap_err()
        });
        assert!(
            matches!(
                err,
                EngineError::Rejected(Rejection::Signing(SigningError::Expired { .. }))
            ),
            "{err}"
        );
        assert_nothing_moved(&engine, &rt);
        engine.shutdown().unwrap();
    }

    #[test]
    fn an_altered_instruction_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, key, rt, request, text) = setup(dir.path());
        let mut altered = request;
        altered.payee.account = "999-99-99999".parse().unwrap();
        let err = rt
            .block_on(engine.remit_signed(altered, sign(&text, &key, 9_001)))
            .unwrap_err();
        assert_eq!(
            err,
            EngineError::Rejected(Rejection::Signing(SigningError::Altered {
                field: "payee_account"
            }))
        );
        assert_nothing_moved(&engine, &rt);
        engine.shutdown().unwrap();
    }

    #[test]
    fn a_wrongly_signed_instruction_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _, rt, request, text) = setup(dir.path());
        let stranger = ed25519_dalek::SigningKey::from_bytes(&[99; 32]);
        let err = rt
            .block_on(engine.remit_signed(request, sign(&text, &stranger, 9_001)))
            .unwrap_err();
        assert_eq!(
            err,
            EngineError::Rejected(Rejection::Signing(SigningError::BadSignature {
                cert_serial: 9_001
            }))
        );
        assert_nothing_moved(&engine, &rt);
        engine.shutdown().unwrap();
    }

    #[test]
    fn a_signature_with_another_certificate_serial_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, key, rt, request, text) = setup(dir.path());
        let err = rt
            .block_on(engine.remit_signed(request, sign(&text, &key, 4_242)))
            .unwrap_err();
        assert_eq!(
            err,
            EngineError::Rejected(Rejection::UnknownCertificate { given: 4_242 })
        );
        assert_nothing_moved(&engine, &rt);
        engine.shutdown().unwrap();
    }

    #[test]
    fn a_replayed_or_crossed_signature_executes_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, key, rt, request, text) = setup(dir.path());
        rt.block_on(async {
            // An altered request is refused, and changes nothing: the text stays usable for
            // the request it was issued for (a refusal that changed nothing never uses it up).
            let mut altered = request;
            altered.header.amount = krw(3_000_001);
            let refused = engine
                .remit_signed(altered, sign(&text, &key, 9_001))
                .await
                .unwrap_err();
            assert!(
                matches!(refused, EngineError::Rejected(Rejection::Signing(_))),
                "{refused}"
            );
            let paid = engine
                .remit_signed(request, sign(&text, &key, 9_001))
                .await
                .unwrap();
            assert_eq!(paid.told, Told::Succeeded);
            let after_one = won(&engine, 1).await;
            // The same signature again is the same request: its answer, nothing executed.
            let replay = engine
                .remit_signed(request, sign(&text, &key, 9_001))
                .await
                .unwrap();
            assert_eq!(replay.told, Told::Succeeded);
            assert_eq!(won(&engine, 1).await, after_one);
            // And a signature for one request does not serve another request.
            let other = remit(1, "R-OTHER", 3_000_000);
            engine.signing_text(other).await.unwrap();
            let crossed = engine
                .remit_signed(other, sign(&text, &key, 9_001))
                .await
                .unwrap_err();
            assert!(
                matches!(crossed, EngineError::Rejected(Rejection::Signing(_))),
                "{crossed}"
            );
            assert_eq!(won(&engine, 1).await, after_one);
        });
        engine.shutdown().unwrap();
    }

    /// The weak public keys of issue 12: the identity point (`01` then zeros, order 1)
    /// and `y = 0` (all zeros, order 4).
    const WEAK_KEYS: [[u8; 32]; 2] = [
        {
            let mut key = [0; 32];
            key[0] = 1;
            key
        },
        [0; 32],
    ];

    /// A signature made without any private key: R = the base point (`58 66 .. 66`),
    /// s = 1. Over a key of small order, plain ed25519 verification accepts it for
    /// every text whose challenge is a multiple of the key's order.
    fn forged_signature() -> [u8; 64] {
        let mut signature = [0x66; 64];
        signature[0] = 0x58;
        signature[32..].fill(0);
        signature[32] = 1;
        signature
    }

    fn plain_verify_accepts(text: &str, key: &[u8; 32]) -> bool {
        let key = ed25519_dalek::VerifyingKey::from_bytes(key).unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(&forged_signature());
        ed25519_dalek::Verifier::verify(&key, text.as_bytes(), &signature).is_ok()
    }

    #[test]
    fn a_forged_signature_over_a_weak_key_authorises_no_payment_instruction() {
        for weak in WEAK_KEYS {
            let dir = tempfile::tempdir().unwrap();
            let engine = start(dir.path(), 2, "");
            let rt = runtime();
            let mut opened = opened(1);
            opened.signing_key = Some(omnibus_core::record::SigningKey {
                cert_serial: 9_001,
                public_key: weak,
            });
            // The engine's own opening may refuse the key (check_public_key); then there
            // is nothing to forge against. Otherwise the signature check must hold.
            if rt.block_on(engine.open_customer(opened)).is_err() {
                engine.shutdown().unwrap();
                continue;
            }
            rt.block_on(async {
                engine.charge(charge(1, "C-1", 3_000_000)).await.unwrap();
                // Take texts until one the forgery verifies over with plain ed25519 (every
                // text for the identity key, about one in four for the all-zero key).
                let mut tries = 0;
                let (request, text) = loop {
                    tries += 1;
                    assert!(tries <= 64, "no forgeable text in 64 tries");
                    let request = remit(1, &format!("R-PI-{tries}"), 2_500_000);
                    let text = engine.signing_text(request).await.unwrap().text;
                    if plain_verify_accepts(&text, &weak) {
                        break (request, text);
                    }
                };
                let forged = omnibus_actors::Signed {
                    cert_serial: 9_001,
                    signature: forged_signature(),
                };
                let outcome = engine.remit_signed(request, forged).await;
                assert_eq!(
                    outcome,
                    Err(EngineError::Rejected(Rejection::Signing(
                        SigningError::BadSignature { cert_serial: 9_001 }
                    ))),
                    "a forged signature over {weak:02x?} was taken for {text:?}"
                );
                assert_eq!(won(&engine, 1).await, 3_000_000);
                assert!(engine.request(request.header.request_no).await.is_err());
            });
            engine.shutdown().unwrap();
        }
    }

    #[test]
    fn a_remittance_within_the_limit_needs_no_signing_text() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _, rt) = engine_with_customer(dir.path());
        let err = rt
            .block_on(engine.signing_text(remit(1, "R-SMALL", 2_000_000)))
            .unwrap_err();
        assert_eq!(err, EngineError::Rejected(Rejection::NotOverLimit));
        engine.shutdown().unwrap();
    }
}

#[test]
fn subscribers_see_every_state_change_of_a_charge_in_order_the_answer_with_the_credits_entry() {
    use omnibus_actors::EngineEvent;
    let dir = tempfile::tempdir().unwrap();
    let (engine, _, rt) = engine_with_customer(dir.path());
    let mut events = engine.subscribe();
    rt.block_on(async {
        engine.charge(charge(1, "C-EV", 1_000)).await.unwrap();
        // The answer comes with the credit's entry (issue 13: every result of the credit
        // tells succeeded), before the credit's result.
        let mut seen = Vec::new();
        while !seen.iter().any(|e| {
            matches!(
                e,
                EngineEvent::EntryChanged {
                    step: Step::ChargeCredit,
                    from: Some(_),
                    ..
                }
            )
        }) {
            let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
                .await
                .unwrap()
                .unwrap();
            seen.push(event);
        }
        let summary: Vec<String> = seen
            .iter()
            .map(|e| match e {
                EngineEvent::Accepted { .. } => "accepted".to_string(),
                EngineEvent::EntryChanged { step, from, to, .. } => {
                    format!("{step} {from:?}->{to}")
                }
                EngineEvent::Answered { told, .. } => format!("answered {told:?}"),
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                "accepted",
                "charge_withdrawal None->REQUESTED",
                "charge_withdrawal Some(Requested)->SUCCESS",
                "charge_credit None->REQUESTED",
                "answered Succeeded",
                "charge_credit Some(Requested)->SUCCESS",
            ]
        );
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_batch_of_requests_gives_each_its_own_outcome_as_if_submitted_alone() {
    use omnibus_actors::Submission;
    let dir = tempfile::tempdir().unwrap();
    let (engine, _, rt) = engine_with_customer(dir.path());
    rt.block_on(async {
        engine.open_customer(opened(2)).await.unwrap();
        engine.charge(charge(2, "TAKEN", 1_000)).await.unwrap();
        let outcomes = engine
            .submit_batch(vec![
                Submission::Charge(charge(1, "B-1", 50_000)),
                Submission::Remit(remit(1, "B-2", 10_000)),
                // The same request twice in one batch: executed once, answered twice.
                Submission::Charge(charge(1, "B-3", 7_000)),
                Submission::Charge(charge(1, "B-3", 7_000)),
                // Another customer's request number: refused, nothing moves.
                Submission::Charge(charge(1, "TAKEN", 5_000)),
                // Over the limit without a signature: refused.
                Submission::Remit(remit(1, "B-4", 2_500_000)),
            ])
            .await;
        assert_eq!(outcomes.len(), 6);
        assert_eq!(outcomes[0].as_ref().unwrap().told, Told::Succeeded);
        // The remittance may run before or after the charge in the same batch; with a
        // balance short it charges its deficit first, so it succeeds either way.
        assert_eq!(outcomes[1].as_ref().unwrap().told, Told::Succeeded);
        assert_eq!(outcomes[2], outcomes[3]);
        assert!(
            matches!(
                outcomes[4],
                Err(EngineError::Rejected(Rejection::RequestNoReused { .. }))
            ),
            "{:?}",
            outcomes[4]
        );
        assert_eq!(
            outcomes[5],
            Err(EngineError::Rejected(Rejection::SignatureRequired))
        );
        let deficit = outcomes[1]
            .as_ref()
            .unwrap()
            .deficit
            .map_or(0, |d| i64::try_from(d.value()).unwrap());
        assert_eq!(won(&engine, 1).await, 50_000 - 10_000 + 7_000 + deficit);
        assert!(
            engine.request("B-4".parse().unwrap()).await.is_err(),
            "a refused request leaves nothing on record"
        );
    });
    engine.shutdown().unwrap();
}

#[test]
fn an_identical_retry_after_the_authentication_server_failed_is_carried_out() {
    use omnibus_actors::rails::sim::Rail;
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, "");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (opened, key) = opened_with_key(1);
        engine.open_customer(opened).await.unwrap();
        engine.charge(charge(1, "FUND", 3_000_000)).await.unwrap();
        let request = remit(1, "PI-RETRY", 2_500_000);
        let text = engine.signing_text(request).await.unwrap();
        let signed = sign(&text.text, &key, 9_001);
        sim.set_rates(Rail::Authentication, always("fail"));
        let first = engine.remit_signed(request, signed).await.unwrap_err();
        assert!(
            matches!(
                first,
                EngineError::Rejected(Rejection::AuthenticationUnavailable(_))
            ),
            "{first}"
        );
        // "Nothing changed; retry": the identical retry goes through.
        sim.heal();
        let retried = engine.remit_signed(request, signed).await.unwrap();
        assert_eq!(retried.told, Told::Succeeded);
        assert_eq!(won(&engine, 1).await, 500_000);
        // The text served this request, once: another submission is the same request.
        let again = engine.remit_signed(request, signed).await.unwrap();
        assert_eq!(again.told, Told::Succeeded);
        assert_eq!(won(&engine, 1).await, 500_000);
    });
    engine.shutdown().unwrap();
}

#[test]
fn the_engine_refuses_to_register_a_weak_signature_key() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _, rt) = engine_with_customer(dir.path());
    rt.block_on(async {
        for weak in [[0u8; 32], {
            let mut identity = [0u8; 32];
            identity[0] = 1;
            identity
        }] {
            let mut opened = opened(77);
            opened.signing_key = Some(omnibus_core::record::SigningKey {
                cert_serial: 77,
                public_key: weak,
            });
            let refused = engine.open_customer(opened).await.unwrap_err();
            assert!(
                matches!(refused, EngineError::Rejected(Rejection::Signing(_))),
                "{refused}"
            );
            assert!(engine.customer_balance(customer(77)).await.is_err());
        }
    });
    engine.shutdown().unwrap();
}
