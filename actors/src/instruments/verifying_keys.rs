//! Customers' public keys kept decoded, so that checking a signed payment instruction
//! (S2-S7) does not decompress the key's curve point every time.
//!
//! Bounded by `signing.verifying_keys_cached_max` per shard. When full, an arbitrary key
//! is dropped for the new one: the keys of customers who sign often come back at once,
//! and a miss only costs the decoding it saves. Keyed by the public key itself, so a
//! customer's new key never finds the old one's entry. Written here rather than taken
//! from an LRU crate: one map on one thread with a bound is all it needs.

use std::cell::RefCell;
use std::collections::HashMap;

use omnibus_core::signing::{decode_key, verify_with, DecodedKey, SigningError};

pub struct VerifyingKeys {
    keys: RefCell<HashMap<[u8; 32], DecodedKey>>,
    max: usize,
}

impl VerifyingKeys {
    pub fn new(max: usize) -> Self {
        Self {
            keys: RefCell::new(HashMap::new()),
            max: max.max(1),
        }
    }

    /// `signing::verify_signature`, with the key decoded once while it stays cached.
    pub fn verify(
        &self,
        text: &str,
        signature: &[u8; 64],
        public_key: &[u8; 32],
        cert_serial: u64,
    ) -> Result<(), SigningError> {
        let mut keys = self.keys.borrow_mut();
        if let Some(key) = keys.get(public_key) {
            return verify_with(text, signature, key, cert_serial);
        }
        let key = decode_key(public_key, cert_serial)?;
        let verified = verify_with(text, signature, &key, cert_serial);
        if keys.len() >= self.max {
            let any = *keys.keys().next().expect("a full map has a key");
            keys.remove(&any);
        }
        keys.insert(*public_key, key);
        verified
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys.borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnibus_core::signing::verify_signature;

    /// Keys of `ed25519_dalek::SigningKey::from_bytes([n; 32])`, and their signatures.
    fn key_and_signature(n: u8, text: &str) -> ([u8; 32], [u8; 64]) {
        use ed25519_dalek::Signer;
        let signing = ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
        (
            signing.verifying_key().to_bytes(),
            signing.sign(text.as_bytes()).to_bytes(),
        )
    }

    #[test]
    fn a_cached_key_checks_signatures_exactly_as_the_uncached_check_does() {
        let cache = VerifyingKeys::new(2);
        for n in 1..=5u8 {
            let (public, signature) = key_and_signature(n, "text");
            let (_, other) = key_and_signature(n, "altered");
            for _ in 0..2 {
                assert_eq!(
                    cache.verify("text", &signature, &public, 1),
                    verify_signature("text", &signature, &public, 1)
                );
                assert!(cache.verify("text", &signature, &public, 1).is_ok());
                assert_eq!(
                    cache.verify("text", &other, &public, 1),
                    verify_signature("text", &other, &public, 1)
                );
                assert!(cache.verify("text", &other, &public, 1).is_err());
            }
            assert!(cache.len() <= 2, "bounded: {}", cache.len());
        }
    }

    #[test]
    fn a_key_that_is_no_curve_point_is_refused_and_not_kept() {
        let cache = VerifyingKeys::new(4);
        // y = 2 has no x on the curve: not a point.
        let mut bad = [0u8; 32];
        bad[0] = 2;
        let err = cache.verify("text", &[0; 64], &bad, 9).unwrap_err();
        assert_eq!(
            err,
            verify_signature("text", &[0; 64], &bad, 9).unwrap_err()
        );
        assert_eq!(cache.len(), 0);
    }
}
