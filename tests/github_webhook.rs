//! The GitHub webhook function's handler, called directly with real deliveries from
//! `../shared/fixtures`: what GitHub (or an attacker) sends, and what it gets back.

use github_webhook::handle;
use lambda_http::Body;
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_core::config::Config;
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Store;
use scantix_core::records::TicketState;
use scantix_core::secret::Secret;
use scantix_tests::webhooks::{SECRET, delivery_request, fixture_path, octokit, varied};
use serde_json::{Value, json};
use std::sync::Arc;

fn ingest() -> (Arc<MemoryStore>, GithubIngest) {
    let store = Arc::new(MemoryStore::new());
    let tracker = Arc::new(DraftTracker::new());
    let executor = Executor::new(store.clone(), tracker, Config::default());
    (
        store,
        GithubIngest::new(Secret::new(SECRET), Arc::new(executor)),
    )
}

async fn send(
    ingest: &GithubIngest,
    event: &str,
    delivery: &str,
    body: &[u8],
    signature: Option<&str>,
) -> (u16, Value) {
    let response = handle(ingest, delivery_request(event, delivery, body, signature))
        .await
        .expect("handler never errors");
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("JSON answer"),
        other => panic!("unexpected body {other:?}"),
    };
    (status, body)
}

/// Every real delivery in the fixtures, with its event name (from its folder or file name).
fn every_fixture_delivery() -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    let root = fixture_path("github-webhooks");
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if name != "payload-schemas" {
                    stack.push(path);
                }
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            let parent = path
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            let event = if path.to_string_lossy().contains("payload-examples") {
                parent
            } else if name.ends_with("_webhook_event.json") {
                // octocrab: `pull_request_closed_webhook_event.json` → `pull_request`.
                let events = [
                    "installation_repositories",
                    "installation",
                    "issue_comment",
                    "issues",
                    "ping",
                    "pull_request",
                ];
                events
                    .iter()
                    .find(|e| name.starts_with(*e))
                    .expect("a known octocrab event")
                    .to_string()
            } else {
                name.split('.').next().unwrap().to_string()
            };
            out.push((event, name, std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn every_real_delivery_is_answered_2xx() {
    let (_, ingest) = ingest();
    let deliveries = every_fixture_delivery();
    assert!(
        deliveries.len() >= 45,
        "found only {} fixtures",
        deliveries.len()
    );
    for (i, (event, name, body)) in deliveries.iter().enumerate() {
        let (status, answer) = send(&ingest, event, &format!("fixture-{i}"), body, None).await;
        let expected = match event.as_str() {
            "code_scanning_alert"
            | "dependabot_alert"
            | "secret_scanning_alert"
            | "ping"
            | "installation"
            | "installation_repositories"
            | "pull_request" => 200,
            _ => 202,
        };
        assert_eq!(status, expected, "{event} {name}: {answer}");
    }
}

#[tokio::test]
async fn a_created_alert_becomes_a_draft_ticket_with_the_ticket_anatomy() {
    let (store, ingest) = ingest();
    let (status, answer) = send(
        &ingest,
        "code_scanning_alert",
        "d-1",
        &octokit("code_scanning_alert/created.payload.json"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "applied");
    assert_eq!(answer["outcome"]["actions"][0]["action"], "create_ticket");
    let key = answer["outcome"]["ticket"]["key"].as_str().unwrap();
    let draft = scantix_tests::stored::ticket_by_key(&*store, "draft", key).await;
    assert_eq!(draft.state, TicketState::Draft);
    assert_eq!(
        draft.title,
        "Query built from user-controlled sources in `src/main/java/com/github/demo/service/BookService.java` (1 alert)"
    );
    for expected in [
        "Codertocat/Hello\\-World",
        "code\\-feature",
        "788437584c2522f27feab10d8e631bab3e9e783a",
        "src/main/java/com/github/demo/service/BookService.java:84",
        "(<https://github.com/Codertocat/Hello-World/security/code-scanning/10>)",
        "How the fix will be verified",
    ] {
        assert!(
            draft.body.contains(expected),
            "body lacks {expected}:\n{}",
            draft.body
        );
    }
}

#[tokio::test]
async fn a_redelivery_is_answered_as_a_duplicate_and_changes_nothing() {
    let (store, ingest) = ingest();
    let body = octokit("dependabot_alert/created.payload.json");
    send(&ingest, "dependabot_alert", "same", &body, None).await;
    let before = scantix_tests::stored::groups(&*store).await;
    let (status, answer) = send(&ingest, "dependabot_alert", "same", &body, None).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(scantix_tests::stored::groups(&*store).await, before);
}

#[tokio::test]
async fn a_wrong_or_missing_signature_is_401_and_nothing_is_stored() {
    let (store, ingest) = ingest();
    let body = octokit("code_scanning_alert/created.payload.json");
    let forged = scantix_webhooks::signature::sign(b"not-the-secret", &body);
    for signature in [forged.as_str(), "", "sha256=zz", "sha1=abc"] {
        let (status, answer) =
            send(&ingest, "code_scanning_alert", "d", &body, Some(signature)).await;
        assert_eq!(status, 401, "{signature}: {answer}");
        assert_eq!(answer["error"], "bad_signature");
    }
    assert!(scantix_tests::stored::groups(&*store).await.is_empty());
    assert!(
        store.get_delivery("github:d").await.unwrap().is_none(),
        "a refused delivery can be sent again"
    );
}

#[tokio::test]
async fn malformed_json_is_400_with_the_json_path() {
    let (_, ingest) = ingest();
    let (status, answer) = send(
        &ingest,
        "code_scanning_alert",
        "d",
        b"{\"action\": \"created\",",
        None,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "malformed_payload");

    let wrong_type = varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[("alert.number", json!("ten"))],
    );
    let (status, answer) = send(&ingest, "code_scanning_alert", "d2", &wrong_type, None).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["path"], "alert.number");
}

#[tokio::test]
async fn an_oversized_body_is_413_before_anything_else() {
    let (_, ingest) = ingest();
    let ingest = ingest.with_max_body(1024);
    let body = octokit("code_scanning_alert/created.payload.json");
    assert!(body.len() > 1024);
    let (status, answer) = send(
        &ingest,
        "code_scanning_alert",
        "d",
        &body,
        Some("sha256=bogus"),
    )
    .await;
    assert_eq!(status, 413, "{answer}");
}

#[tokio::test]
async fn unknown_events_and_actions_are_202_ignored() {
    let (_, ingest) = ingest();
    let (status, answer) = send(&ingest, "star", "d1", b"{\"action\":\"created\"}", None).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("ignored")));
    let future = varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[("action", json!("teleported"))],
    );
    let (status, answer) = send(&ingest, "code_scanning_alert", "d2", &future, None).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("ignored")));
}

#[tokio::test]
async fn a_missing_event_or_delivery_header_is_400() {
    let (_, ingest) = ingest();
    let body = octokit("ping/payload.json");
    let (status, _) = send(&ingest, "", "d", &body, None).await;
    assert_eq!(status, 400);
    let (status, answer) = send(&ingest, "ping", "", &body, None).await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn the_real_lifecycle_stale_then_reopened_then_dismissed() {
    let (store, ingest) = ingest();
    let steps = [
        ("created.payload.json", "create_ticket"),
        ("fixed.payload.json", "mark_ticket_stale"),
        ("reopened.payload.json", "reopen_ticket"),
        ("closed-by-user.payload.json", "update_ticket"),
    ];
    // The real `reopened` example is from another repository: move it into the one the other
    // three share, so that all four are one alert's life.
    let created: Value =
        serde_json::from_slice(&octokit("code_scanning_alert/created.payload.json")).unwrap();
    let mut ticket = String::new();
    for (i, (file, expected)) in steps.iter().enumerate() {
        let mut edits = vec![("repository", created["repository"].clone())];
        if *file == "fixed.payload.json" {
            // Fixed on the branch the alert was found on, not only on a pull request's merge
            // ref (which leaves the ticket as it is until the merge).
            edits.push(("ref", created["ref"].clone()));
            edits.push(("alert.most_recent_instance.ref", created["ref"].clone()));
        }
        let body = varied(&octokit(&format!("code_scanning_alert/{file}")), &edits);
        let (status, answer) = send(
            &ingest,
            "code_scanning_alert",
            &format!("life-{i}"),
            &body,
            None,
        )
        .await;
        assert_eq!(status, 200, "{file}: {answer}");
        let actions: Vec<_> = answer["outcome"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap().to_owned())
            .collect();
        assert!(actions.iter().any(|a| a == expected), "{file}: {actions:?}");
        let key = answer["outcome"]["ticket"]["key"]
            .as_str()
            .unwrap()
            .to_owned();
        if i > 0 {
            assert_eq!(key, ticket, "one ticket all along");
        }
        ticket = key;
    }
    let draft = scantix_tests::stored::ticket_by_key(&*store, "draft", &ticket).await;
    assert_eq!(
        draft.state,
        TicketState::Stale,
        "dismissing the last open alert retires the ticket"
    );
    assert!(
        draft
            .comments
            .iter()
            .any(|c| c.contains("dismissed in GitHub by Codertocat as \"false positive\"")),
        "{:?}",
        draft.comments
    );
}

#[tokio::test]
async fn alerts_of_repositories_removed_from_the_installation_are_ignored_and_history_kept() {
    let (store, ingest) = ingest();
    let alert = octokit("code_scanning_alert/created.payload.json");
    let payload: Value = serde_json::from_slice(&alert).unwrap();
    let installation = payload["installation"]["id"].clone();
    let repo = json!({ "id": payload["repository"]["id"], "full_name": payload["repository"]["full_name"] });
    let installed = varied(
        &octokit("installation/created.payload.json"),
        &[
            ("installation.id", installation.clone()),
            ("repositories", json!([repo])),
        ],
    );
    let (status, answer) = send(&ingest, "installation", "i-1", &installed, None).await;
    assert_eq!(
        (status, answer["repositories_covered"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );

    let (status, answer) = send(&ingest, "code_scanning_alert", "a-1", &alert, None).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );

    let removed = varied(
        &octokit("installation_repositories/removed.payload.json"),
        &[
            ("installation.id", installation.clone()),
            ("repositories_removed", json!([repo])),
        ],
    );
    let (status, _) = send(&ingest, "installation_repositories", "i-2", &removed, None).await;
    assert_eq!(status, 200);
    let fixed = varied(
        &octokit("code_scanning_alert/fixed.payload.json"),
        &[
            ("installation", payload["installation"].clone()),
            ("repository", payload["repository"].clone()),
        ],
    );
    let (status, answer) = send(&ingest, "code_scanning_alert", "a-2", &fixed, None).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("ignored")),
        "{answer}"
    );

    let groups = scantix_tests::stored::groups(&*store).await;
    assert_eq!(groups.len(), 1, "the history stays");
    let audit = store
        .audit_log(&scantix_core::identity::GroupKey::from_stored(format!(
            "installation/{installation}"
        )))
        .await
        .unwrap();
    assert_eq!(audit.len(), 2, "both installation changes are audited");
}
