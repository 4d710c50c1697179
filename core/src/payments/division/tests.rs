//! The rules of division accounts, case by case.
use super::*;
use crate::payments::kst::kst_day_start_ms;

fn at(y: u32, m: u32, d: u32) -> u64 {
    kst_day_start_ms(day_of_date(y, m, d)) + 12 * 3_600_000
}

fn slave(birth: &str) -> Slave {
    Slave {
        name: crate::ids::PayeeName::new("김하나").unwrap(),
        birth_date: BirthDate::parse(birth).unwrap(),
        phone: "01012345678".into(),
        guardian_consent_at_ms: None,
    }
}

fn budget(won: u64) -> DivisionControls {
    DivisionControls {
        per_tx_max_krw: None,
        period: Period::Month,
        period_budget_krw: won,
        valid_from_ms: None,
        valid_until_ms: None,
        blocked_categories: Vec::new(),
        allowed_merchants: Vec::new(),
    }
}

#[test]
fn a_division_number_is_da_twelve_digits_and_a_luhn_digit() {
    // D-1.3's example.
    let n = DivisionNumber::parse("DA-1234567890128").unwrap();
    assert_eq!(n.ascii(), "DA-1234567890128");
    assert_eq!(
        n,
        DivisionNumber::from_payload([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2])
    );
    assert_eq!(n.masked(), "DA-*********0128");
    assert_eq!(format!("{n:?}"), "DivisionNumber(DA-*********0128)");
    assert_eq!(
        DivisionNumber::parse("DA-1234 5678 9012 8"),
        Ok(n),
        "spaces among the digits"
    );
    assert_eq!(
        DivisionNumber::parse("DA-1234567890127"),
        Err(DivisionNumberError::CheckDigit)
    );
    for bad in [
        "1234567890128",
        "DA-123456789012",
        "DA-12345678901280",
        "DA-12345678901x8",
    ] {
        assert_eq!(
            DivisionNumber::parse(bad),
            Err(DivisionNumberError::Shape),
            "{bad}"
        );
    }
}

#[test]
fn only_the_master_changes_the_status_and_a_closed_account_stays_closed() {
    use DivisionAction::*;
    use DivisionStatus::*;
    assert_eq!(Active.after(Suspend), Ok(Suspended));
    assert_eq!(Suspended.after(Resume), Ok(Active));
    assert_eq!(Locked.after(Unlock), Ok(Active));
    assert!(Locked.after(Resume).is_err());
    assert!(Suspended.after(Unlock).is_err());
    assert_eq!(Active.after(ResetPin), Ok(PendingActivation));
    assert_eq!(Locked.after(ResetPin), Ok(PendingActivation));
    assert!(PendingActivation.after(Resume).is_err());
    assert_eq!(Active.after(Close), Ok(Closed));
    for action in [Suspend, Resume, Unlock, ResetPin] {
        assert!(Closed.after(action).is_err());
    }
    assert_eq!(Closed.after(Close), Ok(Closed));
    assert_eq!(
        PendingActivation.instrument(),
        InstrumentStatus::PendingActivation
    );
}

#[test]
fn a_minor_is_under_19_by_calendar_year_and_under_14_needs_consent() {
    let s = slave("2008-12-31");
    // 2026: turns 18 this year; a minor. On 1 January 2027, the year they turn 19: not.
    assert!(s.is_minor_at(at(2026, 12, 31)));
    assert!(!s.is_minor_at(at(2027, 1, 1)));
    assert_eq!(s.age_at(at(2026, 12, 30)), 17);
    assert_eq!(s.age_at(at(2026, 12, 31)), 18);
    let child = slave("2014-06-01");
    assert_eq!(child.age_at(at(2026, 5, 31)), 11);
    assert_eq!(
        child.validate(at(2026, 5, 31)).unwrap_err().0,
        RefusalCode::GuardianConsentRequired
    );
    let consented = Slave {
        guardian_consent_at_ms: Some(1),
        ..child
    };
    assert!(consented.validate(at(2026, 5, 31)).is_ok());
    assert!(slave("1990-01-01").validate(at(2026, 5, 31)).is_ok());
    let bad_phone = Slave {
        phone: "010-1234".into(),
        ..slave("1990-01-01")
    };
    assert_eq!(
        bad_phone.validate(at(2026, 5, 31)).unwrap_err().0,
        RefusalCode::InvalidRequest
    );
    assert!(BirthDate::parse("2026-02-29").is_none());
    assert!(BirthDate::parse("1960-02-29").is_some());
    assert!(BirthDate::parse("1961-02-29").is_none());
    assert!(BirthDate::parse("1990-1-01").is_none());
}

#[test]
fn controls_take_d15s_defaults_and_block_minors_categories() {
    let issued = at(2026, 3, 1);
    let c = budget(100_000).controls(&slave("1990-01-01"), issued, issued);
    assert_eq!(c.per_tx_max_krw, Some(DEFAULT_PER_TX_MAX_KRW));
    assert_eq!(c.valid_until_ms, Some(issued + DEFAULT_VALIDITY_MS));
    assert_eq!(
        c.budget,
        Some(Budget {
            period: Period::Month,
            budget_krw: 100_000
        })
    );
    assert!(c.require_secret);
    assert!(c.blocked_categories.is_empty());
    let minor = budget(100_000).controls(&slave("2010-01-01"), issued, issued);
    assert_eq!(
        minor.blocked_categories,
        vec![Tag::new("adult").unwrap(), Tag::new("gambling").unwrap()]
    );
    assert_eq!(
        budget(0).validate(2_000_000).unwrap_err().0,
        RefusalCode::ControlsInvalid
    );
    let over = DivisionControls {
        per_tx_max_krw: Some(2_000_001),
        ..budget(100_000)
    };
    assert_eq!(
        over.validate(2_000_000).unwrap_err().0,
        RefusalCode::ControlsInvalid
    );
    assert!(budget(100_000).validate(2_000_000).is_ok());
}

#[test]
fn an_activation_code_lasts_72_hours_and_the_fifth_wrong_try_voids_it() {
    let issued = at(2026, 3, 1);
    let mut a = Activation::issued_at(issued);
    let pending = DivisionStatus::PendingActivation;
    assert_eq!(
        a.attempt(pending, true, true, issued + 1),
        ActivationVerdict::Activated
    );
    assert_eq!(
        a.attempt(pending, true, false, issued + 1),
        ActivationVerdict::Refused {
            code: RefusalCode::IdentityCheckFailed,
            counted: false,
            voids: false
        }
    );
    assert!(matches!(
        a.attempt(pending, true, true, issued + ACTIVATION_TTL_MS),
        ActivationVerdict::Refused {
            code: RefusalCode::ActivationCodeInvalid,
            counted: false,
            ..
        }
    ));
    assert!(matches!(
        a.attempt(DivisionStatus::Active, true, true, issued + 1),
        ActivationVerdict::Refused { counted: false, .. }
    ));
    for n in 1..=ACTIVATION_TRIES {
        let verdict = a.attempt(pending, false, true, issued + 1);
        assert_eq!(
            verdict,
            ActivationVerdict::Refused {
                code: RefusalCode::ActivationCodeInvalid,
                counted: true,
                voids: n == ACTIVATION_TRIES
            }
        );
        a.failed_count += 1;
    }
    // Void: even the right code is refused now.
    assert!(!a.usable_at(issued + 1));
    assert!(matches!(
        a.attempt(pending, true, true, issued + 1),
        ActivationVerdict::Refused { counted: false, .. }
    ));
}

#[test]
fn a_division_payment_commits_or_releases_its_reservation_once_and_a_refund_gives_back() {
    use crate::payments::payment::{PayerKind, PaymentEntry, PaymentId, PaymentState};
    let noon = at(2026, 3, 10);
    let payment = |state, refunded_krw| PaymentEntry {
        id: PaymentId::new(0, 1),
        version: 1,
        merchant: crate::ids::MerchantNo(1),
        merchant_request_no: crate::ids::RequestNo::new("R-1").unwrap(),
        order_no: None,
        fingerprint: [0; 32],
        amount_krw: 30_000,
        card: None,
        state,
        decline: None,
        sale: None,
        created_at_ms: noon,
        approved_at_ms: noon,
        refunded_krw,
        refunds: Vec::new(),
        payer: PayerKind::Division,
    };
    let mut reserved = Counters::default();
    reserved.reserve(30_000);
    let month = Some(Period::Month);
    let requested = payment(PaymentState::Requested, 0);
    let approved = payment(PaymentState::Approved, 0);
    let committed = counters_after(&reserved, month, &requested, &approved).unwrap();
    assert_eq!(
        (
            committed.reserved_krw,
            committed.spent_in(Period::Month, noon)
        ),
        (0, 30_000)
    );
    // Written again: nothing more.
    assert_eq!(
        counters_after(&committed, month, &approved, &approved),
        None
    );
    let released = counters_after(
        &reserved,
        month,
        &requested,
        &payment(PaymentState::Declined, 0),
    )
    .unwrap();
    assert_eq!(released, Counters::default());
    // E8: 10,000 of it refunded in the same month.
    let refunded = counters_after(
        &committed,
        month,
        &approved,
        &payment(PaymentState::PartiallyRefunded, 10_000),
    )
    .unwrap();
    assert_eq!(refunded.spent_in(Period::Month, noon), 20_000);
    assert_eq!(refunded.uses, 1);
}
