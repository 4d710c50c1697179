//! The payments layer's server secrets (INSTRUMENTS.md D-0.3; issue 14): read from a key
//! file at start, never from the data the engine writes; made, readable by its owner
//! only, on the first start when none is named; refused when others may read it.

mod support;

use omnibus_actors::{Engine, StartError};
use omnibus_core::payments::secret::{PinVerifier, SecretCheck};
use support::*;

#[test]
fn the_first_start_makes_a_private_key_file_and_later_starts_read_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), 1, "");
    let file = dir.path().join("keys.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }
    let sealed = engine.payment_keys().pin.seal(b"card-1", b"4827");
    let indexed = engine.payment_keys().index.index(b"9410001234567897");
    engine.shutdown().unwrap();
    drop(engine);

    let engine = start(dir.path(), 1, "");
    assert_eq!(
        engine.payment_keys().pin.check(&sealed, b"card-1", b"4827"),
        SecretCheck::Right { resealed: None },
        "the same pin key"
    );
    assert_eq!(
        engine.payment_keys().index.index(b"9410001234567897"),
        indexed
    );
    engine.shutdown().unwrap();
    // The keys are nowhere in what the engine wrote: only in their own file.
    let text = std::fs::read_to_string(&file).unwrap();
    let hex_keys: Vec<&str> = text.lines().filter_map(|l| l.split('"').nth(1)).collect();
    assert_eq!(hex_keys.len(), 3);
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p != file {
                let bytes = std::fs::read(&p).unwrap();
                for hex in &hex_keys {
                    let key: Vec<u8> = (0..32)
                        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                        .collect();
                    assert!(
                        !bytes.windows(32).any(|w| w == key.as_slice()),
                        "a key's bytes in {}",
                        p.display()
                    );
                }
            }
        }
    }
}

#[test]
fn a_key_file_others_may_read_is_refused_and_so_is_a_named_file_that_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    start(dir.path(), 1, "").shutdown().unwrap();
    let file = dir.path().join("keys.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = Engine::start(config(dir.path(), 1, ""))
            .err()
            .expect("refused");
        assert!(matches!(refused, StartError::Keys(_)), "{refused}");
        assert!(refused.to_string().contains("make it 0600"), "{refused}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let missing = dir.path().join("elsewhere/keys.toml");
    let named = format!(
        "[payments]\nkeys_file = {:?}\n",
        missing.display().to_string()
    );
    let refused = Engine::start(config(dir.path(), 1, &named))
        .err()
        .expect("refused");
    assert!(refused.to_string().contains("does not exist"), "{refused}");
    assert!(!missing.exists(), "a named file is never made up");
}
