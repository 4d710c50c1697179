//! `omnibus-bench wal` (to be written).

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), String> {
    Err("the wal benchmark is not written yet".into())
}
