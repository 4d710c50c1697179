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
