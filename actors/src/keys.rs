//! The payments layer's server secrets (INSTRUMENTS.md D-0.3), read from a key file at
//! start: never from the write-ahead log, a snapshot or the archive, which hold only key
//! ids and MACs.
//!
//! The file (`payments.keys_file`; by default `<wal.dir>/keys.toml`, made with fresh
//! random keys on the first start) is TOML, one table per purpose:
//!
//! ```toml
//! [pin_key]          # seals PINs, card passwords, activation codes
//! current = 2        # the key that seals; the others still check
//! keys = { 1 = "<64 hex digits>", 2 = "<64 hex digits>" }
//! [index_key]        # indexes card and token numbers
//! current = 1
//! keys = { 1 = "<64 hex digits>" }
//! [data_key]         # encrypts full numbers
//! current = 1
//! keys = { 1 = "<64 hex digits>" }
//! ```
//!
//! Rotation: add a key under a new id and make it `current`; a MAC under the older key is
//! resealed at its next right check; remove the old key once nothing uses it. The file
//! must be readable by its owner only: one readable by group or others is refused, as ssh
//! refuses a private key.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use omnibus_core::payments::secret::{KeyId, KeyRing, SecretKey};
use omnibus_core::Config;
use rand::RngCore;
use serde::Deserialize;
use thiserror::Error;

/// The key file's name under the data directory when `payments.keys_file` is empty.
pub const DEFAULT_FILE: &str = "keys.toml";

/// The three key rings of D-0.3.
#[derive(Clone, Debug)]
pub struct PaymentKeys {
    /// Seals short secrets.
    pub pin: KeyRing,
    /// Indexes numbers.
    pub index: KeyRing,
    /// Encrypts full numbers.
    pub data: KeyRing,
}

/// Why the key file could not be used. Never carries a key.
#[derive(Debug, Error)]
pub enum KeysError {
    #[error("payments key file {path}: {what}")]
    File { path: String, what: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RingFile {
    current: KeyId,
    keys: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    pin_key: RingFile,
    index_key: RingFile,
    data_key: RingFile,
}

/// Where the key file is for `config`.
pub fn keys_path(config: &Config) -> PathBuf {
    if config.payments.keys_file.is_empty() {
        Path::new(&config.wal.dir).join(DEFAULT_FILE)
    } else {
        PathBuf::from(&config.payments.keys_file)
    }
}

/// Reads the key file, or, when it is the default one and does not exist yet, makes it
/// with fresh random keys (readable by its owner only). Answers the keys, the file, and
/// whether it was made now. A named file that does not exist is an error: a production
/// key file that went missing must not be replaced by new keys silently.
pub fn load_or_create(config: &Config) -> Result<(PaymentKeys, PathBuf, bool), KeysError> {
    let path = keys_path(config);
    let err = |what: String| KeysError::File {
        path: path.display().to_string(),
        what,
    };
    let created = match std::fs::symlink_metadata(&path) {
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !config.payments.keys_file.is_empty() {
                return Err(err(
                    "does not exist; create it (docs/payments.md) or leave payments.keys_file empty for one made in the data directory".into(),
                ));
            }
            create(&path).map_err(|e| err(format!("cannot create: {e}")))?;
            true
        }
        Err(e) => return Err(err(format!("cannot read: {e}"))),
    };
    check_private(&path).map_err(err)?;
    let text = std::fs::read_to_string(&path).map_err(|e| err(format!("cannot read: {e}")))?;
    let keys = parse(&text).map_err(err)?;
    Ok((keys, path, created))
}

/// Refuses a file that group or others may read or write.
fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("cannot read: {e}"))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "is readable or writable by group or others (mode {:o}); make it 0600",
                mode & 0o777
            ));
        }
    }
    Ok(())
}

/// The keys a file's text holds.
pub fn parse(text: &str) -> Result<PaymentKeys, String> {
    let file: KeysFile = toml::from_str(text).map_err(|e| {
        // The parser's message may quote the line, and the line may hold a key: name the
        // place only.
        match e.span() {
            Some(span) => format!("not a valid key file (at byte {})", span.start),
            None => "not a valid key file".into(),
        }
    })?;
    Ok(PaymentKeys {
        pin: ring("pin_key", file.pin_key)?,
        index: ring("index_key", file.index_key)?,
        data: ring("data_key", file.data_key)?,
    })
}

fn ring(purpose: &str, file: RingFile) -> Result<KeyRing, String> {
    let mut current = None;
    let mut older = Vec::new();
    for (kid, hex) in file.keys {
        let kid: KeyId = kid.parse().map_err(|_| {
            format!("{purpose}.keys: key id {kid:?} is not a number from 0 to 65535")
        })?;
        let bytes = key_bytes(&hex).ok_or_else(|| {
            format!("{purpose}.keys.{kid}: must be 64 hexadecimal digits (32 bytes)")
        })?;
        let key = SecretKey::new(kid, bytes);
        if kid == file.current {
            current = Some(key);
        } else {
            older.push(key);
        }
    }
    let current = current.ok_or_else(|| {
        format!(
            "{purpose}.current is {}, which is not among its keys",
            file.current
        )
    })?;
    KeyRing::new(current, older).map_err(|e| format!("{purpose}: {e}"))
}

fn key_bytes(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        out[i] = (high * 16 + low) as u8;
    }
    Some(out)
}

/// Writes a new key file with one random key per purpose, readable by its owner only,
/// synced with its directory before it is used.
fn create(path: &Path) -> std::io::Result<()> {
    let mut rng = rand::rng();
    let mut text = String::from(
        "# The payments layer's server secrets (INSTRUMENTS.md D-0.3), made by omnibus on its\n\
         # first start. Keep this file apart from the data's backups; docs/payments.md says\n\
         # how to rotate a key.\n",
    );
    for purpose in ["pin_key", "index_key", "data_key"] {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        text.push_str(&format!(
            "[{purpose}]\ncurrent = 1\nkeys = {{ 1 = \"{hex}\" }}\n"
        ));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use omnibus_core::payments::secret::{PinVerifier, SecretCheck};

    use super::*;

    const A: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    const B: &str = "0202020202020202020202020202020202020202020202020202020202020202";

    fn file(pin: &str) -> String {
        format!("[pin_key]\n{pin}\n[index_key]\ncurrent = 1\nkeys = {{ 1 = \"{A}\" }}\n[data_key]\ncurrent = 1\nkeys = {{ 1 = \"{A}\" }}\n")
    }

    #[test]
    fn a_rotated_pin_key_seals_with_the_current_id_and_still_checks_the_older_one() {
        let before = parse(&file(&format!("current = 1\nkeys = {{ 1 = \"{A}\" }}"))).unwrap();
        let sealed = before.pin.seal(b"card-1", b"4827");
        let after = parse(&file(&format!(
            "current = 2\nkeys = {{ 1 = \"{A}\", 2 = \"{B}\" }}"
        )))
        .unwrap();
        assert_eq!(after.pin.current_kid(), 2);
        assert!(matches!(
            after.pin.check(&sealed, b"card-1", b"4827"),
            SecretCheck::Right { resealed: Some(_) }
        ));
    }

    #[test]
    fn a_malformed_key_file_is_refused_without_quoting_a_key() {
        let short = parse(&file("current = 1\nkeys = { 1 = \"0102\" }")).unwrap_err();
        assert!(
            short.contains("pin_key.keys.1: must be 64 hexadecimal digits"),
            "{short}"
        );
        let missing = parse(&file(&format!("current = 3\nkeys = {{ 1 = \"{A}\" }}"))).unwrap_err();
        assert!(missing.contains("pin_key.current is 3"), "{missing}");
        let broken = parse(&format!("[pin_key]\ncurrent = 1\nkeys = {{ 1 = \"{A}\" ")).unwrap_err();
        assert!(!broken.contains(A), "no key in the message: {broken}");
        let unknown = parse(&format!(
            "{}\n[other]\nx = 1\n",
            file(&format!("current = 1\nkeys = {{ 1 = \"{A}\" }}"))
        ))
        .unwrap_err();
        assert!(unknown.starts_with("not a valid key file"), "{unknown}");
    }
}
