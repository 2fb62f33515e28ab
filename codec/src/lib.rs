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
//! history needs them (docs/ops.md, "Payload encryption").
//!
//! Decoding is strict: a payload that is not sealed under one of the keys
//! (plain JSON from a client without the key, a forged or tampered one) is
//! never handed on. The SDK's codec ([`EncryptionCodec`]) replaces it with
//! a *refused* payload ([`REFUSED_ENCODING`], no data) that no type
//! deserializes, so only the message that carried it is refused: an update
//! is rejected before its validator, a signal whose input is
//! `contract::Inbound` arrives as `Refused`, a workflow start never runs a
//! step (its first task fails), an activity task fails. It never fails the
//! whole workflow task, which would wedge the workflow on a message any
//! client can send. What arrives with no payload at all (an update or a
//! query without arguments) never reaches a codec: the type it must
//! deserialize into refuses it. The codec endpoint shows plain payloads as
//! they are (it only displays).
//!
//! The keys come from `PAYLOAD_ENCRYPTION_KEYS`: `id=<base64 of 32 bytes>`
//! entries separated by commas, the first one encrypting.

pub mod http;
pub mod operator;
mod state;

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
    #[error("payload is not sealed with a payload key (its encoding is {0:?})")]
    NotSealed(String),
}

impl CodecError {
    /// A stable code naming the failure, for logs and refused payloads.
    pub fn code(&self) -> &'static str {
        match self {
            CodecError::Config(_) => "config",
            CodecError::UnknownKey(_) => "unknown_key",
            CodecError::Undecryptable => "undecryptable",
            CodecError::Malformed(_) => "malformed",
            CodecError::NotSealed(_) => "not_sealed",
        }
    }
}

/// The `encoding` of a payload the codec refused to open: it carries no
/// data, and no payload converter reads it.
pub const REFUSED_ENCODING: &str = "binary/refused";
/// The metadata key of a refused payload with [`CodecError::code`].
pub const REFUSED_REASON: &str = "refused-reason";

/// The keys: the first encrypts, all of them decrypt.
#[derive(Clone)]
pub struct Keys {
    active: String,
    keys: Arc<HashMap<String, LessSafeKey>>,
    /// Plain payloads pass ([`Keys::accepting_plain`]).
    plain_accepted: bool,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("Keys")
            .field("active", &self.active)
            .field("ids", &ids)
            .field("plain_accepted", &self.plain_accepted)
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
            plain_accepted: false,
        })
    }

    /// These keys, letting plain payloads through as they are: only for
    /// reading histories recorded before payloads were encrypted (the
    /// replay test's). No service is configured this way: a worker that
    /// took plain payloads would act on any client's messages.
    pub fn accepting_plain(mut self) -> Self {
        self.plain_accepted = true;
        self
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

    /// Opens a payload sealed under one of the keys; refuses any other
    /// (a plain one too, unless [`Keys::accepting_plain`]).
    pub fn open(&self, payload: Payload) -> Result<Payload, CodecError> {
        if !is_sealed(&payload) {
            if self.plain_accepted {
                return Ok(payload);
            }
            let encoding = payload.metadata.get("encoding").map_or_else(
                || "none".to_owned(),
                |e| String::from_utf8_lossy(&e[..e.len().min(40)]).into_owned(),
            );
            return Err(CodecError::NotSealed(encoding));
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

    /// A payload as the codec endpoint shows it: opened when sealed, as it
    /// is when plain (search attributes, the CLI's own summaries: showing
    /// them trusts nothing).
    pub fn show(&self, payload: Payload) -> Result<Payload, CodecError> {
        if is_sealed(&payload) {
            self.open(payload)
        } else {
            Ok(payload)
        }
    }
}

fn is_sealed(payload: &Payload) -> bool {
    payload.metadata.get("encoding").map(Vec::as_slice) == Some(ENCODING.as_bytes())
}

/// What the SDK's codec hands on instead of a payload it refused: no
/// data, and an encoding no payload converter reads.
pub fn refused(why: &CodecError) -> Payload {
    Payload {
        metadata: HashMap::from([
            ("encoding".to_owned(), REFUSED_ENCODING.as_bytes().to_vec()),
            (REFUSED_REASON.to_owned(), why.code().as_bytes().to_vec()),
        ]),
        ..Default::default()
    }
}

fn first_chars(s: &str) -> &str {
    &s[..s.floor_char_boundary(4)]
}

/// The SDK's codec: every payload the client or worker sends is sealed,
/// every one it receives opened, and one it cannot open replaced with a
/// [`refused`] payload (logged with its reason, never its content).
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
        convert_all(payloads, |p| {
            Ok(self.keys.open(p).unwrap_or_else(|why| {
                tracing::warn!(
                    reason = why.code(),
                    "payload refused: not sealed with a configured payload key"
                );
                refused(&why)
            }))
        })
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

/// What the codec endpoint does with a body: `decode` shows every payload
/// ([`Keys::show`]: opened, or plain as it is), `encode` seals them.
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
                keys.show(payload)?
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
        assert_eq!(keys.open(sealed.clone()).unwrap(), plain);
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
            rotated.open(sealed_before).unwrap(),
            json_payload("\"before\"")
        );
        let sealed_after = rotated.encrypt(&json_payload("\"after\"")).unwrap();
        assert_eq!(sealed_after.metadata[KEY_ID], b"k2");
        assert!(matches!(
            old.open(sealed_after),
            Err(CodecError::UnknownKey(id)) if id == "k2"
        ));
    }

    #[test]
    fn a_tampered_payload_does_not_open() {
        let keys = Keys::parse(K1).unwrap();
        let mut sealed = keys.encrypt(&json_payload("\"x\"")).unwrap();
        let last = sealed.data.len() - 1;
        sealed.data[last] ^= 1;
        assert!(matches!(keys.open(sealed), Err(CodecError::Undecryptable)));
    }

    #[test]
    fn a_plain_payload_is_refused_unless_plain_is_accepted() {
        let keys = Keys::parse(K1).unwrap();
        let plain = json_payload("\"old\"");
        let refusal = keys.open(plain.clone()).unwrap_err();
        assert!(matches!(&refusal, CodecError::NotSealed(e) if e == "json/plain"));
        let bare = Payload::default();
        assert!(matches!(keys.open(bare), Err(CodecError::NotSealed(e)) if e == "none"));
        // Histories from before encryption, read by the replay test.
        let legacy = keys.clone().accepting_plain();
        assert_eq!(legacy.open(plain.clone()).unwrap(), plain);
        // The codec endpoint shows it as it is.
        assert_eq!(keys.show(plain.clone()).unwrap(), plain);
    }

    #[test]
    fn a_forged_key_id_is_refused() {
        let keys = Keys::parse(K1).unwrap();
        let mut forged = keys.encrypt(&json_payload("\"x\"")).unwrap();
        forged.metadata.insert(KEY_ID.to_owned(), b"k9".to_vec());
        assert!(matches!(keys.open(forged), Err(CodecError::UnknownKey(id)) if id == "k9"));
    }

    /// Decoding never fails the set (a failure would fail the whole
    /// workflow task and wedge the workflow): each payload it cannot open
    /// comes out refused, and no converter reads it.
    #[test]
    fn the_sdk_codec_hands_on_refused_payloads_that_nothing_deserializes() {
        use temporalio_common::data_converters::{
            GenericPayloadConverter, SerializationContext, WorkflowSerializationContext,
        };
        let keys = Keys::parse(K1).unwrap();
        let codec = EncryptionCodec::new(keys.clone());
        let context = SerializationContextData::Workflow(WorkflowSerializationContext::new());
        let sealed = keys.encrypt(&json_payload(r#"{"reason":null}"#)).unwrap();
        let forged = json_payload(r#"{"reason":"forged"}"#);
        let decoded = codec
            .decode(&context, vec![sealed, forged])
            .now_or_never()
            .unwrap()
            .unwrap();
        assert_eq!(decoded[0], json_payload(r#"{"reason":null}"#));
        assert_eq!(decoded[1].metadata["encoding"], REFUSED_ENCODING.as_bytes());
        assert_eq!(decoded[1].metadata[REFUSED_REASON], b"not_sealed");
        assert!(decoded[1].data.is_empty());
        let converter = PayloadConverter::default();
        let ctx = SerializationContext::new(&context, &converter);
        let read: Result<serde_json::Value, _> = converter.from_payload(&ctx, decoded[1].clone());
        assert!(read.is_err());
        let unit: Result<(), _> = converter.from_payload(&ctx, decoded[1].clone());
        assert!(unit.is_err());
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
