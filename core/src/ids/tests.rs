use super::*;

#[test]
fn bank_codes_are_three_digits() {
    assert_eq!(BankCode::new("004").unwrap().as_str(), "004");
    assert!(BankCode::new("04").is_err());
    assert!(BankCode::new("0a4").is_err());
    assert!(BankCode::new("0044").is_err());
}

#[test]
fn request_numbers_are_bounded_and_plain() {
    assert!(RequestNo::new("CHG-20260101-000001").is_ok());
    assert_eq!(RequestNo::new(""), Err(IdError::Empty));
    assert!(matches!(
        RequestNo::new(&"x".repeat(33)),
        Err(IdError::TooLong { max: 32, len: 33 })
    ));
    assert!(matches!(
        RequestNo::new("a b"),
        Err(IdError::Malformed { .. })
    ));
}

#[test]
fn payee_names_take_hangul_and_refuse_control_characters() {
    assert!(PayeeName::new("홍길동").is_ok());
    assert!(PayeeName::new("a\nb").is_err());
}

#[test]
fn customer_zero_is_not_an_account() {
    assert!(CustomerId::new(0).is_err());
    assert!("12x".parse::<CustomerId>().is_err());
    assert_eq!("42".parse::<CustomerId>().unwrap().get(), 42);
}
