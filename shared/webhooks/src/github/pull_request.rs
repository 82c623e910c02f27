//! `pull_request` deliveries → [`PullRequestEvent`]s: the lifecycle moments that change what a
//! pull request's code scanning summary says (opened, reopened, new commits, closed or merged).
//! Lenient like the alert parser: only the pull request's number and the repository's id and full
//! name are required; everything else that is missing or mistyped reads as unknown.

use super::alert::{PayloadError, parse_json_object};
use scantix_core::event::{PullRequestChange, PullRequestEvent};
use scantix_core::finding::Repository;
use serde_json::Value;

/// Reads a `pull_request` delivery (whose signature was already checked). `Ok(None)`: an action
/// that changes nothing scantix says (`edited`, `labeled`, `review_requested`, …), answered 2xx
/// and ignored. Errors name the JSON path of the field scantix cannot do without.
pub fn parse_pull_request(body: &[u8]) -> Result<Option<PullRequestEvent>, PayloadError> {
    let payload = parse_json_object(body)?;
    let Some(action) = payload["action"].as_str() else {
        return Ok(None);
    };
    let pull_request = &payload["pull_request"];
    let change = match action {
        "opened" => PullRequestChange::Opened,
        "reopened" => PullRequestChange::Reopened,
        "synchronize" => PullRequestChange::Synchronized,
        // Retargeted at another base branch: what it would resolve is measured against that one.
        "edited" if payload["changes"]["base"].is_object() => PullRequestChange::Synchronized,
        // `merged` is the one field that tells a merge from a plain close.
        "closed" if pull_request["merged"].as_bool() == Some(true) => PullRequestChange::Merged,
        "closed" => PullRequestChange::Closed,
        _ => return Ok(None),
    };
    if !pull_request.is_object() {
        return Err(missing("pull_request", "a JSON object"));
    }
    // The envelope's `number` and the pull request's own are the same; either will do.
    let number = payload["number"]
        .as_u64()
        .or_else(|| pull_request["number"].as_u64())
        .ok_or_else(|| missing("pull_request.number", "a number"))?;
    let repository = &payload["repository"];
    let repository = Repository {
        id: repository["id"]
            .as_u64()
            .ok_or_else(|| missing("repository.id", "a number"))?,
        full_name: text(&repository["full_name"])
            .ok_or_else(|| missing("repository.full_name", "a string"))?,
        default_branch: text(&repository["default_branch"]),
        html_url: text(&repository["html_url"]),
    };
    let base_ref = text(&pull_request["base"]["ref"])
        .filter(|base| repository.default_branch.as_deref() != Some(base.as_str()));
    Ok(Some(PullRequestEvent {
        change,
        action: action.to_owned(),
        repository,
        number,
        title: text(&pull_request["title"]).unwrap_or_default(),
        html_url: text(&pull_request["html_url"]),
        head_sha: text(&pull_request["head"]["sha"]),
        base_ref,
        actor: text(&payload["sender"]["login"]),
        installation_id: payload["installation"]["id"].as_u64(),
    }))
}

/// A non-empty string, else `None`.
fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn missing(path: &str, what: &str) -> PayloadError {
    PayloadError::Invalid {
        path: path.to_owned(),
        message: format!("required field is missing, null or not {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn fixture(relative: &str) -> Value {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/github-webhooks")
            .join(relative);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).expect("fixtures are JSON")
    }

    fn parse(payload: &Value) -> Result<Option<PullRequestEvent>, PayloadError> {
        parse_pull_request(&serde_json::to_vec(payload).expect("serialises"))
    }

    #[test]
    fn octocrabs_opened_synchronize_and_closed_deliveries_read() {
        let opened = parse(&fixture(
            "octocrab/webhooks/pull_request_opened_webhook_event.json",
        ))
        .unwrap()
        .expect("opened is acted on");
        assert_eq!(opened.change, PullRequestChange::Opened);
        assert_eq!(opened.number, 2);
        assert_eq!(opened.title, "[do not merge] test commit");
        assert_eq!(opened.repository.id, 537482687);
        assert_eq!(opened.repository.full_name, "gagbo/ouro-closures");
        assert_eq!(opened.installation_id, Some(7777777));
        assert_eq!(
            opened.head_sha.as_deref(),
            Some("36afaef2afdf0ce794d7e4663e7f327664aaa4d7")
        );

        let pushed = parse(&fixture(
            "octocrab/webhooks/pull_request_synchronize_webhook_event.json",
        ))
        .unwrap()
        .expect("synchronize is acted on");
        assert_eq!(pushed.change, PullRequestChange::Synchronized);
        assert_eq!(
            pushed.head_sha.as_deref(),
            Some("7e39d83fc6a99f2c6a02cc7637c4de8db50da6ca")
        );

        // The real `closed` delivery was not merged.
        let closed = fixture("octocrab/webhooks/pull_request_closed_webhook_event.json");
        let event = parse(&closed).unwrap().expect("closed is acted on");
        assert_eq!(event.change, PullRequestChange::Closed);
        let mut merged = closed.clone();
        merged["pull_request"]["merged"] = json!(true);
        let event = parse(&merged).unwrap().expect("merged is acted on");
        assert_eq!(event.change, PullRequestChange::Merged);
    }

    #[test]
    fn octokits_examples_read_with_their_sender() {
        let base = "octokit-webhooks/payload-examples/api.github.com/pull_request";
        let opened = parse(&fixture(&format!("{base}/opened.payload.json")))
            .unwrap()
            .expect("opened");
        assert_eq!(opened.actor.as_deref(), Some("Codertocat"));
        assert_eq!(
            opened.html_url.as_deref(),
            Some("https://github.com/Codertocat/Hello-World/pull/2")
        );
        let reopened = {
            let mut payload = fixture(&format!("{base}/opened.with-null-body.json"));
            payload["action"] = json!("reopened");
            parse(&payload).unwrap().expect("reopened")
        };
        assert_eq!(reopened.change, PullRequestChange::Reopened);
    }

    #[test]
    fn other_actions_are_not_acted_on() {
        let mut payload = fixture("octocrab/webhooks/pull_request_opened_webhook_event.json");
        for action in ["edited", "labeled", "review_requested", "ready_for_review"] {
            payload["action"] = json!(action);
            assert_eq!(parse(&payload), Ok(None), "{action}");
        }
        payload.as_object_mut().map(|p| p.remove("action"));
        assert_eq!(parse(&payload), Ok(None));
    }

    #[test]
    fn what_scantix_cannot_do_without_is_refused_at_its_path() {
        let opened = fixture("octocrab/webhooks/pull_request_opened_webhook_event.json");
        let path_of = |edit: &dyn Fn(&mut Value)| {
            let mut payload = opened.clone();
            edit(&mut payload);
            match parse(&payload) {
                Err(PayloadError::Invalid { path, .. }) => path,
                other => panic!("expected a refusal, got {other:?}"),
            }
        };
        assert_eq!(
            path_of(&|p| {
                p["number"] = json!("two");
                p["pull_request"]["number"] = Value::Null;
            }),
            "pull_request.number"
        );
        assert_eq!(
            path_of(&|p| p["repository"]["id"] = json!("x")),
            "repository.id"
        );
        assert_eq!(
            path_of(&|p| p["pull_request"] = json!([1, 2])),
            "pull_request"
        );
        assert!(matches!(
            parse_pull_request(b"[1]"),
            Err(PayloadError::Invalid { .. })
        ));
        assert!(matches!(
            parse_pull_request(b"{\"action\":"),
            Err(PayloadError::NotJson { .. })
        ));
    }

    #[test]
    fn a_base_other_than_the_default_branch_is_kept_and_a_retarget_is_acted_on() {
        let mut payload = fixture("octocrab/webhooks/pull_request_opened_webhook_event.json");
        let default = payload["repository"]["default_branch"].clone();
        payload["pull_request"]["base"]["ref"] = default;
        assert_eq!(parse(&payload).unwrap().unwrap().base_ref, None);
        payload["pull_request"]["base"]["ref"] = json!("release/2.x");
        let on_release = parse(&payload).unwrap().unwrap();
        assert_eq!(on_release.base_ref.as_deref(), Some("release/2.x"));

        payload["action"] = json!("edited");
        payload["changes"] = json!({ "base": { "ref": { "from": "main" } } });
        let retargeted = parse(&payload).unwrap().expect("a retarget is acted on");
        assert_eq!(retargeted.change, PullRequestChange::Synchronized);
        assert_eq!(retargeted.base_ref.as_deref(), Some("release/2.x"));
    }

    #[test]
    fn a_missing_title_or_head_is_unknown_not_an_error() {
        let mut payload = fixture("octocrab/webhooks/pull_request_opened_webhook_event.json");
        payload["pull_request"]["title"] = json!(42);
        payload["pull_request"]["head"] = Value::Null;
        payload.as_object_mut().map(|p| p.remove("installation"));
        let event = parse(&payload).unwrap().expect("still read");
        assert_eq!(event.title, "");
        assert_eq!(event.head_sha, None);
        assert_eq!(event.installation_id, None);
    }
}
