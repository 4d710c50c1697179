//! Idempotency does not depend on the client's clock (issue 11, item 7): how long a
//! request number is remembered counts from the engine's acceptance, and a
//! `request_date` far from the engine's own date is refused, naming the field.

mod support;

use std::sync::Arc;

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::{Clock, Engine, EngineError, EngineParts, ManualClock, Rejection};
use omnibus_core::request_log::Told;
use support::*;

fn dated(customer: u64, date: &str, request_no: &str, won: i64) -> omnibus_core::ChargeRequest {
    omnibus_core::ChargeRequest::parse(
        omnibus_core::Currency::Krw,
        &customer.to_string(),
        date,
        request_no,
        &won.to_string(),
    )
    .unwrap()
}

#[test]
fn a_request_date_far_from_the_engines_date_is_refused_naming_the_field_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), 1, "");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        for (date, no) in [(day(-90), "PAST"), ("2999-12-31".to_string(), "FUTURE")] {
            let refused = engine.charge(dated(1, &date, no, 1_000)).await.unwrap_err();
            assert!(
                matches!(
                    refused,
                    EngineError::Rejected(Rejection::RequestDateOutsideWindow { .. })
                ),
                "{date}: {refused}"
            );
            assert!(
                refused.to_string().starts_with("rejected: request_date:"),
                "{refused}"
            );
            assert!(engine.request(no.parse().unwrap()).await.is_err());
        }
        // Yesterday and tomorrow are within the default window of a day.
        for (date, no) in [(day(-1), "YESTERDAY"), (day(1), "TOMORROW")] {
            let told = engine
                .charge(dated(1, &date, no, 1_000))
                .await
                .unwrap()
                .told;
            assert_eq!(told, Told::Succeeded, "{date}");
        }
        assert_eq!(won(&engine, 1).await, 2_000);
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_request_dated_weeks_ago_is_remembered_for_the_whole_window_from_its_acceptance() {
    let dir = tempfile::tempdir().unwrap();
    // A wide date window, so that a request dated 40 days ago is accepted today.
    let config = config(
        dir.path(),
        1,
        "[actors]\nidempotency_retention_days = 30\nrequest_date_window_days = 60\n[supervisor]\nnon_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\n",
    );
    let sim = Simulator::new(&config);
    let clock = Arc::new(ManualClock::new(now_ms()));
    let engine = Engine::start_with(config, EngineParts::new(sim.rails(), clock.clone())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        let old = dated(1, &day(-40), "OLD-DATE", 1_000);
        assert_eq!(engine.charge(old).await.unwrap().told, Told::Succeeded);
        // The daily prune runs at once: the request was accepted today, so it is kept.
        let report = engine.supervise_once().await.unwrap();
        assert_eq!(report.pruned, 0);
        let again = engine.charge(old).await.unwrap();
        assert_eq!(again.told, Told::Succeeded);
        assert_eq!(
            won(&engine, 1).await,
            1_000,
            "the resubmission did not execute again"
        );
        // Thirty-one days after its acceptance it is forgotten.
        clock.advance_ms(31 * 86_400_000);
        assert!(clock.now_ms() > now_ms());
        let report = engine.supervise_once().await.unwrap();
        assert_eq!(report.pruned, 1, "{report:?}");
    });
    engine.shutdown().unwrap();
}
