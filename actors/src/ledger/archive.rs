//! The shard's archive of settled requests (issue 13, `docs/archive.md`): the runs in
//! `<shard dir>/archive`, a thread that writes them, and lookups from any thread.
//!
//! - **Out of memory.** Every `archive.interval_ms` the shard takes the oldest settled
//!   requests above `archive.recent_max` (at most `archive.batch_max`), encodes them and
//!   hands them to the archive's writer thread, one batch at a time. Once their run is
//!   durable the shard evicts them from its books and their numbers from the engine-wide
//!   registry ([`ArchiveWriter::write`]'s callback). Until then they are answered from
//!   memory as before.
//! - **Lookups.** A request not in the books is looked up here ([`ShardArchive::get`]):
//!   the runs' filters answer "not here" from memory for a new number; a hit reads its
//!   record through the file's map. Readers never wait for the writer.
//! - **Restart.** Snapshots hold the requests in memory only; the runs are already
//!   durable, and a request a replay brings back to memory is archived again.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use omnibus_core::ledger::archived::{archive_key, SettledRequest};
use omnibus_core::ledger::archived::{decode_settled, ARCHIVE_KEY_BYTES};
use omnibus_core::{CustomerId, RequestNo};
use omnibus_wal::archive::{Archive, ArchiveOpened, RunError};
use omnibus_wal::storage::{FileStorage, Storage};

/// One settled request, encoded, with the day it was accepted on.
pub struct ArchiveRecord {
    pub day: u32,
    pub key: [u8; ARCHIVE_KEY_BYTES],
    pub value: Vec<u8>,
}

/// Called on the writer thread once a batch is durable (or failed).
pub type Written = Box<dyn FnOnce(Result<(), String>) + Send>;

enum Job {
    /// Write a batch of settled requests.
    Write {
        records: Vec<ArchiveRecord>,
        written: Written,
    },
    /// Delete every run of a day before this one: those days left the retention window.
    DropDaysBefore(u32),
}

/// A shard's archive: shared by its shard (lookups, batches) and the engine (lookups by
/// request number).
#[derive(Clone)]
pub struct ShardArchive {
    archive: Arc<Archive>,
}

impl ShardArchive {
    /// Opens (creating it) the archive in `dir`, whose runs are written at most
    /// `write_bytes_per_sec` (`wal.background_write_bytes_per_sec`).
    pub fn open(
        dir: &Path,
        write_bytes_per_sec: u64,
    ) -> Result<(ShardArchive, ArchiveOpened), RunError> {
        let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(dir));
        let (archive, opened) = Archive::open(storage, ARCHIVE_KEY_BYTES)?;
        let archive = archive.with_write_pace(write_bytes_per_sec);
        Ok((
            ShardArchive {
                archive: Arc::new(archive),
            },
            opened,
        ))
    }

    /// A customer's request, or the house's own, if the archive holds it.
    pub fn get(
        &self,
        request_no: RequestNo,
        house: bool,
    ) -> Result<Option<SettledRequest>, String> {
        // The archive's filter of every key answers a new number from memory, in one probe.
        match self
            .archive
            .get(&archive_key(request_no, house))
            .map_err(|e| e.to_string())?
        {
            Some(bytes) => decode_settled(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// A customer's request, if the archive holds it as that customer's.
    pub fn get_of(
        &self,
        customer: CustomerId,
        request_no: RequestNo,
    ) -> Result<Option<SettledRequest>, String> {
        Ok(self
            .get(request_no, false)?
            .filter(|r| r.accepted.customer == customer))
    }

    /// Every archived request (a request in two runs comes twice). Reads the whole
    /// archive: for reports, off the shard's thread.
    pub fn all(&self) -> Result<Vec<SettledRequest>, String> {
        let mut all = Vec::new();
        let mut failed = None;
        self.archive
            .for_each(|_, value| match decode_settled(value) {
                Ok(settled) => all.push(settled),
                Err(e) => failed = Some(e),
            })
            .map_err(|e| e.to_string())?;
        match failed {
            Some(e) => Err(e),
            None => Ok(all),
        }
    }

    pub fn stats(&self) -> omnibus_wal::archive::ArchiveStats {
        self.archive.stats()
    }

    /// Starts the thread that writes this archive's runs.
    pub fn writer(&self, shard: u16, run_records_max: usize) -> ArchiveWriter {
        let (jobs, rx) = crossbeam_channel::bounded::<Job>(1);
        let archive = self.archive.clone();
        let thread = std::thread::Builder::new()
            .name(format!("omnibus-archive-{shard}"))
            .spawn(move || {
                // Writing and merging runs must keep pace with the shards (at the lowest
                // CPU priority it starved under full load, and settled requests piled up
                // in memory); its disk writes are paced and in the idle I/O class.
                omnibus_wal::storage::background_io_thread();
                write_jobs(&archive, &rx, run_records_max)
            })
            .expect("the archive's writer thread starts");
        ArchiveWriter {
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }
}

fn write_jobs(archive: &Archive, jobs: &Receiver<Job>, run_records_max: usize) {
    for job in jobs {
        let (records, written) = match job {
            Job::Write { records, written } => (records, written),
            Job::DropDaysBefore(day) => {
                match archive.drop_days_before(day) {
                    Ok(0) => {}
                    Ok(records) => {
                        tracing::info!(day, records, "archived requests left the retention window")
                    }
                    Err(e) => {
                        tracing::warn!(day, error = %e, "archive days past retention could not be deleted; tried again later")
                    }
                }
                continue;
            }
        };
        let mut result = Ok(());
        let mut days: Vec<u32> = records.iter().map(|r| r.day).collect();
        days.sort_unstable();
        days.dedup();
        for day in days {
            let of_day: Vec<(&[u8], &[u8])> = records
                .iter()
                .filter(|r| r.day == day)
                .map(|r| (r.key.as_slice(), r.value.as_slice()))
                .collect();
            if let Err(e) = archive.add(day, &of_day) {
                result = Err(e.to_string());
                break;
            }
            // Keep the runs a lookup asks few: eight runs of one size tier become one of
            // the next (each record is rewritten about once per tier, log8 of the day),
            // up to `archive.run_records_max`, which bounds a merge's memory.
            loop {
                match archive.merge_tier(day, 8, run_records_max) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(day, error = %e, "archive runs could not be merged; they stay");
                        break;
                    }
                }
            }
        }
        written(result);
    }
}

/// The shard's side of the writer thread: at most one batch in flight.
pub struct ArchiveWriter {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl ArchiveWriter {
    /// Hands a batch to the writer thread; `false` (and `written` dropped uncalled) if a
    /// batch is already waiting.
    pub fn write(&self, records: Vec<ArchiveRecord>, written: Written) -> bool {
        let Some(jobs) = &self.jobs else {
            return false;
        };
        match jobs.try_send(Job::Write { records, written }) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Asks the writer thread to delete the days before `day`; `false` if it is busy.
    pub fn drop_days_before(&self, day: u32) -> bool {
        self.jobs
            .as_ref()
            .is_some_and(|jobs| jobs.try_send(Job::DropDaysBefore(day)).is_ok())
    }
}

impl Drop for ArchiveWriter {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
