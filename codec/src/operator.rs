//! Who may use the codec endpoint, which decodes every booking's personal
//! data: an operator signed in at the operators' identity provider. The
//! Temporal Web UI behind OIDC sign-in passes its access token to the codec
//! server (`TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true`, only to an `https://`
//! endpoint) as `Authorization: Bearer <JWT>`; the CLI sends the same
//! header with `--codec-auth "Bearer <JWT>"`. The token is checked with the
//! `jsonwebtoken` crate against the provider's JWKS (fetched and cached,
//! fetched again when older than [`MAX_AGE`] or for a key id it does not
//! know, at most once per `min_refetch`), and for its issuer, audience and
//! expiry. Only asymmetric keys count (RSA, EC, Ed25519), and the token's
//! algorithm must be its key's: no `none`, no HMAC with a public key.
//!
//! The development stack's Web UI (`temporal server start-dev`) has no
//! sign-in and so no token to pass: there, and only there, the endpoint
//! runs [`Operators::Unauthenticated`] on a loopback listener.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use crate::CodecError;

/// A key set older than this is fetched again before use.
pub const MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// What [`JwtSettings::min_refetch`] is outside tests.
pub const MIN_REFETCH: Duration = Duration::from_secs(10);
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// The operators' identity provider (`CODEC_JWKS_URL`, `CODEC_ISSUER`,
/// `CODEC_AUDIENCE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    pub jwks_url: String,
    pub issuer: String,
    pub audience: String,
    /// The least time between two fetches of the key set: a stream of
    /// tokens with made-up key ids costs the provider one fetch per this.
    pub min_refetch: Duration,
}

/// Who is let in: the settings, as configuration holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorAuth {
    /// `Authorization: Bearer <JWT>` from the identity provider.
    Jwt(JwtSettings),
    /// No credential: development only, on a loopback listener (the
    /// gateway's configuration refuses it anywhere else).
    Unauthenticated,
}

/// The check itself, built once per endpoint.
#[derive(Clone)]
pub enum Operators {
    Jwt(Arc<JwtVerifier>),
    Unauthenticated,
}

impl Operators {
    pub fn new(auth: &OperatorAuth) -> Result<Self, CodecError> {
        Ok(match auth {
            OperatorAuth::Jwt(settings) => Operators::Jwt(Arc::new(JwtVerifier::new(settings)?)),
            OperatorAuth::Unauthenticated => Operators::Unauthenticated,
        })
    }

    /// The operator behind an `Authorization` header value.
    pub async fn admit(&self, authorization: Option<&str>) -> Result<Operator, Refusal> {
        match self {
            Operators::Unauthenticated => Ok(Operator { subject: None }),
            Operators::Jwt(verifier) => {
                let token = authorization
                    .and_then(|h| h.strip_prefix("Bearer ").or(h.strip_prefix("bearer ")))
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .ok_or(Refusal::Missing)?;
                verifier.verify(token).await
            }
        }
    }
}

/// Who used the endpoint, for its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The token's `sub`; `None` without sign-in (development).
    pub subject: Option<String>,
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No bearer token.
    Missing,
    /// A token that does not verify; the reason is for the debug log only.
    Invalid(&'static str),
    /// The key set could not be fetched: it may work on a retry.
    Unavailable,
}

#[derive(Clone)]
struct VerifyingKey {
    key: DecodingKey,
    algorithm: Algorithm,
}

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, VerifyingKey>,
    /// The last successful fetch.
    fetched: Option<Instant>,
    /// The last fetch tried, successful or not.
    tried: Option<Instant>,
}

pub struct JwtVerifier {
    settings: JwtSettings,
    http: reqwest::Client,
    set: RwLock<KeySet>,
    /// One fetch at a time; the others wait for its keys.
    fetching: Mutex<()>,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
}

impl JwtVerifier {
    pub fn new(settings: &JwtSettings) -> Result<Self, CodecError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| CodecError::Config(format!("CODEC_JWKS_URL client: {e}")))?;
        Ok(JwtVerifier {
            settings: settings.clone(),
            http,
            set: RwLock::new(KeySet::default()),
            fetching: Mutex::new(()),
        })
    }

    /// The token's operator, if it verifies.
    pub async fn verify(&self, token: &str) -> Result<Operator, Refusal> {
        let header = decode_header(token).map_err(|_| Refusal::Invalid("malformed token"))?;
        let kid = header.kid.ok_or(Refusal::Invalid("no key id"))?;
        let key = self.key(&kid).await?;
        if header.alg != key.algorithm {
            return Err(Refusal::Invalid("algorithm is not its key's"));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let claims = decode::<Claims>(token, &key.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            Refusal::Invalid(match e.kind() {
                K::ExpiredSignature => "expired",
                K::ImmatureSignature => "not valid yet",
                K::InvalidAudience => "wrong audience",
                K::InvalidIssuer => "wrong issuer",
                K::InvalidSignature => "bad signature",
                K::MissingRequiredClaim(_) => "a required claim is missing",
                _ => "invalid token",
            })
        })?;
        Ok(Operator {
            subject: claims.claims.sub,
        })
    }

    /// The key `kid`: from the cached set while it is fresh, else from a
    /// fetch (at most one per `min_refetch`). A fetch that fails leaves
    /// the cached keys in use.
    async fn key(&self, kid: &str) -> Result<VerifyingKey, Refusal> {
        if let Some(key) = self.cached(kid, true).await {
            return Ok(key);
        }
        let _one_fetch = self.fetching.lock().await;
        if let Some(key) = self.cached(kid, true).await {
            return Ok(key);
        }
        let recently = {
            let set = self.set.read().await;
            set.tried
                .is_some_and(|t| t.elapsed() < self.settings.min_refetch)
        };
        if !recently {
            let fetched = self.fetch().await;
            let mut set = self.set.write().await;
            set.tried = Some(Instant::now());
            match fetched {
                Ok(keys) => {
                    set.keys = keys;
                    set.fetched = set.tried;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the codec's identity provider keys could not be fetched")
                }
            }
        }
        if let Some(key) = self.cached(kid, false).await {
            return Ok(key);
        }
        let set = self.set.read().await;
        if set.fetched.is_some() && set.fetched == set.tried {
            Err(Refusal::Invalid("unknown key id"))
        } else {
            Err(Refusal::Unavailable)
        }
    }

    async fn cached(&self, kid: &str, fresh: bool) -> Option<VerifyingKey> {
        let set = self.set.read().await;
        let young = set.fetched.is_some_and(|t| t.elapsed() < MAX_AGE);
        if fresh && !young {
            return None;
        }
        set.keys.get(kid).cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, VerifyingKey>, String> {
        let response = self
            .http
            .get(&self.settings.jwks_url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("the JWKS URL answered {}", response.status()));
        }
        let set: JwkSet = response.json().await.map_err(|e| e.to_string())?;
        Ok(verifying_keys(&set))
    }
}

/// The set's signature keys with a key id, each with its one algorithm.
fn verifying_keys(set: &JwkSet) -> HashMap<String, VerifyingKey> {
    set.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let for_signatures = !matches!(
                jwk.common.public_key_use,
                Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
            );
            let algorithm = algorithm_of(jwk)?;
            let key = DecodingKey::from_jwk(jwk).ok()?;
            for_signatures.then_some((kid, VerifyingKey { key, algorithm }))
        })
        .collect()
}

/// The key's algorithm: the one it names, else its type's usual one; never
/// a symmetric one.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    let named = jwk
        .common
        .key_algorithm
        .and_then(|a| Algorithm::from_str(&a.to_string()).ok());
    let algorithm = match (&jwk.algorithm, named) {
        (AlgorithmParameters::OctetKey(_), _) => return None,
        (_, Some(named)) => named,
        (AlgorithmParameters::RSA(_), None) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        (AlgorithmParameters::OctetKeyPair(_), None) => Algorithm::EdDSA,
    };
    let symmetric = matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    );
    (!symmetric).then_some(algorithm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(json: serde_json::Value) -> HashMap<String, VerifyingKey> {
        verifying_keys(&serde_json::from_value(json).unwrap())
    }

    #[test]
    fn only_asymmetric_signature_keys_with_an_id_count() {
        let ec = serde_json::json!({"kty": "EC", "crv": "P-256",
            "x": "D87UUzJPPUcFPaKYvZVXhTajSFn-GI66yJBwCMOtzAU",
            "y": "Lju9d3m5x9ozuD5Z5vLk823qLDi1qiRYwGrgqnL-zzU"});
        let mut with_id = ec.clone();
        with_id["kid"] = "ec-1".into();
        let mut for_encryption = with_id.clone();
        for_encryption["kid"] = "ec-enc".into();
        for_encryption["use"] = "enc".into();
        let hmac = serde_json::json!({"kty": "oct", "kid": "hs", "k": "c2VjcmV0", "alg": "HS256"});
        let keys = set(serde_json::json!({"keys": [ec, with_id, for_encryption, hmac]}));
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["ec-1"]);
        assert_eq!(keys["ec-1"].algorithm, Algorithm::ES256);
    }

    #[tokio::test]
    async fn a_missing_or_non_bearer_credential_is_refused_before_any_fetch() {
        let operators = Operators::new(&OperatorAuth::Jwt(JwtSettings {
            jwks_url: "http://127.0.0.1:9/jwks".into(),
            issuer: "https://idp.example".into(),
            audience: "codec".into(),
            min_refetch: MIN_REFETCH,
        }))
        .unwrap();
        for header in [None, Some(""), Some("Basic b3BzOm9wcw=="), Some("Bearer ")] {
            assert_eq!(
                operators.admit(header).await,
                Err(Refusal::Missing),
                "{header:?}"
            );
        }
        let garbage = operators.admit(Some("Bearer not.a.jwt")).await;
        assert_eq!(garbage, Err(Refusal::Invalid("malformed token")));
        let open = Operators::new(&OperatorAuth::Unauthenticated).unwrap();
        assert_eq!(open.admit(None).await, Ok(Operator { subject: None }));
    }
}
