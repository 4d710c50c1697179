//! rkyv support for foreign types the write-ahead log stores.
//!
//! `rust_decimal::Decimal` has no rkyv 0.8 implementation, so it is archived through
//! rkyv's remote derive as its canonical 16-byte form (`Decimal::serialize`): flags,
//! then the 96-bit mantissa, little-endian. rkyv's validation checks the structure of a
//! record; the write-ahead log's CRC32C is what catches flipped value bytes.

use rust_decimal::Decimal;

/// The remote-derive wrapper: use `#[rkyv(with = DecimalDef)]` on a `Decimal` field.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(remote = Decimal)]
#[rkyv(archived = ArchivedDecimal)]
pub struct DecimalDef {
    #[rkyv(getter = Decimal::serialize)]
    bytes: [u8; 16],
}

impl From<DecimalDef> for Decimal {
    fn from(def: DecimalDef) -> Decimal {
        Decimal::deserialize(def.bytes)
    }
}

impl ArchivedDecimal {
    /// The archived value, read back without deserializing the enclosing record.
    pub fn get(&self) -> Decimal {
        Decimal::deserialize(self.bytes)
    }
}
