//! The activities' configuration from the environment (see the README's
//! configuration table), and the booking database's migration. The
//! clients are built from it by `Activities::connect` (`crate::handlers`).

use std::time::Duration;

use anyhow::Context;
use kit::config::{Environment, refuse_published_secret};
pub use kit::config::{duration, parse, var};
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgPoolOptions;

use crate::inventory::InventoryConfig;
use crate::payments::StripeConfig;
use crate::records::migrations;
use crate::sms::SmsConfig;
use kit::mail::SmtpConfig;

#[derive(Debug, Clone)]
pub struct ActivitiesConfig {
    pub database_url: SecretString,
    pub db_max_connections: u32,
    pub inventory: InventoryConfig,
    pub stripe: StripeConfig,
    pub smtp: SmtpConfig,
    pub sms: SmsConfig,
}

impl ActivitiesConfig {
    /// From the environment; outside development (`AIRLINE_ENV`), a secret
    /// with a value this repository publishes stops the start.
    pub fn from_env() -> anyhow::Result<Self> {
        let config = Self::read_env()?;
        config.refuse_published_secrets(Environment::from_env()?)?;
        Ok(config)
    }

    /// Every secret the worker holds that has a published development value.
    pub fn refuse_published_secrets(&self, environment: Environment) -> anyhow::Result<()> {
        let secrets = [
            ("FLIGHTS_SERVICE_TOKEN", &self.inventory.service_token),
            ("STRIPE_SECRET_KEY", &self.stripe.secret_key),
            ("KANNEL_PASSWORD", &self.sms.password),
            ("SMS_DLR_TOKEN", &self.sms.dlr_token),
        ];
        for (name, value) in secrets {
            refuse_published_secret(environment, name, value)?;
        }
        if let Some(password) = &self.smtp.password {
            refuse_published_secret(environment, "SMTP_PASSWORD", password)?;
        }
        Ok(())
    }

    fn read_env() -> anyhow::Result<Self> {
        let database_url = var("BOOKING_DATABASE_URL")
            .context("set BOOKING_DATABASE_URL to the booking database")?;
        let service_token = var("FLIGHTS_SERVICE_TOKEN")
            .context("set FLIGHTS_SERVICE_TOKEN (the flight service's bearer token)")?;
        let stripe_key = var("STRIPE_SECRET_KEY")
            .context("set STRIPE_SECRET_KEY (sk_test_... for localstripe)")?;
        Ok(ActivitiesConfig {
            database_url: database_url.into(),
            db_max_connections: parse("BOOKING_DB_MAX_CONNECTIONS", 10)?,
            inventory: InventoryConfig {
                base_url: var("FLIGHTS_URL").unwrap_or_else(|| "http://127.0.0.1:8081".into()),
                service_token: service_token.into(),
                timeout: duration("FLIGHTS_TIMEOUT", Duration::from_secs(10))?,
            },
            stripe: StripeConfig {
                secret_key: stripe_key.into(),
                api_base: var("STRIPE_API_BASE"),
                timeout: duration("STRIPE_TIMEOUT", Duration::from_secs(20))?,
            },
            smtp: SmtpConfig::from_env()?,
            sms: SmsConfig {
                sendsms_url: var("KANNEL_SENDSMS_URL")
                    .unwrap_or_else(|| "http://127.0.0.1:13013/cgi-bin/sendsms".into()),
                username: var("KANNEL_USER").unwrap_or_else(|| "airline".into()),
                password: var("KANNEL_PASSWORD")
                    .context("set KANNEL_PASSWORD (Kannel's sendsms-user password)")?
                    .into(),
                sender: var("SMS_SENDER").unwrap_or_else(|| "SkywayAir".into()),
                dlr_base_url: var("SMS_DLR_BASE_URL")
                    .unwrap_or_else(|| "http://127.0.0.1:8082".into()),
                dlr_token: var("SMS_DLR_TOKEN")
                    .context("set SMS_DLR_TOKEN (the secret in Kannel's delivery report URL)")?
                    .into(),
                timeout: duration("KANNEL_TIMEOUT", Duration::from_secs(10))?,
            },
        })
    }
}

/// Creates the booking database when missing and applies the migrations;
/// returns a pool sized from the configuration.
pub async fn migrate(config: &ActivitiesConfig) -> anyhow::Result<sqlx::PgPool> {
    kit::config::ensure_database(&config.database_url, "booking database").await?;
    let pool = PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(config.database_url.expose_secret())
        .await
        .context("connecting to the booking database")?;
    kit::config::migrate_shared(&pool, migrations(), "booking records").await?;
    Ok(pool)
}
