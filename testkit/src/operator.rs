//! A stand-in for the operators' identity provider, for the codec
//! endpoint's tests: its JWKS served over HTTP on a random port, and access
//! tokens signed with the fixed test keys of `fixtures/operator-keys.json`
//! (ES256; test-only, published, never trusted anywhere else).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use codec::operator::JwtSettings;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://operators.airline.test/";
pub const AUDIENCE: &str = "temporal-codec";
/// The key id the provider publishes its key under.
pub const KID: &str = "operators-1";

const FIXTURE: &str = include_str!("../fixtures/operator-keys.json");

/// Which fixture key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningKey {
    /// The provider's own, published under [`KID`].
    Operators,
    /// Another one, published nowhere until [`IdentityProvider::publish`].
    Stranger,
}

impl SigningKey {
    fn fixture(self) -> Value {
        let all: Value = serde_json::from_str(FIXTURE).expect("operator-keys.json");
        all[match self {
            SigningKey::Operators => "operators",
            SigningKey::Stranger => "stranger",
        }]
        .clone()
    }

    fn jwk(self, kid: &str) -> Value {
        let key = self.fixture();
        json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
               "x": key["x"], "y": key["y"]})
    }

    fn encoding_key(self) -> EncodingKey {
        let der = B64
            .decode(self.fixture()["private"].as_str().unwrap())
            .expect("the fixture's PKCS#8 key");
        EncodingKey::from_ec_der(&der)
    }
}

/// The published keys, and how many times they were fetched.
type Published = (Arc<Mutex<Vec<Value>>>, Arc<Mutex<u32>>);

pub struct IdentityProvider {
    /// Where its key set is served.
    pub jwks_url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    /// Key-set requests served so far.
    fetches: Arc<Mutex<u32>>,
}

impl IdentityProvider {
    /// Serving its key set with the operators' key under [`KID`].
    pub async fn start() -> IdentityProvider {
        let keys = Arc::new(Mutex::new(vec![SigningKey::Operators.jwk(KID)]));
        let fetches = Arc::new(Mutex::new(0));
        let state: Published = (keys.clone(), fetches.clone());
        let app = axum::Router::new()
            .route("/jwks", get(jwks))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        IdentityProvider {
            jwks_url: format!("http://127.0.0.1:{port}/jwks"),
            keys,
            fetches,
        }
    }

    /// The codec endpoint's settings for this provider (refetching an
    /// unknown key id at once: the tests rotate keys).
    pub fn settings(&self) -> JwtSettings {
        JwtSettings {
            jwks_url: self.jwks_url.clone(),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            min_refetch: Duration::ZERO,
        }
    }

    /// Publishes `key` under `kid` too (a key rotation).
    pub fn publish(&self, kid: &str, key: SigningKey) {
        self.keys.lock().unwrap().push(key.jwk(kid));
    }

    /// How often the key set was fetched.
    pub fn fetches(&self) -> u32 {
        *self.fetches.lock().unwrap()
    }

    /// A valid operator's access token.
    pub fn token(&self) -> String {
        sign(&claims(), KID, SigningKey::Operators)
    }
}

async fn jwks(State((keys, fetches)): State<Published>) -> Json<Value> {
    *fetches.lock().unwrap() += 1;
    let keys = keys.lock().unwrap().clone();
    Json(json!({ "keys": keys }))
}

/// An operator's claims, valid for five minutes.
pub fn claims() -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "ops@airline.test",
           "iat": now, "exp": now + 300})
}

/// `claims` signed with `key`, named `kid` in the header (ES256).
pub fn sign(claims: &Value, kid: &str, key: SigningKey) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding_key()).expect("signed")
}

/// `claims` signed HS256 with `secret` under `kid`: the algorithm
/// confusion a verifier must refuse.
pub fn sign_hmac(claims: &Value, kid: &str, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("signed")
}
