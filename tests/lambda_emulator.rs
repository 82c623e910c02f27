//! End to end through the real Lambda runtime interface: the `github-webhook`, `jira-webhook` and
//! `worker` binaries run under `cargo lambda watch`'s runtime emulator, configured as the SAM
//! template configures them (table name, secrets as Secrets Manager ARNs, Jira settings), against
//! DynamoDB Local, a fake Secrets Manager and the fake Jira (every request checked against
//! Atlassian's OpenAPI description). Signed real deliveries go to the Function URLs; the table's
//! stream, read from DynamoDB Local, is handed to the worker as its event source mapping would.
//!
//! A CI job's SARIF upload goes the same way: gzip-compressed to the webhook function's `/sarif`
//! route with the installation's upload token, then applied by the worker as one analysis.
//!
//! Run by `scripts/test.sh` (which starts DynamoDB Local and installs cargo-lambda).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use scantix_core::inbox::InboxStatus;
use scantix_core::ports::store::{Guarded, Inbox, Store};
use scantix_core::records::{CoveredRepository, InstallationRecord};
use scantix_core::secret::Secret;
use scantix_tests::dynamodb::{local_endpoint, local_store};
use scantix_tests::fake_jira::{self, CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJira};
use scantix_tests::lambda_emulator::Emulator;
use scantix_tests::streams::{inbox_inserts, local_streams_client};
use scantix_tests::webhooks::{fixture, octokit, varied};
use scantix_webhooks::signature::sign;
use scantix_webhooks::upload::token::UploadTokens;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;

const GITHUB_SECRET: &str = "e2e-github-webhook-secret-9f3c";
const JIRA_WEBHOOK_SECRET: &str = "e2e-jira-webhook-secret-41ad";
const ARN_PREFIX: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:scantix/";

/// Secrets Manager's `GetSecretValue` (JSON 1.1 protocol), for the secrets named here.
async fn fake_secrets_manager(secrets: HashMap<String, String>) -> String {
    async fn get_secret_value(
        State(secrets): State<Arc<HashMap<String, String>>>,
        headers: HeaderMap,
        body: String,
    ) -> impl IntoResponse {
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let request: Value = serde_json::from_str(&body).unwrap_or_default();
        let id = request["SecretId"].as_str().unwrap_or_default();
        match (target, secrets.get(id)) {
            ("secretsmanager.GetSecretValue", Some(value)) => (
                StatusCode::OK,
                [("content-type", "application/x-amz-json-1.1")],
                json!({ "ARN": id, "Name": id, "SecretString": value, "VersionId": "v1" })
                    .to_string(),
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.1")],
                json!({ "__type": "ResourceNotFoundException", "message": format!("no secret {id}") })
                    .to_string(),
            ),
        }
    }
    let app = Router::new()
        .route("/", post(get_secret_value))
        .with_state(Arc::new(secrets));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// A real code scanning `created` delivery for alert `number` of rule `rule`.
fn alert(number: u64, rule: &str) -> Vec<u8> {
    varied(
        &octokit("code_scanning_alert/created.payload.json"),
        &[
            ("alert.number", json!(number)),
            ("alert.rule.id", json!(rule)),
        ],
    )
}

async fn post_github(
    http: &reqwest::Client,
    emulator: &Emulator,
    delivery: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let response = http
        .post(emulator.url("/lambda-url/github-webhook/"))
        .header("content-type", "application/json")
        .header("x-github-event", "code_scanning_alert")
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", sign(GITHUB_SECRET.as_bytes(), &body))
        .body(body)
        .send()
        .await
        .expect("the emulator answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Invokes the worker with `records` as one stream batch; returns its answer.
async fn invoke_worker(http: &reqwest::Client, emulator: &Emulator, records: &[Value]) -> Value {
    let response = http
        .post(emulator.url("/2015-03-31/functions/worker/invocations"))
        .json(&json!({ "Records": records }))
        .send()
        .await
        .expect("the emulator answers");
    assert!(response.status().is_success(), "{response:?}");
    response.json().await.expect("the worker answers JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_through_the_function_urls_become_tickets() {
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let store = local_store().await;
    let table = store.table().to_owned();
    let secrets = fake_secrets_manager(HashMap::from([
        (
            format!("{ARN_PREFIX}github-webhook"),
            GITHUB_SECRET.to_owned(),
        ),
        (
            format!("{ARN_PREFIX}jira-token"),
            CLOUD_API_TOKEN.to_owned(),
        ),
        (
            format!("{ARN_PREFIX}jira-webhook"),
            JIRA_WEBHOOK_SECRET.to_owned(),
        ),
    ]))
    .await;

    // What the SAM template gives each function (plus where the local AWS endpoints are).
    let aws = vec![
        ("SCANTIX_TABLE", table.clone()),
        // DynamoDB Local keeps one database per access key and region: the same as the test's store.
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", local_endpoint()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
    ];
    let with = |extra: &[(&'static str, String)]| {
        let mut env = aws.clone();
        env.extend(extra.iter().cloned());
        env
    };
    let mut emulator = Emulator::start();
    emulator.run_function(
        "github-webhook",
        &with(&[(
            "GITHUB_WEBHOOK_SECRET_ARN",
            format!("{ARN_PREFIX}github-webhook"),
        )]),
    );
    emulator.run_function(
        "jira-webhook",
        &with(&[
            ("JIRA_FLAVOR", "cloud".into()),
            (
                "JIRA_WEBHOOK_SECRET_ARN",
                format!("{ARN_PREFIX}jira-webhook"),
            ),
        ]),
    );
    emulator.run_function(
        "worker",
        &with(&[
            ("SCANTIX_TRACKER", "jira".into()),
            ("JIRA_URL", jira.base_url()),
            ("JIRA_FLAVOR", "cloud".into()),
            ("JIRA_PROJECT", "SEC".into()),
            ("JIRA_EMAIL", CLOUD_EMAIL.into()),
            ("JIRA_API_TOKEN_ARN", format!("{ARN_PREFIX}jira-token")),
        ]),
    );
    let http = scantix_tests::lambda_emulator::invocation_client();

    // Three deliveries over two rules, and GitHub's redelivery of the first.
    let (status, answer) = post_github(&http, &emulator, "e2e-1", alert(1, "js/rule-a")).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("accepted")),
        "{answer}\n{}",
        emulator.log("github-webhook")
    );
    let (status, _) = post_github(&http, &emulator, "e2e-2", alert(2, "js/rule-a")).await;
    assert_eq!(status, 202);
    let (status, _) = post_github(&http, &emulator, "e2e-3", alert(3, "js/rule-b")).await;
    assert_eq!(status, 202);
    let (status, answer) = post_github(&http, &emulator, "e2e-1", alert(1, "js/rule-a")).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    // A wrong signature is refused at the door and stores nothing.
    let refused = http
        .post(emulator.url("/lambda-url/github-webhook/"))
        .header("x-github-event", "code_scanning_alert")
        .header("x-github-delivery", "e2e-forged")
        .header("x-hub-signature-256", sign(b"not-the-secret", b"{}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    // Nothing applied yet: the webhook function only stored the deliveries.
    assert!(jira.issue_keys().is_empty());

    // The event source mapping: the stream's inbox INSERTs, in one batch, to the worker.
    let dynamodb = store.client().clone();
    let streams = local_streams_client(&local_endpoint()).await;
    let records = inbox_inserts(&dynamodb, &streams, &table).await;
    assert_eq!(records.len(), 3, "one INSERT per accepted delivery");
    let answer = invoke_worker(&http, &emulator, &records).await;
    assert_eq!(
        answer,
        json!({ "batchItemFailures": [] }),
        "{}",
        emulator.log("worker")
    );

    // Two rules → two Jira issues; every inbox item done; the groups know their tickets.
    assert_eq!(jira.issue_keys().len(), 2, "{}", emulator.log("worker"));
    assert!(store.pending_inbox(10).await.unwrap().is_empty());
    for id in ["github:e2e-1", "github:e2e-2", "github:e2e-3"] {
        let item = store.get_inbox(id).await.unwrap().expect("stored");
        assert_eq!(item.status, InboxStatus::Done, "{id}");
    }
    let groups = scantix_tests::stored::groups(&store).await;
    assert_eq!(groups.len(), 2);
    assert!(groups.iter().all(|g| g.value.ticket.is_some()));

    // Jira's side: the ticket moved to In Progress, signed as Jira Cloud signs.
    let key = jira.issue_keys()[0].clone();
    let delivery = serde_json::to_vec(&jira.set_status(&key, "In Progress", None)).unwrap();
    let response = http
        .post(emulator.url("/lambda-url/jira-webhook/"))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature",
            sign(JIRA_WEBHOOK_SECRET.as_bytes(), &delivery),
        )
        .header("x-atlassian-webhook-identifier", "e2e-jira-1")
        .body(delivery)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        202,
        "{}",
        emulator.log("jira-webhook")
    );
    let records = inbox_inserts(&dynamodb, &streams, &table).await;
    assert_eq!(records.len(), 4);
    // The stream delivers at least once: the earlier records come again, harmlessly.
    let answer = invoke_worker(&http, &emulator, &records).await;
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    let jira_item = store.get_inbox("jira:e2e-jira-1").await.unwrap().unwrap();
    assert_eq!(
        jira_item.status,
        InboxStatus::Done,
        "{}",
        emulator.log("worker")
    );
    assert_eq!(jira.issue_keys().len(), 2, "no ticket twice");
    jira.assert_no_violations();

    // The logs: JSON lines that say which delivery and what came of it, and no secret in any.
    let secrets = [
        GITHUB_SECRET,
        JIRA_WEBHOOK_SECRET,
        CLOUD_API_TOKEN,
        // Jira Cloud's Basic credentials as they travel.
        &scantix_tests::fake_jira::Flavor::Cloud.authorization(),
    ];
    for function in ["github-webhook", "jira-webhook", "worker"] {
        let log = emulator.log(function);
        let lines: Vec<Value> = log
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{function}: not JSON ({e}): {l}"))
            })
            .collect();
        assert!(!lines.is_empty(), "{function} logged nothing");
        for secret in secrets {
            let bare = secret.trim_start_matches("Basic ");
            assert!(!log.contains(bare), "{function} logged a secret");
        }
        let outcomes: Vec<&Value> = lines
            .iter()
            .filter(|l| l["fields"]["outcome"].is_string())
            .collect();
        assert!(
            !outcomes.is_empty(),
            "{function}: no line with an outcome:\n{log}"
        );
        assert!(
            outcomes.iter().all(|l| l["spans"]
                .as_array()
                .is_some_and(|spans| spans.iter().any(|s| s["delivery"].is_string()))),
            "{function}: an outcome without its delivery id:\n{log}"
        );
    }
    let worker_log = emulator.log("worker");
    assert!(
        worker_log.contains("\"repository\""),
        "the worker's lines name the repository:\n{worker_log}"
    );
    assert!(
        worker_log.contains("\"group\""),
        "the worker's lines name the group:\n{worker_log}"
    );
}

// ----- A SARIF upload through the deployed functions -----

const UPLOAD_TOKEN_SECRET: &str = "e2e-upload-token-secret-7c2e";
const INSTALLATION: u64 = 4242;
const REPOSITORY: &str = "octo-org/scanned";
const REPOSITORY_ID: u64 = 1296269;
const SHA: &str = "e6a08c5e3fd3ad86ae40b5b8b6bf0b0a6e8b3f11";
/// The function's bound on bytes on the wire, as the template's `UploadMaxBodyBytes` sets it: the
/// real Semgrep file below fits gzipped (~20 KB) and not as it is (260 KB).
const MAX_BODY: usize = 128 * 1024;
const SEMGREP: &str = "sarif/semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// POSTs `body` to the webhook function's `/sarif` route as a CI job would.
async fn post_sarif(
    http: &reqwest::Client,
    emulator: &Emulator,
    token: &str,
    body: Vec<u8>,
    gzipped: bool,
) -> (u16, Value) {
    let mut request = http
        .post(emulator.url(&format!(
            "/lambda-url/github-webhook/sarif?repository={REPOSITORY}&ref=refs/heads/main&commit={SHA}&category=semgrep"
        )))
        .header("content-type", "application/sarif+json")
        .bearer_auth(token)
        .body(body);
    if gzipped {
        request = request.header("content-encoding", "gzip");
    }
    let response = request.send().await.expect("the emulator answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzipped_sarif_upload_with_an_upload_token_becomes_findings_and_tickets() {
    let jira = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let store = local_store().await;
    let table = store.table().to_owned();
    // The App's installation covering the repository, as its `installation` delivery stored it.
    store
        .put_installation(Guarded {
            value: InstallationRecord {
                id: INSTALLATION,
                account: "octo-org".into(),
                active: true,
                repositories: [(
                    REPOSITORY_ID,
                    CoveredRepository {
                        id: REPOSITORY_ID,
                        full_name: REPOSITORY.into(),
                        active: true,
                        sync: Default::default(),
                    },
                )]
                .into_iter()
                .collect(),
                updated_at: chrono::Utc::now(),
            },
            expected_version: None,
            previous: None,
        })
        .await
        .unwrap();
    let secrets = fake_secrets_manager(HashMap::from([
        (
            format!("{ARN_PREFIX}github-webhook"),
            GITHUB_SECRET.to_owned(),
        ),
        (
            format!("{ARN_PREFIX}upload-token"),
            UPLOAD_TOKEN_SECRET.to_owned(),
        ),
        (
            format!("{ARN_PREFIX}jira-token"),
            CLOUD_API_TOKEN.to_owned(),
        ),
    ]))
    .await;
    let aws = vec![
        ("SCANTIX_TABLE", table.clone()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", local_endpoint()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
    ];
    let with = |extra: &[(&'static str, String)]| {
        let mut env = aws.clone();
        env.extend(extra.iter().cloned());
        env
    };
    let mut emulator = Emulator::start();
    // Configured as the template configures it with `UploadTokenSecretArn` and
    // `UploadMaxBodyBytes` set (no audience: OIDC uploads off, the fallback only).
    emulator.run_function(
        "github-webhook",
        &with(&[
            (
                "GITHUB_WEBHOOK_SECRET_ARN",
                format!("{ARN_PREFIX}github-webhook"),
            ),
            (
                "SCANTIX_UPLOAD_TOKEN_SECRET_ARN",
                format!("{ARN_PREFIX}upload-token"),
            ),
            ("SCANTIX_UPLOAD_MAX_BODY", MAX_BODY.to_string()),
        ]),
    );
    emulator.run_function(
        "worker",
        &with(&[
            ("SCANTIX_TRACKER", "jira".into()),
            ("JIRA_URL", jira.base_url()),
            ("JIRA_FLAVOR", "cloud".into()),
            ("JIRA_PROJECT", "SEC".into()),
            ("JIRA_EMAIL", CLOUD_EMAIL.into()),
            ("JIRA_API_TOKEN_ARN", format!("{ARN_PREFIX}jira-token")),
        ]),
    );
    let http = scantix_tests::lambda_emulator::invocation_client();
    let token = UploadTokens::new(Secret::new(UPLOAD_TOKEN_SECRET))
        .mint(INSTALLATION)
        .expose()
        .to_owned();
    let sarif = fixture(SEMGREP);
    let results = serde_json::from_slice::<Value>(&sarif).unwrap()["runs"][0]["results"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(results, 77, "the fixture as SOURCES.md describes it");

    // A token minted under another deployment's secret: 401, nothing stored.
    let forged = UploadTokens::new(Secret::new("another deployment's secret"))
        .mint(INSTALLATION)
        .expose()
        .to_owned();
    let (status, answer) = post_sarif(&http, &emulator, &forged, gzip(&sarif), true).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("bad_token")),
        "{answer}\n{}",
        emulator.log("github-webhook")
    );
    // The file as it is, over the function's wire bound: 413, nothing stored.
    assert!(sarif.len() > MAX_BODY);
    let (status, answer) = post_sarif(&http, &emulator, &token, sarif.clone(), false).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("payload_too_large")),
        "{answer}"
    );
    assert!(store.pending_inbox(10).await.unwrap().is_empty());

    // Gzipped, with the installation's token: accepted, durable, not yet applied.
    let wire = gzip(&sarif);
    assert!(wire.len() < MAX_BODY, "{}", wire.len());
    let (status, answer) = post_sarif(&http, &emulator, &token, wire.clone(), true).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("accepted")),
        "{answer}\n{}",
        emulator.log("github-webhook")
    );
    let delivery = answer["delivery"].as_str().unwrap().to_owned();
    // A CI retry of the same upload is the same delivery.
    let (status, again) = post_sarif(&http, &emulator, &token, wire, true).await;
    assert_eq!(
        (status, again["delivery"].as_str()),
        (200, Some(delivery.as_str())),
        "{again}"
    );
    let item = store.get_inbox(&delivery).await.unwrap().expect("stored");
    assert_eq!(item.status, InboxStatus::Pending);
    assert_eq!(item.body, sarif, "stored decompressed");
    assert!(jira.issue_keys().is_empty());

    // The stream hands the upload to the worker, which applies it as one analysis.
    let dynamodb = store.client().clone();
    let streams = local_streams_client(&local_endpoint()).await;
    let records = inbox_inserts(&dynamodb, &streams, &table).await;
    assert_eq!(records.len(), 1, "one INSERT for the one accepted upload");
    let answer = invoke_worker(&http, &emulator, &records).await;
    assert_eq!(
        answer,
        json!({ "batchItemFailures": [] }),
        "{}",
        emulator.log("worker")
    );
    let item = store.get_inbox(&delivery).await.unwrap().unwrap();
    assert_eq!(
        item.status,
        InboxStatus::Done,
        "{:?}\n{}",
        item.last_error,
        emulator.log("worker")
    );

    // Every result a finding of kind sarif on the default branch, each group one Jira issue.
    let groups = scantix_tests::stored::groups(&store).await;
    assert!(groups.len() > 1, "{} groups", groups.len());
    let mut findings = 0;
    for group in &groups {
        assert!(
            group.value.key.as_str().contains("sarif"),
            "{}",
            group.value.key
        );
        assert!(
            group.value.ticket.is_some(),
            "{} has no ticket",
            group.value.key
        );
        let members = scantix_tests::stored::findings(&store, &group.value.key).await;
        assert!(members.iter().all(|f| f.is_open() && f.is_ticketed()));
        findings += members.len();
    }
    assert_eq!(findings, results, "one finding per result");
    assert_eq!(jira.issue_keys().len(), groups.len());
    jira.assert_no_violations();

    // Redelivered by the stream: recognised, nothing new.
    let answer = invoke_worker(&http, &emulator, &records).await;
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    assert_eq!(jira.issue_keys().len(), groups.len(), "no ticket twice");

    // The token never reaches a log; the worker's line says what was applied.
    for function in ["github-webhook", "worker"] {
        let log = emulator.log(function);
        assert!(!log.contains(&token), "{function} logged the upload token");
        assert!(
            !log.contains(UPLOAD_TOKEN_SECRET),
            "{function} logged the secret"
        );
    }
    let worker_log = emulator.log("worker");
    assert!(
        worker_log.contains("upload applied"),
        "the worker says it applied the upload:\n{worker_log}"
    );
}
