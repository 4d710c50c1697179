//! The facts of the simulated banks' virtual-account systems (`va_bank.rs`) and their
//! bytes: kinds 7 to 9 of the journal's records, beside `fact.rs`'s 1 to 6.
//!
//! Offsets are of the whole 64-byte record (the payload starts at 4, after the CRC), as
//! in `fact.rs`; integers are little-endian, unused bytes zero. docs/simulator.md has the
//! same tables.
//!
//! VA opened, kind 7: one per VA a bank numbered (`open_virtual_accounts`, or
//! `number_in_real_time`).
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 5 | 3 | the bank, ASCII digits |
//! | 8 | 8 | the VA number's sequence, 1 to 10^17 − 1: the number is `<bank><seq:07>` |
//! | 16 | 1 | the partner id's length, 1 to 32 |
//! | 17 | 32 | the partner id, ASCII |
//!
//! Deposit posted, kind 8: one per deposit a bank posted (`Simulator::va_deposit`).
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 5 | 3 | the bank, ASCII digits |
//! | 8 | 8 | the transaction's sequence, from 1: its id is `T<seq:010>` |
//! | 16 | 8 | the VA's sequence, as in a VA opened record |
//! | 24 | 8 | the amount in won |
//! | 32 | 8 | `at_ms` |
//! | 40 | 1 | bytes of the depositor's name kept, 0 to 23 |
//! | 41 | 23 | the depositor's name, UTF-8: whole when it is at most 23 bytes, else its longest prefix of whole characters within 23 bytes |
//!
//! The notice's other fields are the simulator's constants (channel `internet`, no
//! depositor account), so they need no bytes.
//!
//! Real time set, kind 9: `Simulator::set_va_real_time`.
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 5 | 3 | the bank, ASCII digits |
//! | 8 | 1 | 1 on, 0 off |
//! | 16 | 8 | the setting's rank for that bank, from 0: the highest one on record holds |
//!
//! So all three replay in any order: a VA and a deposit are each their own record, the
//! counters are the highest sequences on record, and of a bank's real-time settings the
//! one with the highest rank wins.

use omnibus_core::payments::relay::PartnerId;
use omnibus_core::BankCode;

use super::journal::{Payload, PAYLOAD_BYTES};

pub(super) const VA_OPENED: u8 = 7;
pub(super) const DEPOSIT_POSTED: u8 = 8;
pub(super) const REAL_TIME_SET: u8 = 9;

/// The largest VA sequence: `<bank><seq:07>` stays within a VA number's 20 digits.
pub(super) const MAX_VA_SEQ: u64 = 10u64.pow(17) - 1;

/// Up to `N` bytes of UTF-8 text, held inline so that a fact stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Text<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> Text<N> {
    /// `text`, or its longest prefix of whole characters within `N` bytes.
    pub(super) fn prefix(text: &str) -> Self {
        let mut end = text.len().min(N);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; N];
        bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        Text {
            len: end as u8,
            bytes,
        }
    }

    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)])
            .expect("a Text holds whole characters")
    }

    /// The text of a record: `len` bytes of `bytes`, whole characters.
    fn read(len: u8, bytes: &[u8]) -> Result<Self, String> {
        let len_bytes = usize::from(len);
        if len_bytes > N {
            return Err(format!("a text of {len} bytes, more than {N}"));
        }
        let text = std::str::from_utf8(&bytes[..len_bytes])
            .map_err(|_| "a text that is not UTF-8".to_owned())?;
        Ok(Text::prefix(text))
    }
}

impl<const N: usize> std::fmt::Debug for Text<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// One thing the simulated VA banks keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum VaFact {
    /// `bank` numbered VA `seq` for `partner`.
    Opened {
        bank: BankCode,
        seq: u64,
        partner: Text<32>,
    },
    /// `bank` posted deposit `tx` into its VA `va`.
    Posted {
        bank: BankCode,
        tx: u64,
        va: u64,
        amount_krw: u64,
        at_ms: u64,
        depositor_name: Text<23>,
    },
    /// `bank`'s real-time numbering was set for the `rank`-th time (from 0), to `on`.
    RealTime { bank: BankCode, on: bool, rank: u64 },
}

/// The payload from a record offset on (the payload starts at byte 4 of the record).
fn from(payload: &Payload, record_offset: usize) -> &[u8] {
    &payload[record_offset - 4..]
}

fn u64_at(payload: &Payload, record_offset: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&from(payload, record_offset)[..8]);
    u64::from_le_bytes(bytes)
}

fn put(payload: &mut Payload, record_offset: usize, bytes: &[u8]) {
    let start = record_offset - 4;
    payload[start..start + bytes.len()].copy_from_slice(bytes);
}

fn bank_at(payload: &Payload) -> Result<BankCode, String> {
    let bytes = &from(payload, 5)[..3];
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|code| BankCode::new(code).ok())
        .ok_or_else(|| format!("bank code bytes {bytes:?} are not three digits"))
}

fn va_seq(seq: u64) -> Result<u64, String> {
    if (1..=MAX_VA_SEQ).contains(&seq) {
        Ok(seq)
    } else {
        Err(format!("a VA sequence of {seq}"))
    }
}

impl VaFact {
    pub(super) fn encode(&self) -> Payload {
        let mut p = [0u8; PAYLOAD_BYTES];
        match *self {
            VaFact::Opened { bank, seq, partner } => {
                put(&mut p, 4, &[VA_OPENED]);
                put(&mut p, 5, bank.as_str().as_bytes());
                put(&mut p, 8, &seq.to_le_bytes());
                put(&mut p, 16, &[partner.len]);
                put(&mut p, 17, partner.as_str().as_bytes());
            }
            VaFact::Posted {
                bank,
                tx,
                va,
                amount_krw,
                at_ms,
                depositor_name,
            } => {
                put(&mut p, 4, &[DEPOSIT_POSTED]);
                put(&mut p, 5, bank.as_str().as_bytes());
                put(&mut p, 8, &tx.to_le_bytes());
                put(&mut p, 16, &va.to_le_bytes());
                put(&mut p, 24, &amount_krw.to_le_bytes());
                put(&mut p, 32, &at_ms.to_le_bytes());
                put(&mut p, 40, &[depositor_name.len]);
                put(&mut p, 41, depositor_name.as_str().as_bytes());
            }
            VaFact::RealTime { bank, on, rank } => {
                put(&mut p, 4, &[REAL_TIME_SET]);
                put(&mut p, 5, bank.as_str().as_bytes());
                put(&mut p, 8, &[u8::from(on)]);
                put(&mut p, 16, &rank.to_le_bytes());
            }
        }
        p
    }

    /// The fact of a record of kind 7 to 9, or why it holds none.
    pub(super) fn decode(payload: &Payload) -> Result<VaFact, String> {
        let bank = bank_at(payload)?;
        Ok(match from(payload, 4)[0] {
            VA_OPENED => {
                let partner = Text::<32>::read(from(payload, 16)[0], from(payload, 17))?;
                let id = partner.as_str();
                if PartnerId::new(id).is_err() {
                    return Err(format!("{id:?} is not a partner id"));
                }
                VaFact::Opened {
                    bank,
                    seq: va_seq(u64_at(payload, 8))?,
                    partner,
                }
            }
            DEPOSIT_POSTED => {
                let depositor_name = Text::<23>::read(from(payload, 40)[0], from(payload, 41))?;
                let tx = u64_at(payload, 8);
                if tx == 0 {
                    return Err("a deposit of transaction sequence 0".into());
                }
                VaFact::Posted {
                    bank,
                    tx,
                    va: va_seq(u64_at(payload, 16))?,
                    amount_krw: u64_at(payload, 24),
                    at_ms: u64_at(payload, 32),
                    depositor_name,
                }
            }
            REAL_TIME_SET => VaFact::RealTime {
                bank,
                on: match from(payload, 8)[0] {
                    0 => false,
                    1 => true,
                    other => return Err(format!("{other} is neither on (1) nor off (0)")),
                },
                rank: u64_at(payload, 16),
            },
            kind => return Err(format!("{kind} is not a kind of VA record")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(code: &str) -> BankCode {
        BankCode::new(code).unwrap()
    }

    #[test]
    fn every_va_fact_comes_back_from_its_bytes() {
        let facts = [
            VaFact::Opened {
                bank: bank("004"),
                seq: 1,
                partner: Text::prefix("p"),
            },
            VaFact::Opened {
                bank: bank("999"),
                seq: MAX_VA_SEQ,
                partner: Text::prefix("partner_ABCDEFGHIJKLMNOPQRSTUV-09"),
            },
            VaFact::Posted {
                bank: bank("088"),
                tx: u64::MAX,
                va: 12,
                amount_krw: u64::MAX,
                at_ms: 1_700_000_000_000,
                depositor_name: Text::prefix("홍길동"),
            },
            VaFact::Posted {
                bank: bank("020"),
                tx: 1,
                va: 1,
                amount_krw: 0,
                at_ms: 0,
                depositor_name: Text::prefix(""),
            },
            VaFact::RealTime {
                bank: bank("011"),
                on: true,
                rank: 7,
            },
            VaFact::RealTime {
                bank: bank("011"),
                on: false,
                rank: 0,
            },
        ];
        for fact in facts {
            assert_eq!(VaFact::decode(&fact.encode()), Ok(fact), "{fact:?}");
        }
    }

    #[test]
    fn a_long_name_keeps_its_first_whole_characters() {
        // 8 Hangul syllables are 24 bytes: the first 7 (21 bytes) are kept.
        let name: Text<23> = Text::prefix("가나다라마바사아");
        assert_eq!(name.as_str(), "가나다라마바사");
        let ascii: Text<23> = Text::prefix("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        assert_eq!(ascii.as_str(), "ABCDEFGHIJKLMNOPQRSTUVW");
    }

    #[test]
    fn a_va_record_this_build_cannot_have_written_is_refused() {
        // Indices into the payload: the record's offset less 4.
        let opened = VaFact::Opened {
            bank: bank("004"),
            seq: 3,
            partner: Text::prefix("p1"),
        }
        .encode();
        let mut bad_partner = opened;
        bad_partner[13] = b' ';
        assert!(VaFact::decode(&bad_partner).is_err());
        let mut long_partner = opened;
        long_partner[12] = 33;
        assert!(VaFact::decode(&long_partner).is_err());
        let mut no_seq = opened;
        no_seq[4..12].fill(0);
        assert!(VaFact::decode(&no_seq).is_err());
        let mut bad_bank = opened;
        bad_bank[1] = b'x';
        assert!(VaFact::decode(&bad_bank).is_err());
        let mut flag = VaFact::RealTime {
            bank: bank("004"),
            on: true,
            rank: 0,
        }
        .encode();
        flag[4] = 2;
        assert!(VaFact::decode(&flag).is_err());
        let mut cut = VaFact::Posted {
            bank: bank("004"),
            tx: 1,
            va: 1,
            amount_krw: 5,
            at_ms: 5,
            depositor_name: Text::prefix("홍"),
        }
        .encode();
        cut[36] = 2;
        assert!(VaFact::decode(&cut).is_err());
    }
}
