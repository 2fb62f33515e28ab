//! The OpenAPI document against the gateway, with generated requests
//! (schemathesis, pinned in `scripts/check-requirements.txt`): every
//! documented operation, with examples, boundary values and random inputs
//! valid and invalid by the document. It fails on a server error, a status
//! or a body the document does not describe, a request valid by the
//! document that the gateway refuses, and an invalid one it accepts.
//! `api/tests/schemathesis.toml` says which checks hold where, and why.

use std::process::Command;

use testkit::gateway::{Gateway, repo_root, venv_bin};

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_answers_as_its_document_says() {
    let gw = Gateway::start("conformance").await;
    // Something to find: a flight with seats, its airports and airplane.
    gw.flight().await;
    let admin = gw.admin().await;
    let report = repo_root().join("target/conformance");
    let _ = std::fs::remove_dir_all(&report);
    std::fs::create_dir_all(&report).unwrap();
    let document = gw.get("/api/v1/openapi.json", "").await.body;
    std::fs::write(
        report.join("openapi.json"),
        serde_json::to_vec_pretty(&document).unwrap(),
    )
    .unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let out = tokio::task::spawn_blocking({
        let base = gw.base.clone();
        let token = admin.access.clone();
        let report = report.clone();
        move || {
            Command::new(venv_bin("schemathesis"))
                .arg("--config-file")
                .arg(repo_root().join("api/tests/schemathesis.toml"))
                // The document as served, from the file: loaded from its URL,
                // the tool would leave that operation out.
                .arg("run")
                .arg(report.join("openapi.json"))
                .args(["--url", &base])
                .args(["-H", &format!("Authorization: Bearer {token}")])
                .arg("--report-dir")
                .arg(&report)
                // Each run on its own: no examples or crashes remembered
                // from earlier runs on this machine.
                .args(["--generation-database", "none"])
                .current_dir(&report)
                .env("NO_COLOR", "1")
                .env(
                    "SCHEMATHESIS_HOOKS",
                    repo_root().join("api/tests/conformance_hooks.py"),
                )
                .output()
                .expect("schemathesis runs (scripts/check-tools.sh installs it)")
        }
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(report.join("output.txt"), &text).unwrap();
    assert!(out.status.success(), "{text}");
    // It really ran: every operation of the document.
    assert!(
        text.contains(&format!("Tested: {operations}\n")),
        "{operations} operations documented:\n{text}"
    );
}
