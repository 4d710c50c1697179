//! Reading request bodies: the size limit, the content type, and the fields of a JSON
//! object, each with an error that names what is wrong.
//!
//! Bodies are read field by field from the raw JSON text (`serde_json::value::RawValue`)
//! rather than deserialized into typed structs, for two reasons: an amount given as a
//! JSON number keeps its exact literal text (`10.5` is refused as a fraction instead of
//! becoming a float first), and every error can name its field in the API's own words
//! (`missing_field`, `unknown_field`, `invalid_field`).

use std::collections::BTreeMap;
use std::fmt;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures::StreamExt;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::errors::ApiError;

/// Reads the whole body, refusing one larger than `limit_bytes` (413) and one whose
/// `Content-Type` says it is not JSON (415). No content type at all is taken as JSON.
pub async fn read_json_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit_bytes: u64,
) -> Result<web::BytesMut, ApiError> {
    if let Some(kind) = request.headers().get(header::CONTENT_TYPE) {
        let kind = kind.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = kind.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::new(
                actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("the body must be application/json, got {essence:?}"),
            ));
        }
    }
    // A declared length over the limit is refused before a byte of it is read.
    if let Some(length) = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if length > limit_bytes {
            return Err(ApiError::body_too_large(limit_bytes));
        }
    }
    read_limited(&mut payload, limit_bytes).await
}

/// The whole body of `payload`, refusing one larger than `limit_bytes` (413): for the
/// handlers, and for the signature check, which hashes the body before they run.
pub async fn read_limited<S>(payload: &mut S, limit_bytes: u64) -> Result<web::BytesMut, ApiError>
where
    S: futures::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "malformed_body",
                format!("the request body could not be read: {e}"),
            )
        })?;
        if (body.len() + chunk.len()) as u64 > limit_bytes {
            return Err(ApiError::body_too_large(limit_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The members of a JSON object, each still as its raw JSON text.
pub struct Fields<'a> {
    members: BTreeMap<String, &'a RawValue>,
}

/// A JSON object read with its members kept raw; a repeated member name is an error,
/// so a body cannot carry two request numbers and have the server pick one silently.
struct RawObject<'a>(BTreeMap<String, &'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ObjectVisitor<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: &'de RawValue = map.next_value()?;
                    if members.contains_key(&key) {
                        return Err(serde::de::Error::custom(format!(
                            "the member {key:?} appears twice"
                        )));
                    }
                    members.insert(key, value);
                }
                Ok(RawObject(members))
            }
        }
        deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
    }
}

/// What a JSON literal is, judged by its first character (the text is valid JSON).
fn is_string(raw: &RawValue) -> bool {
    raw.get().starts_with('"')
}

fn is_number(raw: &RawValue) -> bool {
    raw.get()
        .starts_with(|c: char| c == '-' || c.is_ascii_digit())
}

fn kind_of(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

impl<'a> Fields<'a> {
    /// Parses `body` as one JSON object.
    pub fn parse(body: &'a [u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::malformed_json(
                "the body is empty; send a JSON object",
            ));
        }
        match serde_json::from_slice::<RawObject<'a>>(body) {
            Ok(RawObject(members)) => Ok(Self { members }),
            Err(e) => Err(ApiError::malformed_json(match e.classify() {
                serde_json::error::Category::Data => {
                    format!("the body must be a JSON object: {e}")
                }
                _ => format!("the body is not valid JSON: {e}"),
            })),
        }
    }

    /// Takes a member. JSON `null` is a value like any other, which each field refuses
    /// as the wrong kind: the API document allows `null` in no request field, and a
    /// `null` read as "absent" would let `{"request_no": null}` fall back to the
    /// Idempotency-Key header, or a flag to its default, without the client knowing.
    fn take(&mut self, name: &str) -> Option<&'a RawValue> {
        self.members.remove(name)
    }

    /// A string member.
    pub fn string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(raw) if is_string(raw) => serde_json::from_str::<String>(raw.get())
                .map(Some)
                .map_err(|e| ApiError::invalid_field(name, e)),
            Some(raw) => Err(ApiError::invalid_field(
                name,
                format!("must be a string, got {}", kind_of(raw)),
            )),
        }
    }

    /// An array of strings; `max` bounds its length.
    pub fn string_list(&mut self, name: &str, max: usize) -> Result<Option<Vec<String>>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(raw) => {
                let list = serde_json::from_str::<Vec<String>>(raw.get()).map_err(|_| {
                    ApiError::invalid_field(
                        name,
                        format!("must be an array of strings, got {}", kind_of(raw)),
                    )
                })?;
                if list.len() > max {
                    return Err(ApiError::invalid_field(
                        name,
                        format!("at most {max} items, got {}", list.len()),
                    ));
                }
                Ok(Some(list))
            }
        }
    }

    pub fn required_string(&mut self, name: &str) -> Result<String, ApiError> {
        self.string(name)?
            .ok_or_else(|| ApiError::missing_field(name))
    }

    /// A number given either as a JSON number or as a string holding one, returned as
    /// its exact decimal text (validation of the value is the caller's).
    pub fn number_text(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(raw) if is_number(raw) => Ok(Some(raw.get().to_owned())),
            Some(raw) if is_string(raw) => serde_json::from_str::<String>(raw.get())
                .map(Some)
                .map_err(|e| ApiError::invalid_field(name, e)),
            Some(raw) => Err(ApiError::invalid_field(
                name,
                format!(
                    "must be a number or a string holding one, got {}",
                    kind_of(raw)
                ),
            )),
        }
    }

    pub fn required_number_text(&mut self, name: &str) -> Result<String, ApiError> {
        self.number_text(name)?
            .ok_or_else(|| ApiError::missing_field(name))
    }

    /// An unsigned integer, as a JSON number or a string of digits.
    pub fn unsigned(&mut self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.number_text(name)? {
            None => Ok(None),
            Some(text) => {
                if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ApiError::invalid_field(
                        name,
                        format!("must be an unsigned integer, got {text:?}"),
                    ));
                }
                text.parse::<u64>().map(Some).map_err(|_| {
                    ApiError::invalid_field(
                        name,
                        format!("must be an unsigned 64-bit integer, got {text:?}"),
                    )
                })
            }
        }
    }

    /// An object member, as fields of its own (their errors name the member).
    pub fn object(&mut self, name: &str) -> Result<Option<Fields<'a>>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(raw) => match serde_json::from_str::<RawObject<'a>>(raw.get()) {
                Ok(RawObject(members)) => Ok(Some(Fields { members })),
                Err(_) => Err(ApiError::invalid_field(
                    name,
                    format!("must be an object, got {}", kind_of(raw)),
                )),
            },
        }
    }

    /// An array of objects, each as fields of its own; `max` bounds its length.
    pub fn objects(&mut self, name: &str, max: usize) -> Result<Option<Vec<Fields<'a>>>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(raw) => {
                let list = serde_json::from_str::<Vec<RawObject<'a>>>(raw.get()).map_err(|_| {
                    ApiError::invalid_field(
                        name,
                        format!("must be an array of objects, got {}", kind_of(raw)),
                    )
                })?;
                if list.is_empty() || list.len() > max {
                    return Err(ApiError::invalid_field(
                        name,
                        format!("1 to {max} items, got {}", list.len()),
                    ));
                }
                Ok(Some(
                    list.into_iter()
                        .map(|RawObject(members)| Fields { members })
                        .collect(),
                ))
            }
        }
    }

    pub fn bool(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(raw) => match raw.get() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(ApiError::invalid_field(
                    name,
                    format!("must be true or false, got {}", kind_of(raw)),
                )),
            },
        }
    }

    /// Refuses members nobody asked for: a misspelt optional field must not be ignored.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.members.keys().next() {
            Some(name) => Err(ApiError::unknown_field(name)),
            None => Ok(()),
        }
    }
}

/// Decodes exactly `N` bytes of hexadecimal (either case).
pub fn hex_bytes<const N: usize>(field: &str, text: &str) -> Result<[u8; N], ApiError> {
    let bad = || {
        ApiError::invalid_field(
            field,
            format!(
                "must be {} hexadecimal digits ({N} bytes), got {} characters",
                2 * N,
                text.len()
            ),
        )
    };
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return Err(bad());
    }
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let high = (pair[0] as char).to_digit(16).ok_or_else(bad)?;
        let low = (pair[1] as char).to_digit(16).ok_or_else(bad)?;
        out[i] = (high * 16 + low) as u8;
    }
    Ok(out)
}

/// Lowercase hexadecimal of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amount_keeps_its_exact_literal_whether_number_or_string() {
        let mut f = Fields::parse(br#"{"a": 10.50, "b": "12", "c": true}"#).unwrap();
        assert_eq!(f.number_text("a").unwrap().as_deref(), Some("10.50"));
        assert_eq!(f.number_text("b").unwrap().as_deref(), Some("12"));
        assert_eq!(f.number_text("c").unwrap_err().code, "invalid_field");
    }

    #[test]
    fn a_repeated_member_and_a_non_object_are_malformed() {
        let err = Fields::parse(br#"{"a": 1, "a": 2}"#).err().unwrap();
        assert_eq!(err.code, "malformed_json");
        assert_eq!(Fields::parse(b"[1]").err().unwrap().code, "malformed_json");
        assert_eq!(
            Fields::parse(b"{\"a\": ").err().unwrap().code,
            "malformed_json"
        );
    }

    #[test]
    fn null_is_the_wrong_kind_for_every_field() {
        let body = br#"{"s": null, "n": null, "b": null, "u": null}"#;
        let mut f = Fields::parse(body).unwrap();
        for err in [
            f.string("s").unwrap_err(),
            f.number_text("n").unwrap_err(),
            f.bool("b").unwrap_err(),
            f.unsigned("u").unwrap_err(),
        ] {
            assert_eq!(err.code, "invalid_field");
            assert!(err.message.ends_with("got null"), "{}", err.message);
        }
    }

    #[test]
    fn leftover_members_are_named() {
        let mut f = Fields::parse(br#"{"amount": 1, "ammount": 2}"#).unwrap();
        f.number_text("amount").unwrap();
        let err = f.finish().unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            ("unknown_field", Some("ammount"))
        );
    }

    #[test]
    fn hex_round_trips_and_refuses_a_wrong_length() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex_bytes::<4>("k", &to_hex(&bytes)).unwrap(), bytes);
        assert_eq!(hex_bytes::<4>("k", "00FF00ff").unwrap(), [0, 255, 0, 255]);
        assert!(hex_bytes::<4>("k", "00ff00").is_err());
        assert!(hex_bytes::<4>("k", "00ff00zz").is_err());
    }
}
