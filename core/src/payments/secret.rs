//! Short secrets and card numbers under keyed hashes (INSTRUMENTS.md D-0.3).
//!
//! - A short secret (a division PIN, a card password, an activation code) is stored as
//!   `HMAC-SHA-256(pin_key[kid], instrument_id ‖ secret)` with the key id beside it
//!   ([`StoredSecret`]), and checked in constant time. A 4- or 6-digit secret has too few
//!   values for any hash to protect it: what protects it is the key, kept outside the WAL,
//!   the snapshots and the archive, and the attempt counter with its lock
//!   ([`crate::payments::controls::Counters::failed_secret_count`]).
//! - A number (division, card, token) is looked up by `HMAC-SHA-256(index_key[kid],
//!   number)`, deterministic and never salted ([`CredentialIndex`]).
//! - Rotation: a new key id becomes current; a MAC under an older key is resealed under
//!   the current one at its next right check ([`SecretCheck::Right::resealed`]); a MAC
//!   under a key no longer in the ring cannot be checked ([`SecretCheck::KeyRetired`]), and
//!   its secret must be set again.
//!
//! The check is behind [`PinVerifier`], so that an HSM can replace the software keys.
//! This module computes; it never reads a key file (the binary does) and never logs.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The id of a key in a ring; stored beside every MAC made with it.
pub type KeyId = u16;

/// A server secret of 32 bytes. Its `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    kid: KeyId,
    bytes: [u8; 32],
}

impl SecretKey {
    pub const fn new(kid: KeyId, bytes: [u8; 32]) -> Self {
        Self { kid, bytes }
    }

    pub const fn kid(&self) -> KeyId {
        self.kid
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.bytes).expect("HMAC takes a key of any length")
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey {{ kid: {}, .. }}", self.kid)
    }
}

/// The keys of one purpose (`pin_key` or `index_key`): the current one, which seals, and
/// older ones still accepted for checking.
#[derive(Clone, Debug)]
pub struct KeyRing {
    current: SecretKey,
    older: Vec<SecretKey>,
}

/// A ring that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    #[error("key id {0} appears twice in the ring")]
    DuplicateKid(KeyId),
}

/// A short secret as stored: the key id and the MAC. Never the secret.
#[derive(Clone, Copy, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct StoredSecret {
    pub kid: KeyId,
    pub mac: [u8; 32],
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoredSecret {{ kid: {}, .. }}", self.kid)
    }
}

/// What a check of a typed secret found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretCheck {
    /// The secret is right. `resealed` is the MAC under the current key when the stored
    /// one was made under an older key: store it in place of the old one.
    Right {
        resealed: Option<StoredSecret>,
    },
    Wrong,
    /// The stored MAC was made under a key no longer in the ring: the secret must be set
    /// again. Not a wrong attempt.
    KeyRetired,
}

/// What the fixed order of checks (§6.2 step 3) makes of a check: a key retired since the
/// secret was sealed makes it unusable, declined but not counted as a wrong try.
impl From<SecretCheck> for super::controls::Secret {
    fn from(check: SecretCheck) -> Self {
        match check {
            SecretCheck::Right { .. } => Self::Right,
            SecretCheck::Wrong => Self::Wrong,
            SecretCheck::KeyRetired => Self::Unusable,
        }
    }
}

/// The lookup key of a number in the credential index (§6.2): the key id and the MAC.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct CredentialIndex {
    pub kid: KeyId,
    pub mac: [u8; 32],
}

impl fmt::Debug for CredentialIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CredentialIndex {{ kid: {}, mac: {:02x}{:02x}{:02x}{:02x}.. }}",
            self.kid, self.mac[0], self.mac[1], self.mac[2], self.mac[3]
        )
    }
}

/// Checks short secrets: the software [`KeyRing`] here, an HSM later.
pub trait PinVerifier: Send + Sync {
    /// The stored form of a new secret of an instrument, under the current key.
    fn seal(&self, instrument_id: &[u8], secret: &[u8]) -> StoredSecret;
    /// Whether `secret` is the one `stored` was sealed from, in constant time.
    fn check(&self, stored: &StoredSecret, instrument_id: &[u8], secret: &[u8]) -> SecretCheck;
}

impl KeyRing {
    pub fn new(current: SecretKey, older: Vec<SecretKey>) -> Result<Self, KeyRingError> {
        let mut kids: Vec<KeyId> = older.iter().map(SecretKey::kid).collect();
        kids.push(current.kid);
        kids.sort_unstable();
        if let Some(w) = kids.windows(2).find(|w| w[0] == w[1]) {
            return Err(KeyRingError::DuplicateKid(w[0]));
        }
        Ok(Self { current, older })
    }

    pub fn current_kid(&self) -> KeyId {
        self.current.kid
    }

    fn key(&self, kid: KeyId) -> Option<&SecretKey> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| k.kid == kid)
    }

    /// The MAC of `instrument_id ‖ secret` under `key`. The instrument id goes first with
    /// its length, so that no two (id, secret) pairs give the same input.
    fn secret_mac(key: &SecretKey, instrument_id: &[u8], secret: &[u8]) -> HmacSha256 {
        let mut mac = key.mac();
        mac.update(&(instrument_id.len() as u32).to_be_bytes());
        mac.update(instrument_id);
        mac.update(secret);
        mac
    }

    /// The index key of a number under the current key (numbers are indexed, not sealed:
    /// no instrument id, so that the number alone finds its instrument).
    pub fn index(&self, number: &[u8]) -> CredentialIndex {
        let mut mac = self.current.mac();
        mac.update(number);
        CredentialIndex {
            kid: self.current.kid,
            mac: mac.finalize().into_bytes().into(),
        }
    }
}

/// A full number encrypted under `data_key[kid]` (D-0.3): ChaCha20-Poly1305 (RustCrypto's
/// `chacha20poly1305`), the nonce given by the caller, unique per key (an instrument's own
/// id), the instrument's id as associated data, so that a sealed number copied onto another
/// instrument does not open.
#[derive(Clone, Copy, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct SealedNumber {
    pub kid: KeyId,
    /// The 16 digits, encrypted, then the 16-byte tag.
    pub sealed: [u8; 32],
}

impl fmt::Debug for SealedNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedNumber {{ kid: {}, .. }}", self.kid)
    }
}

impl KeyRing {
    /// The secret of API key `id` under this ring's key `kid` (`api_key.rs`); `None` when
    /// the ring no longer holds `kid`, and so the key signs nothing.
    pub fn api_secret(
        &self,
        kid: KeyId,
        id: super::api_key::ApiKeyId,
    ) -> Option<super::api_key::ApiSecret> {
        use super::api_key::{derivation_key, derive_secret};
        self.key(kid)
            .map(|k| derive_secret(&derivation_key(&k.bytes), id))
    }
}

impl KeyRing {
    fn cipher(key: &SecretKey) -> chacha20poly1305::ChaCha20Poly1305 {
        use chacha20poly1305::KeyInit;
        chacha20poly1305::ChaCha20Poly1305::new(&key.bytes.into())
    }

    /// Encrypts a 16-digit number under the current key. `nonce` must never be used twice
    /// under one key: the instrument's id (each instrument is sealed once per key).
    pub fn seal_number(
        &self,
        nonce: [u8; 12],
        instrument_id: &[u8],
        number: &[u8; 16],
    ) -> SealedNumber {
        use chacha20poly1305::aead::{Aead, Payload};
        let out = Self::cipher(&self.current)
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: number,
                    aad: instrument_id,
                },
            )
            .expect("sixteen bytes always encrypt");
        let mut sealed = [0u8; 32];
        sealed.copy_from_slice(&out);
        SealedNumber {
            kid: self.current.kid,
            sealed,
        }
    }

    /// The number a [`SealedNumber`] holds; `None` when its key is no longer in the ring or
    /// it was not sealed for this instrument.
    pub fn open_number(
        &self,
        sealed: &SealedNumber,
        nonce: [u8; 12],
        instrument_id: &[u8],
    ) -> Option<[u8; 16]> {
        use chacha20poly1305::aead::{Aead, Payload};
        let key = self.key(sealed.kid)?;
        let plain = Self::cipher(key)
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: &sealed.sealed,
                    aad: instrument_id,
                },
            )
            .ok()?;
        plain.try_into().ok()
    }
}

impl PinVerifier for KeyRing {
    fn seal(&self, instrument_id: &[u8], secret: &[u8]) -> StoredSecret {
        StoredSecret {
            kid: self.current.kid,
            mac: Self::secret_mac(&self.current, instrument_id, secret)
                .finalize()
                .into_bytes()
                .into(),
        }
    }

    fn check(&self, stored: &StoredSecret, instrument_id: &[u8], secret: &[u8]) -> SecretCheck {
        let Some(key) = self.key(stored.kid) else {
            return SecretCheck::KeyRetired;
        };
        // `verify_slice` compares in constant time.
        if Self::secret_mac(key, instrument_id, secret)
            .verify_slice(&stored.mac)
            .is_err()
        {
            return SecretCheck::Wrong;
        }
        let resealed = (stored.kid != self.current.kid).then(|| self.seal(instrument_id, secret));
        SecretCheck::Right { resealed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(current: KeyId, older: &[KeyId]) -> KeyRing {
        let key = |kid: KeyId| SecretKey::new(kid, [kid as u8; 32]);
        KeyRing::new(key(current), older.iter().map(|k| key(*k)).collect()).unwrap()
    }

    #[test]
    fn a_secret_is_stored_as_a_keyed_mac_and_checked_against_it() {
        let pins = ring(1, &[]);
        let stored = pins.seal(b"card-1", b"4827");
        assert_eq!(stored.kid, 1);
        assert_ne!(&stored.mac[..4], b"4827");
        assert_eq!(
            pins.check(&stored, b"card-1", b"4827"),
            SecretCheck::Right { resealed: None }
        );
        assert_eq!(pins.check(&stored, b"card-1", b"4828"), SecretCheck::Wrong);
        // The same secret of another instrument is another MAC, and does not open this one.
        assert_ne!(pins.seal(b"card-2", b"4827"), stored);
        assert_eq!(pins.check(&stored, b"card-2", b"4827"), SecretCheck::Wrong);
        // The id's length is in the MAC: ("card-1", "4827") is not ("card-14", "827").
        assert_eq!(pins.check(&stored, b"card-14", b"827"), SecretCheck::Wrong);
        assert!(!format!("{stored:?}").contains("mac"), "Debug shows no MAC");
    }

    #[test]
    fn a_mac_under_an_older_key_is_resealed_under_the_current_one_at_its_next_right_check() {
        let old = ring(1, &[]);
        let stored = old.seal(b"div-7", b"123456");
        let rotated = ring(2, &[1]);
        let SecretCheck::Right {
            resealed: Some(new),
        } = rotated.check(&stored, b"div-7", b"123456")
        else {
            panic!("right, and resealed");
        };
        assert_eq!(new.kid, 2);
        assert_eq!(
            rotated.check(&new, b"div-7", b"123456"),
            SecretCheck::Right { resealed: None }
        );
        assert_eq!(
            rotated.check(&stored, b"div-7", b"000000"),
            SecretCheck::Wrong
        );
        // Key 1 retired: the old MAC can no longer be checked, and that is not a wrong try.
        let retired = ring(2, &[]);
        assert_eq!(
            retired.check(&stored, b"div-7", b"123456"),
            SecretCheck::KeyRetired
        );
    }

    #[test]
    fn a_full_number_is_sealed_under_the_data_key_and_opens_only_for_its_instrument() {
        let data = ring(1, &[]);
        let nonce = [7u8; 12];
        let sealed = data.seal_number(nonce, b"pc_1_1", b"9421000000000018");
        assert!(!sealed.sealed.windows(4).any(|w| w == b"0018"));
        assert_eq!(
            data.open_number(&sealed, nonce, b"pc_1_1"),
            Some(*b"9421000000000018")
        );
        assert_eq!(
            data.open_number(&sealed, nonce, b"pc_1_2"),
            None,
            "another card"
        );
        assert_eq!(
            ring(2, &[]).open_number(&sealed, nonce, b"pc_1_1"),
            None,
            "key retired"
        );
        assert_eq!(
            ring(2, &[1]).open_number(&sealed, nonce, b"pc_1_1"),
            Some(*b"9421000000000018"),
            "an older key still opens"
        );
    }

    #[test]
    fn a_number_is_indexed_deterministically_and_never_salted() {
        let index = ring(3, &[]);
        let a = index.index(b"9410001234567897");
        assert_eq!(a, index.index(b"9410001234567897"));
        assert_ne!(a, index.index(b"9410001234567898"));
        assert_ne!(a, ring(4, &[]).index(b"9410001234567897"), "another key");
        assert_eq!(
            KeyRing::new(SecretKey::new(1, [0; 32]), vec![SecretKey::new(1, [1; 32])]).err(),
            Some(KeyRingError::DuplicateKid(1))
        );
    }
}
