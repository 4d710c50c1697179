//! The `omnibus` binary as a person runs it.

use std::process::Command;

fn omnibus(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .args(args)
        .output()
        .expect("run omnibus");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_subcommands() {
    let (code, stdout, _) = omnibus(&["--help"]);
    assert_eq!(code, 0);
    for sub in ["serve", "load", "wal"] {
        assert!(stdout.contains(sub), "--help lacks {sub}:\n{stdout}");
    }
}

fn refused(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, config).unwrap();
    let (code, _, stderr) = omnibus(&["serve", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    stderr
}

#[test]
fn a_config_with_an_unknown_key_is_refused_naming_it() {
    let stderr = refused("[engine]\nbogus = 1\n");
    assert!(
        stderr.contains("config key `engine.bogus`: unknown field"),
        "{stderr}"
    );
}

#[test]
fn a_config_with_a_negative_usage_limit_is_refused_naming_it() {
    let stderr = refused("[engine]\nusage_limit = -5\n");
    assert!(
        stderr.contains("config key `engine.usage_limit`: must be greater than 0, got -5"),
        "{stderr}"
    );
}

mod support;

/// An engine data directory with a few customers and postings in it.
fn data_dir_with_records() -> tempfile::TempDir {
    use omnibus_core::AccountId;
    let dir = tempfile::tempdir().unwrap();
    let engine = support::start(dir.path(), 2, "");
    futures::executor::block_on(async {
        for n in 1..=5 {
            engine.open_customer(support::opened(n)).await.unwrap();
            engine
                .post(
                    support::FIN_PARENT,
                    AccountId::customer(support::customer(n)),
                    support::krw(1_000),
                )
                .await
                .unwrap();
        }
    });
    engine.shutdown().unwrap();
    dir
}

#[test]
fn wal_verify_checks_every_shard_log_and_wal_dump_prints_one_line_per_record() {
    let dir = data_dir_with_records();
    let path = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = omnibus(&["wal", "verify", path]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("shard-") && l.contains("records"))
            .count(),
        2,
        "{stdout}"
    );
    let (code, stdout, stderr) = omnibus(&["wal", "dump", path]);
    assert_eq!(code, 0, "{stderr}");
    let records: Vec<&str> = stdout.lines().filter(|l| l.starts_with("lsn=")).collect();
    // Two genesis records, five openings, five postings.
    assert_eq!(records.len(), 12, "{stdout}");
    assert_eq!(
        records.iter().filter(|l| l.contains("Posted")).count(),
        5,
        "{stdout}"
    );
    assert_eq!(
        records
            .iter()
            .filter(|l| l.contains("CustomerOpened"))
            .count(),
        5,
        "{stdout}"
    );
}

#[test]
fn wal_verify_names_the_file_and_offset_of_damage_in_the_middle() {
    let dir = data_dir_with_records();
    let shard = dir.path().join("shard-000");
    let segment = std::fs::read_dir(&shard)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "wal"))
        .unwrap();
    // Flip a byte inside the first frame's payload; later frames stay valid, so this is
    // damage in the middle, not a torn tail.
    let mut bytes = std::fs::read(&segment).unwrap();
    let first_frame_payload = 64 + 40 + 4;
    bytes[first_frame_payload] ^= 0x40;
    std::fs::write(&segment, &bytes).unwrap();
    let (code, stdout, stderr) = omnibus(&["wal", "verify", dir.path().to_str().unwrap()]);
    assert_ne!(code, 0, "{stdout}");
    let name = segment.file_name().unwrap().to_str().unwrap();
    assert!(
        stdout.contains(name) && stdout.contains("offset"),
        "{stdout}{stderr}"
    );
}
