//! Password hashing with argon2id, off the async threads, at most
//! `ARGON2_MAX_CONCURRENT` at a time: each hash takes `ARGON2_MEMORY_KIB`
//! of memory and a core, so a burst of logins waits instead of exhausting
//! the pod.

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::config::AuthConfig;

#[derive(Clone)]
pub struct Passwords {
    params: Params,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// Verified against when the email is unknown, so a login costs the
    /// same whether or not the account exists.
    dummy_hash: std::sync::Arc<str>,
}

impl Passwords {
    pub fn new(config: &AuthConfig) -> anyhow::Result<Self> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let dummy_hash = hash_with(&params, "not a password of anyone's")?.into();
        Ok(Self {
            params,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(
                config.argon2_max_concurrent.max(1),
            )),
            dummy_hash,
        })
    }

    pub async fn hash(&self, password: SecretString) -> anyhow::Result<String> {
        let params = self.params.clone();
        let _permit = self.permits.acquire().await.context("hashing permits")?;
        tokio::task::spawn_blocking(move || hash_with(&params, password.expose_secret()))
            .await
            .context("password hashing task")?
    }

    /// Whether `password` matches `hash`; with no hash (unknown account)
    /// the same work is done and the answer is no.
    pub async fn verify(
        &self,
        password: SecretString,
        hash: Option<String>,
    ) -> anyhow::Result<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let params = self.params.clone();
        let _permit = self.permits.acquire().await.context("hashing permits")?;
        let matches = tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            Ok::<_, anyhow::Error>(
                argon2(params)
                    .verify_password(password.expose_secret().as_bytes(), &parsed)
                    .is_ok(),
            )
        })
        .await
        .context("password verification task")??;
        Ok(known && matches)
    }

    /// Checks a password as the traveller typed it: in NFC (how every
    /// password is hashed since normalisation), and for a password typed
    /// in another form, as typed too (an account made before, in NFD).
    pub async fn verify_typed(
        &self,
        typed: &SecretString,
        hash: Option<String>,
    ) -> anyhow::Result<bool> {
        let normalised = crate::validate::password(typed);
        if self.verify(normalised.clone(), hash.clone()).await? {
            return Ok(true);
        }
        if normalised.expose_secret() == typed.expose_secret() || hash.is_none() {
            return Ok(false);
        }
        self.verify(typed.clone(), hash).await
    }
}

fn argon2(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_with(params: &Params, password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = argon2(params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    Ok(hash.to_string())
}
