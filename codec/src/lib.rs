//! Temporal payload encryption, so that the server (and whoever reads its
//! histories: the Web UI, the CLI, a backup) holds only ciphertext for
//! workflow inputs, results, activity arguments and results, updates,
//! signals and query answers. Search attributes are never encoded (the
//! SDK skips them): they stay plain, and free of personal data.
//!
//! Each payload is the whole original payload (metadata and data, protobuf
//! encoded) sealed with AES-256-GCM (ring) under the active key: metadata
//! `encoding: binary/encrypted` and `encryption-key-id: <id>`, data the
//! 12-byte random nonce followed by the ciphertext and tag, the key id as
//! associated data. Decoding picks the key by its id, so rotating is adding
//! a new key in front of the list and keeping the old ones as long as any
//! history needs them (docs/ops.md, "Payload encryption"). A payload
//! without that encoding passes through unchanged: histories written before
//! encryption still read and replay.
//!
//! The keys come from `PAYLOAD_ENCRYPTION_KEYS`: `id=<base64 of 32 bytes>`
//! entries separated by commas, the first one encrypting.

pub mod http;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::FutureExt;
use futures::future::BoxFuture;
use prost::Message;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadCodec, PayloadConversionError, PayloadConverter,
    SerializationContextData,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;

/// The `encoding` of an encrypted payload.
pub const ENCODING: &str = "binary/encrypted";
/// The metadata key naming the key that sealed a payload.
pub const KEY_ID: &str = "encryption-key-id";
/// The environment variable with the keys.
pub const KEYS_VAR: &str = "PAYLOAD_ENCRYPTION_KEYS";

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("{KEYS_VAR}: {0}")]
    Config(String),
    #[error("payload sealed with key '{0}', which is not configured")]
    UnknownKey(String),
    #[error("payload does not decrypt (tampered, or the wrong key)")]
    Undecryptable,
    #[error("malformed encrypted payload: {0}")]
    Malformed(String),
}

/// The keys: the first encrypts, all of them decrypt.
#[derive(Clone)]
pub struct Keys {
    active: String,
    keys: Arc<HashMap<String, LessSafeKey>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("Keys")
            .field("active", &self.active)
            .field("ids", &ids)
            .finish()
    }
}

impl Keys {
    /// `id=<base64 of 32 bytes>,...`, the first one active.
    pub fn parse(raw: &str) -> Result<Self, CodecError> {
        let mut keys = HashMap::new();
        let mut active = None;
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, material) = entry.split_once('=').ok_or_else(|| {
                CodecError::Config(format!("'{}…' is not id=<base64>", first_chars(entry)))
            })?;
            let id = id.trim();
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(CodecError::Config(format!(
                    "key id '{id}' must be letters, digits, '-' or '_'"
                )));
            }
            let bytes = B64
                .decode(material.trim())
                .map_err(|_| CodecError::Config(format!("key '{id}' is not base64")))?;
            let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| {
                CodecError::Config(format!(
                    "key '{id}' must be 32 bytes (base64 of 32 random bytes)"
                ))
            })?;
            if keys
                .insert(id.to_owned(), LessSafeKey::new(unbound))
                .is_some()
            {
                return Err(CodecError::Config(format!("key id '{id}' appears twice")));
            }
            active.get_or_insert_with(|| id.to_owned());
        }
        let active = active.ok_or_else(|| {
            CodecError::Config("no key: set id=<base64 of 32 random bytes>".to_owned())
        })?;
        Ok(Self {
            active,
            keys: Arc::new(keys),
        })
    }

    /// From `PAYLOAD_ENCRYPTION_KEYS`; required.
    pub fn from_env() -> Result<Self, CodecError> {
        let raw = std::env::var(KEYS_VAR).unwrap_or_default();
        if raw.trim().is_empty() {
            return Err(CodecError::Config(
                "not set: Temporal would hold personal data in plain text. Generate a key with \
                 `openssl rand -base64 32` and set PAYLOAD_ENCRYPTION_KEYS=k1=<that>"
                    .to_owned(),
            ));
        }
        Self::parse(&raw)
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    /// Seals one payload under the active key.
    pub fn encrypt(&self, payload: &Payload) -> Result<Payload, CodecError> {
        let key = &self.keys[&self.active];
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| CodecError::Malformed("no randomness for a nonce".to_owned()))?;
        let mut sealed = payload.encode_to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(self.active.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| CodecError::Undecryptable)?;
        let mut data = Vec::with_capacity(NONCE_LEN + sealed.len());
        data.extend_from_slice(&nonce);
        data.extend_from_slice(&sealed);
        let metadata = HashMap::from([
            ("encoding".to_owned(), ENCODING.as_bytes().to_vec()),
            (KEY_ID.to_owned(), self.active.as_bytes().to_vec()),
        ]);
        Ok(Payload {
            metadata,
            data,
            ..Default::default()
        })
    }

    /// Opens a payload this codec sealed; any other passes through.
    pub fn decrypt(&self, payload: Payload) -> Result<Payload, CodecError> {
        if payload.metadata.get("encoding").map(Vec::as_slice) != Some(ENCODING.as_bytes()) {
            return Ok(payload);
        }
        let id = payload
            .metadata
            .get(KEY_ID)
            .and_then(|id| std::str::from_utf8(id).ok())
            .ok_or_else(|| CodecError::Malformed(format!("no {KEY_ID}")))?
            .to_owned();
        let key = self
            .keys
            .get(&id)
            .ok_or_else(|| CodecError::UnknownKey(id.clone()))?;
        if payload.data.len() < NONCE_LEN {
            return Err(CodecError::Malformed("shorter than its nonce".to_owned()));
        }
        let (nonce, sealed) = payload.data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| CodecError::Malformed("bad nonce".to_owned()))?;
        let mut sealed = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(id.as_bytes()), &mut sealed)
            .map_err(|_| CodecError::Undecryptable)?;
        Payload::decode(&*plain).map_err(|e| CodecError::Malformed(e.to_string()))
    }
}

fn first_chars(s: &str) -> &str {
    &s[..s.floor_char_boundary(4)]
}

/// The SDK's codec: every payload the client or worker sends is sealed,
/// every one it receives opened.
#[derive(Clone, Debug)]
pub struct EncryptionCodec {
    keys: Keys,
}

impl EncryptionCodec {
    pub fn new(keys: Keys) -> Self {
        Self { keys }
    }

    /// A data converter with the default JSON payloads and this codec.
    pub fn data_converter(keys: Keys) -> DataConverter {
        DataConverter::new(
            PayloadConverter::default(),
            DefaultFailureConverter::default(),
            Self::new(keys),
        )
    }
}

fn conversion(e: CodecError) -> PayloadConversionError {
    PayloadConversionError::EncodingError(Box::new(e))
}

/// Every payload through `convert`, in order, as the codec's answer: the
/// first failure fails them all.
fn convert_all(
    payloads: Vec<Payload>,
    mut convert: impl FnMut(Payload) -> Result<Payload, CodecError>,
) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
    let result = payloads
        .into_iter()
        .map(|p| convert(p).map_err(conversion))
        .collect();
    async move { result }.boxed()
}

impl PayloadCodec for EncryptionCodec {
    fn encode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        convert_all(payloads, |p| self.keys.encrypt(&p))
    }

    fn decode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        convert_all(payloads, |p| self.keys.decrypt(p))
    }
}

/// A payload as Temporal's codec server protocol carries it (protobuf JSON:
/// metadata values and data in base64).
#[derive(Debug, Serialize, Deserialize)]
pub struct JsonPayload {
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub data: String,
}

/// The body of `POST /encode` and `POST /decode`, and of their answers.
/// An empty set may come without its field: the Temporal CLI posts `{}`
/// (protobuf's JSON leaves an empty list out), the Web UI
/// `{"payloads": []}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct JsonPayloads {
    #[serde(default)]
    pub payloads: Vec<JsonPayload>,
}

impl JsonPayload {
    fn into_payload(self) -> Result<Payload, CodecError> {
        let bytes = |s: &str| {
            B64.decode(s)
                .map_err(|_| CodecError::Malformed("a value is not base64".to_owned()))
        };
        let metadata = self
            .metadata
            .iter()
            .map(|(k, v)| Ok((k.clone(), bytes(v)?)))
            .collect::<Result<_, CodecError>>()?;
        Ok(Payload {
            metadata,
            data: bytes(&self.data)?,
            ..Default::default()
        })
    }

    fn from_payload(p: Payload) -> Self {
        Self {
            metadata: p
                .metadata
                .into_iter()
                .map(|(k, v)| (k, B64.encode(v)))
                .collect(),
            data: B64.encode(p.data),
        }
    }
}

/// What the codec endpoint does with a body: `decode` opens every payload
/// (plain ones pass), `encode` seals them.
pub fn convert_json(
    keys: &Keys,
    body: JsonPayloads,
    decode: bool,
) -> Result<JsonPayloads, CodecError> {
    let payloads = body
        .payloads
        .into_iter()
        .map(|p| {
            let payload = p.into_payload()?;
            let converted = if decode {
                keys.decrypt(payload)?
            } else {
                keys.encrypt(&payload)?
            };
            Ok(JsonPayload::from_payload(converted))
        })
        .collect::<Result<_, CodecError>>()?;
    Ok(JsonPayloads { payloads })
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    fn json_payload(text: &str) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]),
            data: text.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn a_sealed_payload_holds_no_plain_text_and_opens_to_the_original() {
        let keys = Keys::parse(K1).unwrap();
        let plain = json_payload(r#"{"first_name":"Ada","contact_email":"ada@example.com"}"#);
        let sealed = keys.encrypt(&plain).unwrap();
        assert!(!String::from_utf8_lossy(&sealed.data).contains("Ada"));
        assert_eq!(sealed.metadata["encoding"], ENCODING.as_bytes());
        assert_eq!(sealed.metadata[KEY_ID], b"k1");
        assert_eq!(keys.decrypt(sealed.clone()).unwrap(), plain);
        // A fresh nonce each time.
        assert_ne!(keys.encrypt(&plain).unwrap().data, sealed.data);
    }

    #[test]
    fn rotation_keeps_old_payloads_readable_and_seals_with_the_new_key() {
        let old = Keys::parse(K1).unwrap();
        let sealed_before = old.encrypt(&json_payload("\"before\"")).unwrap();
        let rotated = Keys::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(rotated.active_id(), "k2");
        assert_eq!(
            rotated.decrypt(sealed_before).unwrap(),
            json_payload("\"before\"")
        );
        let sealed_after = rotated.encrypt(&json_payload("\"after\"")).unwrap();
        assert_eq!(sealed_after.metadata[KEY_ID], b"k2");
        assert!(matches!(
            old.decrypt(sealed_after),
            Err(CodecError::UnknownKey(id)) if id == "k2"
        ));
    }

    #[test]
    fn tampering_and_plain_payloads() {
        let keys = Keys::parse(K1).unwrap();
        let mut sealed = keys.encrypt(&json_payload("\"x\"")).unwrap();
        let last = sealed.data.len() - 1;
        sealed.data[last] ^= 1;
        assert!(matches!(
            keys.decrypt(sealed),
            Err(CodecError::Undecryptable)
        ));
        // A payload from before encryption passes through.
        let plain = json_payload("\"old\"");
        assert_eq!(keys.decrypt(plain.clone()).unwrap(), plain);
    }

    #[test]
    fn bad_key_configuration_is_refused() {
        for bad in [
            "",
            "k1",
            "k1=notbase64!",
            "k1=AAEC",
            "bad id=AAEC",
            &format!("{K1},{K1}"),
        ] {
            assert!(Keys::parse(bad).is_err(), "{bad}");
        }
        // The key material never shows in logs.
        let debug = format!("{:?}", Keys::parse(K1).unwrap());
        assert!(!debug.contains("AAEC"), "{debug}");
    }

    #[test]
    fn the_codec_endpoints_json_round_trips() {
        let keys = Keys::parse(K1).unwrap();
        let body = JsonPayloads {
            payloads: vec![JsonPayload::from_payload(json_payload("\"Ada\""))],
        };
        let encoded = convert_json(&keys, body, false).unwrap();
        assert!(
            !serde_json::to_string(&encoded)
                .unwrap()
                .contains(&B64.encode("\"Ada\""))
        );
        let decoded = convert_json(&keys, encoded, true).unwrap();
        assert_eq!(decoded.payloads[0].data, B64.encode("\"Ada\""));
    }
}
