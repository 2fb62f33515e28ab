//! The project's fake services, each a process of its own on a free port
//! (see [`crate::process::start_server`]): localstripe
//! (`temporal-dev/localstripe_memory.py`, a store that stays in memory)
//! and the SMTP sink (`temporal-dev/smtp_sink.py`, one `.eml` file a
//! message), and Kannel with its fake SMSC (`temporal-dev/kannel.py`, one
//! JSON line a message part). The booking stack and the activities' tests
//! start them alike.

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

/// Kannel's sendsms user and password in the tests.
pub const KANNEL_USER: &str = "airline";
pub const KANNEL_PASSWORD: &str = "test-kannel-password";

fn kannel_command(python: &Path, dir: &Path, port: u16) -> Command {
    let mut cmd = script(python, "kannel.py", port);
    cmd.arg("--dir")
        .arg(dir)
        .args(["--user", KANNEL_USER, "--password", KANNEL_PASSWORD]);
    cmd
}

/// Kannel (bearerbox, smsbox) with fakesmsc as its SMSC, run by `python`,
/// keeping what the SMSC receives in `dir`; returns it with its sendsms
/// port once smsbox answers HTTP.
pub async fn start_kannel(python: &Path, log: &Path, dir: &Path) -> (Proc, u16) {
    start_server(
        "Kannel",
        log,
        |port| kannel_command(python, dir, port),
        |port| http_answers(port, "/cgi-bin/sendsms"),
    )
    .await
}

/// Kannel again on `port` (after a test stopped it), once it answers.
pub async fn restart_kannel(python: &Path, log: &Path, dir: &Path, port: u16) -> Proc {
    let file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut kannel = Proc::spawn(kannel_command(python, dir, port), file, "Kannel");
    crate::poll_until(
        "Kannel did not start again",
        std::time::Duration::from_secs(20),
        std::time::Duration::from_millis(100),
        async || {
            if let Some(status) = kannel.0.try_wait().unwrap() {
                panic!("Kannel exited with {status}; see {}", log.display());
            }
            if http_answers(port, "/cgi-bin/sendsms").await {
                Ok(())
            } else {
                Err("not answering yet")
            }
        },
    )
    .await;
    kannel
}

/// One text as the fake SMSC received it: its parts put back together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub from: String,
    pub to: String,
    /// Segments it took (concatenated parts share a reference).
    pub parts: usize,
    /// `text` (GSM-7, one part), `ucs-2` (one part) or `udh` (parts: GSM-7
    /// or UCS-2, which the octets tell).
    pub kind: String,
    pub octets: Vec<u8>,
}

impl Received {
    /// The text, read as GSM-7 (Kannel hands it over in UTF-8).
    pub fn gsm_text(&self) -> String {
        String::from_utf8_lossy(&self.octets).into_owned()
    }

    /// The text, read as UCS-2 (UTF-16, big-endian).
    pub fn ucs2_text(&self) -> String {
        let units: Vec<u16> = self
            .octets
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    }
}

/// Every text the fake SMSC in `dir` received, in order, its parts
/// joined by their concatenation reference.
pub fn received_texts(dir: &Path) -> Vec<Received> {
    let lines = std::fs::read_to_string(dir.join("messages.jsonl")).unwrap_or_default();
    let mut texts: Vec<Received> = Vec::new();
    // (reference, parts, index in `texts`)
    let mut open: Vec<(u8, u8, usize)> = Vec::new();
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let part: Value = serde_json::from_str(line).unwrap();
        let field = |name: &str| part[name].as_str().unwrap_or_default().to_owned();
        let octets = hex(&field("data"));
        let udh = hex(&field("udh"));
        // 05 00 03 <ref> <total> <seq>: an 8-bit concatenation header.
        if udh.len() == 6 && udh[1] == 0 {
            let (reference, total) = (udh[3], udh[4]);
            if let Some(&(_, _, i)) = open
                .iter()
                .find(|(r, t, i)| *r == reference && *t == total && texts[*i].to == field("to"))
            {
                texts[i].octets.extend(octets);
                texts[i].parts += 1;
                if texts[i].parts == usize::from(total) {
                    open.retain(|(r, _, _)| *r != reference);
                }
                continue;
            }
            open.push((reference, total, texts.len()));
        }
        texts.push(Received {
            from: field("from"),
            to: field("to"),
            parts: 1,
            kind: field("type"),
            octets,
        });
    }
    texts
}

/// Waits until the fake SMSC in `dir` has received `n` texts, and returns
/// them.
pub async fn wait_received_texts(dir: &Path, n: usize) -> Vec<Received> {
    crate::poll_until(
        &format!("the fake SMSC did not receive {n} texts"),
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(100),
        async || {
            let texts = received_texts(dir);
            if texts.len() >= n {
                Ok(texts)
            } else {
                Err(format!("{} so far", texts.len()))
            }
        },
    )
    .await
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
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
