//! The project's fake services, each a process of its own on a free port
//! (see [`crate::process::start_server`]): localstripe
//! (`temporal-dev/localstripe_memory.py`, a store that stays in memory)
//! and the SMTP sink (`temporal-dev/smtp_sink.py`, one `.eml` file a
//! message). The booking stack and the activities' tests start them alike.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::process::{Proc, http_answers, smtp_answers, start_server};
use crate::stack::{repo_root, venv_bin};

/// The Python that runs the fakes: the one `var` names, or the project's
/// venv's.
pub fn python(var: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| venv_bin("python"))
}

/// localstripe run by `python`, its output in `log`; returns it with its
/// port once it answers HTTP.
pub async fn start_localstripe(python: &Path, log: &Path) -> (Proc, u16) {
    start_server(
        "localstripe",
        log,
        |port| script(python, "localstripe_memory.py", port),
        |port| http_answers(port, "/v1/customers"),
    )
    .await
}

/// The SMTP sink run by `python`, writing the messages it receives into
/// `mail_dir` and its output to `log`; returns it with its port once it
/// greets.
pub async fn start_smtp_sink(python: &Path, log: &Path, mail_dir: &Path) -> (Proc, u16) {
    start_server(
        "SMTP sink",
        log,
        |port| {
            let mut cmd = script(python, "smtp_sink.py", port);
            cmd.arg("--mail-dir").arg(mail_dir);
            cmd
        },
        smtp_answers,
    )
    .await
}

/// `python temporal-dev/<name> --port <port>`.
fn script(python: &Path, name: &str, port: u16) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg(repo_root().join("temporal-dev").join(name))
        .args(["--port", &port.to_string()]);
    cmd
}

/// The form that creates a card payment method at localstripe.
pub fn card_form(number: &str) -> [(&'static str, &str); 5] {
    [
        ("type", "card"),
        ("card[number]", number),
        ("card[exp_month]", "12"),
        ("card[exp_year]", "2040"),
        ("card[cvc]", "123"),
    ]
}

/// Sends a test's own request to a fake, which must answer, and reads the
/// answer as JSON.
pub async fn json_answer(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
