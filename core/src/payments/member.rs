//! A member of the e-payment service (INSTRUMENTS.md §5.2, §5.7; flow B b4): an ID and a
//! login password, linked to an omnibus customer whose cards make up the member's wallet.
//! The password is stored only as an argon2id hash (PHC string; hashed and verified off
//! the shard's thread by the engine, with a fresh salt); five failed logins in a row lock
//! the member (`MEMBER_LOCKED`), a right one resets the count. Pure: the hash is an
//! argument, the verdict a new member.

use crate::ids::{CustomerId, MemberId};

/// Failed logins in a row that lock a member (D-5.4, b4).
pub const LOGIN_FAILURES_MAX: u8 = 5;
/// The longest PHC string kept (argon2id's is about 97 bytes).
pub const PASSWORD_HASH_MAX: usize = 256;

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MemberStatus {
    Active,
    Locked,
}

/// A member as the engine keeps it (one `member_set` record per change, at a version).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub customer: CustomerId,
    /// argon2id, as a PHC string.
    pub password_hash: String,
    pub failed_logins: u8,
    pub status: MemberStatus,
    pub created_at_ms: u64,
}

impl Member {
    /// The member after a login whose password was `right`: the count reset, or one more
    /// failure, the fifth locking. A locked member's login is refused before its password
    /// is checked, and changes nothing.
    pub fn after_login(&self, right: bool) -> Member {
        let mut next = self.clone();
        if right {
            next.failed_logins = 0;
        } else {
            next.failed_logins = next.failed_logins.saturating_add(1);
            if next.failed_logins >= LOGIN_FAILURES_MAX {
                next.status = MemberStatus::Locked;
            }
        }
        next
    }

    /// A member's login password (FIG. 2): 8 to 12 letters and digits, not case-sensitive,
    /// so it is hashed in lowercase.
    pub fn password_text(password: &str) -> Result<String, &'static str> {
        if !(8..=12).contains(&password.len())
            || !password.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err("must be 8 to 12 letters and digits");
        }
        Ok(password.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifth_failed_login_in_a_row_locks_and_a_right_one_resets() {
        let m = Member {
            id: MemberId::new("alice01x").unwrap(),
            customer: CustomerId::new(1).unwrap(),
            password_hash: String::new(),
            failed_logins: 0,
            status: MemberStatus::Active,
            created_at_ms: 0,
        };
        let mut after = m.clone();
        for _ in 0..4 {
            after = after.after_login(false);
        }
        assert_eq!(
            (after.failed_logins, after.status),
            (4, MemberStatus::Active)
        );
        assert_eq!(after.after_login(true).failed_logins, 0);
        let locked = after.after_login(false);
        assert_eq!(locked.status, MemberStatus::Locked);
        assert_eq!(Member::password_text("Secret123"), Ok("secret123".into()));
        assert!(Member::password_text("short").is_err());
        assert!(MemberId::new("Alice01x").is_err());
        assert!(MemberId::new("alice").is_err());
    }
}
