//! "This device logged in to this account before": a cookie the gateway
//! sets at each successful login, `<random id>.<HMAC-SHA256 of the account
//! address and the id>` under a key derived from `JWT_SECRET`. Nothing is
//! stored: the signature is the proof. The login throttle lets such a
//! device through its locks, so a stranger's guesses cannot lock the owner
//! out of the devices they use (`auth::throttle`).

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The cookie's name.
pub const COOKIE: &str = "airline_device";
/// A year: devices are remembered as long as a browser keeps the cookie.
const MAX_AGE_SECONDS: u64 = 365 * 24 * 3600;

/// Signs and checks device cookies.
#[derive(Clone)]
pub struct Devices {
    key: Vec<u8>,
}

impl Devices {
    /// The key is derived from the JWT secret (its own label, so a device
    /// cookie is never a valid anything else).
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"airline device cookie v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self, email: &str, id: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(email.as_bytes());
        mac.update(b"\0");
        mac.update(id.as_bytes());
        mac
    }

    /// A new device's cookie value for `email`.
    pub fn issue(&self, email: &str) -> String {
        let mut id = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut id);
        let id = B64.encode(id);
        let tag = B64.encode(self.mac(email, &id).finalize().into_bytes());
        format!("{id}.{tag}")
    }

    /// Whether the request carries a cookie this gateway issued for `email`.
    pub fn known(&self, headers: &HeaderMap, email: &str) -> bool {
        cookies(headers, COOKIE).any(|value| {
            let Some((id, tag)) = value.split_once('.') else {
                return false;
            };
            let Ok(tag) = B64.decode(tag) else {
                return false;
            };
            self.mac(email, id).verify_slice(&tag).is_ok()
        })
    }

    /// The `Set-Cookie` header that remembers this device for `email`:
    /// only sent back to the login route, never readable by script.
    pub fn set_cookie(&self, email: &str, secure: bool) -> HeaderValue {
        let secure = if secure { "; Secure" } else { "" };
        let cookie = format!(
            "{COOKIE}={}; Path=/api/v1/auth/login; Max-Age={MAX_AGE_SECONDS}; HttpOnly; SameSite=Strict{secure}",
            self.issue(email)
        );
        HeaderValue::from_str(&cookie).expect("the cookie is ASCII")
    }
}

/// The values of the cookies named `name` in the request.
fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let cookie = format!("other=1; {COOKIE}={value}");
        headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
        headers
    }

    #[test]
    fn a_device_cookie_proves_only_its_own_account_under_its_own_key() {
        let devices = Devices::new(b"secret-one");
        let value = devices.issue("ada@example.com");
        assert!(devices.known(&with_cookie(&value), "ada@example.com"));
        assert!(!devices.known(&with_cookie(&value), "grace@example.com"));
        assert!(!Devices::new(b"secret-two").known(&with_cookie(&value), "ada@example.com"));
        let (id, _) = value.split_once('.').unwrap();
        assert!(!devices.known(&with_cookie(&format!("{id}.AAAA")), "ada@example.com"));
        assert!(!devices.known(&with_cookie("garbage"), "ada@example.com"));
        assert!(!devices.known(&HeaderMap::new(), "ada@example.com"));
        let set = devices.set_cookie("ada@example.com", true);
        let set = set.to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.ends_with("Secure")
        );
    }
}
