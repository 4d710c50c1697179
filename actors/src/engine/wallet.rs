//! Members, their wallet sessions and flow B's checkouts (INSTRUMENTS.md §5.3 b4–b9,
//! D-5.4, D-5.17; docs/payments.md):
//!
//! - `POST /v1/members`: a member ID and login password for a customer; the password is
//!   stored only as an argon2id hash (the `argon2` crate, RustCrypto; its default
//!   parameters, OWASP's minimum: 19 MiB, 2 passes), made off the shard's thread.
//! - `POST /v1/wallet/sessions` (b4): the ID and password, checked off the shard's
//!   thread; five failures in a row lock the member (`MEMBER_LOCKED`), a wrong one is
//!   `LOGIN_FAILED` (so is an unknown ID: IDs do not leak). A session is a random token,
//!   kept in memory for `payments.session_ttl_ms` (at most `payments.sessions_max`); a
//!   restart ends every session (the member logs in again).
//! - `POST /v1/wallet/checkouts` (b5, D-5.17): in a session, the member confirms a
//!   purchase at a merchant with the chosen card's password: steps 2, 2a and 3 of §6.2 on
//!   the card's shard (a wrong password counted, the fifth locking). The checkout binds
//!   the merchant, the amount and the card; it lives `payments.checkout_ttl_ms` and is used
//!   once; in memory, so a restart ends it (never a payment: the payment is on record).
//! - `POST /v1/payments` with `wallet {checkout_id}` (b6–b9): the merchant gets only the
//!   approval, never the card or the customer; the full-amount rule is judged then.

use dashmap::DashMap;
use omnibus_core::ids::{CardSeq, MemberId, MerchantId};
use omnibus_core::payments::member::{Member, MemberStatus};
use omnibus_core::payments::payment_request::SecretText;
use omnibus_core::payments::prepaid_card::CardId;
use omnibus_core::payments::{DeclineCode, RefusalCode};
use omnibus_core::CustomerId;
use rand::Rng;

use super::Engine;
use crate::error::{Bound, EngineError};
use crate::shard::{MemberQuery, SetMember};

/// A wallet session (b4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletSession {
    pub token: String,
    pub member: MemberId,
    pub customer: CustomerId,
    pub expires_at_ms: u64,
}

/// A confirmed checkout (b5): what a merchant's `wallet {checkout_id}` payment pays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkout {
    pub checkout_id: String,
    pub member: MemberId,
    pub card: CardId,
    pub merchant: MerchantId,
    pub amount_krw: u64,
    pub expires_at_ms: u64,
}

/// The engine's members directory, sessions and checkouts.
#[derive(Debug, Default)]
pub(super) struct Wallets {
    /// Every member, by ID: its customer (whose shard holds it). Rebuilt at start.
    pub(super) members: DashMap<MemberId, CustomerId>,
    sessions: DashMap<String, WalletSession>,
    checkouts: DashMap<String, Checkout>,
}

impl Wallets {
    pub(super) fn new(members: impl Iterator<Item = (MemberId, CustomerId)>) -> Wallets {
        Wallets {
            members: members.collect(),
            ..Wallets::default()
        }
    }
}

fn token(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}

fn login_failed() -> EngineError {
    EngineError::refusal(
        RefusalCode::LoginFailed,
        "the member ID or password is wrong",
    )
}

/// Hashes a login password with argon2id and a fresh salt (off the shard's thread).
async fn hash(password: String) -> Result<String, EngineError> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| EngineError::Internal(format!("a password's salt: {e}")))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| EngineError::Internal(format!("a password's hash: {e}")))
    })
    .await
    .map_err(|e| EngineError::Internal(format!("the hashing task: {e}")))?
}

/// Whether `password` is the one `phc` was made from (off the shard's thread).
async fn verify(password: String, phc: String) -> Result<bool, EngineError> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let parsed = PasswordHash::new(&phc)
            .map_err(|e| EngineError::Internal(format!("a stored password hash: {e}")))?;
        Ok(argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| EngineError::Internal(format!("the hashing task: {e}")))?
}

impl Engine {
    /// Registers a member for a customer (a1, as far as built: the operator registers
    /// the customer's member ID and login password; identity checks are the host's).
    pub async fn create_member(
        &self,
        id: MemberId,
        password: &str,
        customer: CustomerId,
    ) -> Result<Member, EngineError> {
        let text = Member::password_text(password).map_err(|e| {
            EngineError::refusal(RefusalCode::InvalidRequest, format!("password: {e}"))
        })?;
        if self.inner.wallets.members.contains_key(&id) {
            return Err(EngineError::refusal(
                RefusalCode::InvalidState,
                format!("member {id} exists"),
            ));
        }
        let member = Member {
            id,
            customer,
            password_hash: hash(text).await?,
            failed_logins: 0,
            status: MemberStatus::Active,
            created_at_ms: self.now_ms(),
        };
        let shard = self.shard_of(customer);
        self.ask(shard, |reply| SetMember {
            member: member.clone(),
            over: None,
            reply,
        })
        .await?;
        self.inner.wallets.members.insert(id, customer);
        Ok(member)
    }

    /// A member and its version, from its customer's shard.
    async fn member_on_record(&self, id: MemberId) -> Result<Option<(u32, Member)>, EngineError> {
        let Some(customer) = self.inner.wallets.members.get(&id).map(|c| *c) else {
            return Ok(None);
        };
        self.ask(self.shard_of(customer), |reply| MemberQuery { id, reply })
            .await
    }

    /// b4: a wallet session for the member's ID and password.
    pub async fn login(&self, id: MemberId, password: &str) -> Result<WalletSession, EngineError> {
        let Some((version, member)) = self.member_on_record(id).await? else {
            return Err(login_failed());
        };
        if member.status == MemberStatus::Locked {
            return Err(EngineError::refusal(
                RefusalCode::MemberLocked,
                format!("member {id} is locked after five failed logins"),
            ));
        }
        let right = match Member::password_text(password) {
            Ok(text) => verify(text, member.password_hash.clone()).await?,
            Err(_) => false,
        };
        let after = member.after_login(right);
        if after != member {
            self.ask(self.shard_of(member.customer), |reply| SetMember {
                member: after.clone(),
                over: Some(version),
                reply,
            })
            .await?;
        }
        if !right {
            return Err(if after.status == MemberStatus::Locked {
                EngineError::refusal(
                    RefusalCode::MemberLocked,
                    format!("member {id} is locked after five failed logins"),
                )
            } else {
                login_failed()
            });
        }
        let now = self.now_ms();
        let p = &self.inner.config.payments;
        let sessions = &self.inner.wallets.sessions;
        if sessions.len() >= p.sessions_max as usize {
            sessions.retain(|_, s| s.expires_at_ms > now);
            if sessions.len() >= p.sessions_max as usize {
                return Err(EngineError::Overloaded(Bound::Sessions));
            }
        }
        let session = WalletSession {
            token: token("ws"),
            member: id,
            customer: member.customer,
            expires_at_ms: now + p.session_ttl_ms,
        };
        sessions.insert(session.token.clone(), session.clone());
        Ok(session)
    }

    /// b5 (D-5.17): a checkout of `amount_krw` at `merchant`, confirmed with the password
    /// of the member's card `card` (its first active card when `None`).
    pub async fn checkout(
        &self,
        session: &str,
        merchant: MerchantId,
        amount_krw: u64,
        card: Option<CardSeq>,
        password: SecretText,
    ) -> Result<Checkout, EngineError> {
        let now = self.now_ms();
        let session = self
            .inner
            .wallets
            .sessions
            .get(session)
            .map(|s| s.clone())
            .filter(|s| s.expires_at_ms > now)
            .ok_or_else(|| {
                EngineError::refusal(
                    RefusalCode::NotFound,
                    "no such session, or it expired: log in again",
                )
            })?;
        let entry = self.merchant(merchant).ok_or_else(|| {
            EngineError::refusal(RefusalCode::NotFound, format!("no merchant {merchant}"))
        })?;
        if amount_krw == 0 {
            return Err(EngineError::refusal(
                RefusalCode::InvalidRequest,
                "amount_krw: must be positive",
            ));
        }
        // D-5.9: the card the member picks, or the default card (the first issued).
        let seq = card.unwrap_or(CardSeq(1));
        let card = CardId {
            customer: session.customer,
            seq,
        };
        let verdict = self
            .confirm_card(card, &entry, amount_krw, password, now)
            .await?;
        if let Some(code) = verdict {
            let refusal = match code {
                DeclineCode::WrongSecret => RefusalCode::WrongSecret,
                DeclineCode::Locked => RefusalCode::Locked,
                DeclineCode::OwnerNotTradable => RefusalCode::OwnerNotTradable,
                DeclineCode::InvalidCredential => RefusalCode::NotFound,
                _ => RefusalCode::InvalidState,
            };
            return Err(EngineError::refusal(
                refusal,
                format!("the checkout is refused: {code} (card {card})"),
            ));
        }
        let p = &self.inner.config.payments;
        let checkouts = &self.inner.wallets.checkouts;
        if checkouts.len() >= p.checkouts_max as usize {
            checkouts.retain(|_, c| c.expires_at_ms > now);
            if checkouts.len() >= p.checkouts_max as usize {
                return Err(EngineError::Overloaded(Bound::Checkouts));
            }
        }
        let checkout = Checkout {
            checkout_id: token("co"),
            member: session.member,
            card,
            merchant,
            amount_krw,
            expires_at_ms: now + p.checkout_ttl_ms,
        };
        checkouts.insert(checkout.checkout_id.clone(), checkout.clone());
        Ok(checkout)
    }

    /// A checkout for a merchant's payment of `amount_krw`, used up by taking it; `None`
    /// when there is none (unknown, used, expired) or it is another merchant's or amount.
    pub(super) fn take_checkout(
        &self,
        checkout_id: &str,
        merchant: MerchantId,
        amount_krw: u64,
    ) -> Option<Checkout> {
        let now = self.now_ms();
        self.inner
            .wallets
            .checkouts
            .remove_if(checkout_id, |_, c| {
                c.merchant == merchant && c.amount_krw == amount_krw && c.expires_at_ms > now
            })
            .map(|(_, c)| c)
    }
}
