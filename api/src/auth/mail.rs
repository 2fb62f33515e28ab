//! The account emails the gateway sends itself (the booking emails are the
//! worker's): confirm the address, reset the password, unlock a throttled
//! sign-in, and the notices after a password change, a two-factor change
//! and a deletion. Plain text, one link on its own line, sent over the
//! SMTP settings the worker uses (`kit::mail`).

use kit::mail::{Outbox, SmtpConfig};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncTransport, Message};

use crate::error::{Error, Result};

/// What an account email is about; each names its subject and its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountMail {
    VerifyEmail,
    ResetPassword,
    Unlock,
    PasswordChanged,
    TwoFactorChanged,
    AccountDeleted,
}

impl AccountMail {
    pub fn subject(self) -> &'static str {
        match self {
            AccountMail::VerifyEmail => "Confirm your email address",
            AccountMail::ResetPassword => "Reset your password",
            AccountMail::Unlock => "Sign-in attempts on your account",
            AccountMail::PasswordChanged => "Your password was changed",
            AccountMail::TwoFactorChanged => "Two-step sign-in was changed",
            AccountMail::AccountDeleted => "Your account was deleted",
        }
    }

    /// The body's words, around the link (when there is one).
    fn words(self) -> (&'static str, &'static str) {
        match self {
            AccountMail::VerifyEmail => (
                "Please confirm this is your email address, so you can book flights:",
                "The link works once, for 24 hours. If you did not create an account, ignore this email.",
            ),
            AccountMail::ResetPassword => (
                "Someone (we hope you) asked to reset the password of your account. Choose a new one here:",
                "The link works once, for 1 hour, and signs you out everywhere. If you did not ask, ignore this email: your password is unchanged.",
            ),
            AccountMail::Unlock => (
                "Several wrong passwords were tried on your account, so we paused sign-ins from unknown devices. If it was you, this link lets this device sign in again:",
                "The link works once, for 1 hour. If it was not you, nothing was opened: consider changing your password.",
            ),
            AccountMail::PasswordChanged => (
                "The password of your account was just changed, and your other sessions were signed out.",
                "If this was not you, reset your password now:",
            ),
            AccountMail::TwoFactorChanged => (
                "Two-step sign-in (an authenticator app) was just turned on or off for your account.",
                "If this was not you, reset your password now:",
            ),
            AccountMail::AccountDeleted => (
                "Your account was deleted, as you asked. We keep the records of your bookings that accounting law requires, and nothing else.",
                "Thank you for flying with us.",
            ),
        }
    }
}

/// Sends the account emails. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Mailer {
    outbox: Outbox,
    /// The web app's public address, for links (`APP_PUBLIC_URL`).
    public_url: String,
}

impl Mailer {
    pub fn new(smtp: &SmtpConfig, public_url: &str) -> anyhow::Result<Self> {
        Ok(Mailer {
            outbox: Outbox::new(smtp)?,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The web app's link to `route` (a hash route, `#/reset?token=…`).
    pub fn link(&self, route: &str) -> String {
        format!("{}/{route}", self.public_url)
    }

    /// Sends `kind` to `to` (greeting `name`), with `link` when it has one.
    /// An SMTP failure is 503: the caller may retry; nothing else changed.
    pub async fn send(
        &self,
        kind: AccountMail,
        to: &str,
        name: &str,
        link: Option<&str>,
    ) -> Result<()> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| Error::Internal(anyhow::anyhow!("account address: {e}")))?;
        let (before, after) = kind.words();
        let security = self.link("#/forgot");
        let body = match (kind, link) {
            (_, Some(link)) => format!("Hello {name},\n\n{before}\n\n{link}\n\n{after}\n"),
            (AccountMail::PasswordChanged | AccountMail::TwoFactorChanged, None) => {
                format!("Hello {name},\n\n{before}\n\n{after}\n\n{security}\n")
            }
            (_, None) => format!("Hello {name},\n\n{before}\n\n{after}\n"),
        };
        let message = Message::builder()
            .from(self.outbox.from.clone())
            .to(to)
            .subject(kind.subject())
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| Error::Internal(anyhow::Error::new(e).context("building an email")))?;
        match self.outbox.transport.send(message).await {
            Ok(_) => {
                tracing::info!(kind = ?kind, "account email sent");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, kind = ?kind, "account email not sent");
                Err(Error::Unavailable)
            }
        }
    }
}
