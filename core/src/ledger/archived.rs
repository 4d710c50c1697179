//! A settled request as the archive keeps it (issue 13): what `GET /v1/requests/{no}` and
//! an idempotent resubmission need, its acceptance, its answer and its final entries,
//! encoded with rkyv behind a version byte. Its key is its request number, then whether
//! it is the house's (customers' numbers are unique engine-wide; the house numbers its own
//! requests apart).

use super::{Accepted, Answer, LogEntry, RequestState};
use crate::ids::RequestNo;
use crate::instruments;

/// The archive's key width: the request number's 32 bytes, then 1 for the house's own.
pub const ARCHIVE_KEY_BYTES: usize = RequestNo::MAX_BYTES + 1;

/// The version of [`encode_settled`]'s bytes.
pub const ARCHIVED_VERSION: u8 = 1;

/// A settled request, out of memory.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct SettledRequest {
    pub accepted: Accepted,
    pub answer: Option<Answer>,
    pub entries: Vec<LogEntry>,
}

/// The archive key of a request: its number, zero-padded, then 1 if it is the house's.
pub fn archive_key(request_no: RequestNo, house: bool) -> [u8; ARCHIVE_KEY_BYTES] {
    let mut key = [0u8; ARCHIVE_KEY_BYTES];
    let text = request_no.as_str().as_bytes();
    key[..text.len()].copy_from_slice(text);
    key[RequestNo::MAX_BYTES] = u8::from(house);
    key
}

/// The key of a request the books hold.
pub fn archive_key_of(request: &RequestState) -> [u8; ARCHIVE_KEY_BYTES] {
    archive_key(
        request.accepted.request_no,
        instruments::of(request.accepted.kind).is_house(),
    )
}

/// The archive's bytes of a settled request with its entries.
pub fn encode_settled(request: &RequestState, entries: Vec<LogEntry>) -> Vec<u8> {
    let settled = SettledRequest {
        accepted: request.accepted,
        answer: request.answer,
        entries,
    };
    let body = rkyv::to_bytes::<rkyv::rancor::Error>(&settled).expect("a settled request encodes");
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(ARCHIVED_VERSION);
    out.extend_from_slice(&body);
    out
}

/// Reads back [`encode_settled`]'s bytes.
pub fn decode_settled(bytes: &[u8]) -> Result<SettledRequest, String> {
    match bytes.split_first() {
        Some((&ARCHIVED_VERSION, body)) => {
            // The body follows a one-byte prefix: copy it to aligned memory first.
            let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(body.len());
            aligned.extend_from_slice(body);
            rkyv::from_bytes::<SettledRequest, rkyv::rancor::Error>(&aligned)
                .map_err(|e| format!("an archived request does not decode: {e}"))
        }
        Some((version, _)) => Err(format!(
            "an archived request of version {version}; this build reads {ARCHIVED_VERSION}"
        )),
        None => Err("an empty archived request".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CustomerId;
    use crate::ledger::fixtures::krw;
    use crate::ledger::{Reason, RequestKind};
    use crate::request::RequestDate;
    use crate::request_log::{Step, Told};

    #[test]
    fn a_settled_request_reads_back_as_written_and_other_versions_are_refused() {
        let accepted = Accepted {
            customer: CustomerId::new(42).unwrap(),
            request_no: RequestNo::new("CHG-1").unwrap(),
            request_date: RequestDate::from_ymd(2026, 11, 30).unwrap(),
            kind: RequestKind::Charge,
            amount: krw(30_000),
            payee: None,
            path: None,
            deficit: None,
            at_ms: 7,
        };
        let request = RequestState {
            accepted,
            answer: Some(Answer {
                told: Told::Succeeded,
                decided_by: Step::ChargeCredit,
                timed_out: false,
                at_ms: 9,
                reason: Reason::NotCarriedOut,
            }),
            entries: Vec::new(),
            reserved: None,
        };
        let bytes = encode_settled(&request, Vec::new());
        let back = decode_settled(&bytes).unwrap();
        assert_eq!(
            (back.accepted, back.answer),
            (request.accepted, request.answer)
        );
        let mut other = bytes.clone();
        other[0] = 2;
        assert!(decode_settled(&other).unwrap_err().contains("version 2"));
        let key = archive_key(accepted.request_no, false);
        assert_eq!(&key[..5], b"CHG-1");
        assert_ne!(key, archive_key(accepted.request_no, true));
    }
}
