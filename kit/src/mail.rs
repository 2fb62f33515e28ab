//! SMTP as every sending service configures it: `SMTP_HOST`, `SMTP_PORT`,
//! `SMTP_TLS` (`none`, `starttls`, `tls`), `SMTP_USERNAME` with
//! `SMTP_PASSWORD`, `SMTP_TIMEOUT`, and the sender `MAIL_FROM`.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{duration, parse, var};

/// The brand the travellers see, in senders and subjects.
pub const DEFAULT_FROM: &str = "Skyway Air <bookings@skyway.example>";

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a local sink or relay on loopback only).
    None,
    /// Plain connection upgraded with STARTTLS (required, not opportunistic).
    StartTls,
    /// TLS from the first byte ("SMTPS", usually port 465).
    Tls,
}

/// What a mailer sends with: the transport and the sender, built from an
/// [`SmtpConfig`]. Cheap to clone. `Debug` shows the sender only, nothing
/// of the transport (which holds the SMTP credentials).
#[derive(Clone)]
pub struct Outbox {
    pub transport: AsyncSmtpTransport<Tokio1Executor>,
    pub from: Mailbox,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Outbox {
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Self> {
        Ok(Outbox {
            transport: config.transport()?,
            from: config.sender()?,
        })
    }
}

/// Where and how to send mail. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub tls: SmtpTls,
    /// The sender, e.g. `Skyway Air <bookings@skyway.example>`.
    pub from: String,
    /// Connection and command timeout.
    pub timeout: Duration,
}

impl SmtpConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let tls = match var("SMTP_TLS").as_deref().unwrap_or("none") {
            "none" => SmtpTls::None,
            "starttls" => SmtpTls::StartTls,
            "tls" => SmtpTls::Tls,
            other => bail!("SMTP_TLS={other:?}: use none, starttls or tls"),
        };
        Ok(SmtpConfig {
            host: var("SMTP_HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port: parse("SMTP_PORT", 2525)?,
            username: var("SMTP_USERNAME"),
            password: var("SMTP_PASSWORD").map(Into::into),
            tls,
            from: var("MAIL_FROM").unwrap_or_else(|| DEFAULT_FROM.into()),
            timeout: duration("SMTP_TIMEOUT", Duration::from_secs(15))?,
        })
    }

    /// The sender as a mailbox.
    pub fn sender(&self) -> anyhow::Result<Mailbox> {
        Mailbox::from_str(&self.from)
            .with_context(|| format!("invalid sender address {:?}", self.from))
    }

    /// lettre's pooled async transport for these settings.
    pub fn transport(&self) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
        let builder = match self.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host),
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host)
                .context("setting up STARTTLS")?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&self.host).context("setting up TLS")?
            }
        };
        let mut builder = builder.port(self.port).timeout(Some(self.timeout));
        match (&self.username, &self.password) {
            (Some(username), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    username.clone(),
                    password.expose_secret().to_owned(),
                ));
            }
            (None, None) => {}
            _ => bail!("SMTP username and password must be given together"),
        }
        Ok(builder.build())
    }
}
