//! Real webhook deliveries from `../shared/fixtures`, signed and wrapped as the Lambda function
//! receives them (a Function URL / API Gateway v2 event).

use lambda_http::Request;
use scantix_webhooks::signature::sign;
use serde_json::{Value, json};
use std::path::PathBuf;

/// The webhook secret every test signs with.
pub const SECRET: &str = "test-webhook-secret";

/// Absolute path of a file under the shared fixtures folder.
pub fn fixture_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(relative)
}

/// The raw bytes of a fixture, exactly as upstream wrote them.
pub fn fixture(relative: &str) -> Vec<u8> {
    let path = fixture_path(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

/// An octokit payload example: `octokit("code_scanning_alert/created.payload.json")`.
pub fn octokit(relative: &str) -> Vec<u8> {
    fixture(&format!(
        "github-webhooks/octokit-webhooks/payload-examples/api.github.com/{relative}"
    ))
}

/// A real payload with some fields replaced (`("alert.number", 11)`), to make more alerts of the
/// same shape. Only the named fields change.
pub fn varied(payload: &[u8], edits: &[(&str, Value)]) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(payload).expect("fixture is JSON");
    for (path, new) in edits {
        let mut target = &mut value;
        for part in path.split('.') {
            target = match part.parse::<usize>() {
                Ok(index) => &mut target[index],
                Err(_) => &mut target[part],
            };
        }
        *target = new.clone();
    }
    serde_json::to_vec(&value).expect("serialises")
}

/// A GitHub delivery as a Lambda HTTP event: signed with `SECRET` unless `signature` overrides it.
pub fn delivery_request(
    event: &str,
    delivery: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Request {
    let signature = signature.map_or_else(|| sign(SECRET.as_bytes(), body), str::to_owned);
    let text = String::from_utf8(body.to_vec()).expect("payloads are UTF-8");
    let lambda_event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "x-github-event": event,
            "x-github-delivery": delivery,
            "x-hub-signature-256": signature,
            "user-agent": "GitHub-Hookshot/test"
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "scantix",
            "domainName": "scantix.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "scantix",
            "http": { "method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "GitHub-Hookshot/test" },
            "requestId": delivery,
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795000000000u64
        },
        "body": text,
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&lambda_event.to_string()).expect("a valid Lambda HTTP event")
}
