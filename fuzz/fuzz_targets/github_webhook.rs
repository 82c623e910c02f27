//! GitHub deliveries, every event kind: the input is `X-GitHub-Event` on the first line, then the
//! raw body (the seed corpus pairs each real payload with its event name). Goes through
//! `read_delivery`, the function the webhook Lambda and `scantix serve` call, so every parser it
//! dispatches to (alerts, `installation*`, `issues`, `pull_request`, `ping`, unknown events) is
//! reached. Then, for an alert body, `finding_from_alert` (the REST alerts' path) on the same
//! `alert` object for each kind. The property: no panic (a typed error or an
//! "ignored" answer for anything unreadable), and an alert reads the same twice (the worker
//! re-reads what the webhook function stored).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scantix_app::ingest::github::{Work, read_delivery};
use scantix_core::finding::{AlertKind, Repository};
use scantix_webhooks::github::alert::finding_from_alert;

fuzz_target!(|data: &[u8]| {
    let (event, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&b""[..], data),
    };
    let Ok(event) = std::str::from_utf8(event) else {
        return;
    };
    if let Ok(Work::Alert(alert)) = read_delivery(event, body) {
        // What the worker later re-reads from the inbox must read the same.
        let again = read_delivery(event, body);
        assert!(matches!(again, Ok(Work::Alert(ref a)) if **a == *alert));
    }
    let Ok(serde_json::Value::Object(mut payload)) = serde_json::from_slice(body) else {
        return;
    };
    let Some(alert) = payload.remove("alert") else {
        return;
    };
    let repository = Repository {
        id: 1,
        full_name: "octo/repo".to_owned(),
        default_branch: Some("main".to_owned()),
        html_url: Some("https://github.com/octo/repo".to_owned()),
    };
    for kind in [
        AlertKind::CodeScanning,
        AlertKind::Dependabot,
        AlertKind::SecretScanning,
        AlertKind::Sarif,
    ] {
        let _ = finding_from_alert(kind, alert.clone(), &repository);
    }
});
