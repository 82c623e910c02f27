//! The requests the GitHub port makes, as GitHub's OpenAPI description gives them: paths with
//! each segment percent-encoded, each list endpoint's own query parameters and cursors, the
//! dismissal bodies each alert kind spells its way; and the contents API's answer, decoded.

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use scantix_core::finding::{AlertKind, DismissReason, Repository};
use scantix_core::ports::github::{AlertQuery, AlertStateFilter, GitHubError};
use serde_json::{Value, json};
use std::fmt;

/// Longest `dismissed_comment` code scanning and Dependabot accept (`maxLength` in the
/// description); longer comments are cut to it.
const MAX_DISMISSAL_COMMENT: usize = 280;

/// `/repos/{owner}/{repo}`, each part percent-encoded.
pub(crate) fn repo_path(repo: &Repository) -> Result<String, GitHubError> {
    match repo.full_name.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(format!("/repos/{}/{}", encode(owner), encode(name)))
        }
        _ => Err(GitHubError::Refused(format!(
            "repository name {:?} is not `owner/name`",
            repo.full_name
        ))),
    }
}

/// `/repos/{owner}/{repo}/{code-scanning|dependabot|secret-scanning}/alerts/{number}`.
pub(crate) fn alert_path(
    repo: &Repository,
    kind: AlertKind,
    number: u64,
) -> Result<String, GitHubError> {
    Ok(format!(
        "{}/{}/alerts/{number}",
        repo_path(repo)?,
        kind.as_str()
    ))
}

/// The list endpoint with the parameters its description accepts: all three sort by `updated`,
/// `desc` (so `since` can stop early), take `per_page` up to 100 and a `state` of their own words;
/// code scanning pages by `page`, Dependabot by the `after` cursor, secret scanning by either.
pub(crate) fn list_path(
    repo: &Repository,
    kind: AlertKind,
    query: &AlertQuery,
) -> Result<String, GitHubError> {
    let mut params: Vec<(&str, String)> = vec![
        ("sort", "updated".to_owned()),
        ("direction", "desc".to_owned()),
        ("per_page", query.page_size().to_string()),
    ];
    match (&query.git_ref, kind) {
        // No `state` with a ref: GitHub filters on the alert's own state, which for an alert
        // found only on that ref is `null`; the states on the ref are filtered after reading.
        (Some(git_ref), AlertKind::CodeScanning) => params.push(("ref", git_ref.clone())),
        (Some(_), _) => {
            return Err(GitHubError::Refused(format!(
                "{kind} alerts are not listed per ref"
            )));
        }
        (None, _) => {
            if let Some(state) = query.state {
                params.push(("state", state_param(kind, state).to_owned()));
            }
        }
    }
    if kind == AlertKind::SecretScanning {
        params.push(("hide_secret", "true".to_owned()));
    }
    if let Some(cursor) = &query.cursor {
        let cursor = Cursor::parse(cursor)?;
        match (kind, &cursor) {
            (AlertKind::CodeScanning, Cursor::After(_))
            | (AlertKind::Dependabot, Cursor::Page(_)) => {
                return Err(GitHubError::Refused(format!(
                    "cursor {cursor} does not page {kind} alerts"
                )));
            }
            (_, Cursor::Page(page)) => params.push(("page", page.to_string())),
            (_, Cursor::After(after)) => params.push(("after", after.clone())),
        }
    }
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    Ok(format!(
        "{}/{}/alerts?{}",
        repo_path(repo)?,
        kind.as_str(),
        query.join("&")
    ))
}

/// The `state` filter as each kind's list endpoint spells it. The listing filters again on the
/// state scantix reads (a resolved secret is fixed when revoked, dismissed otherwise).
pub(crate) fn state_param(kind: AlertKind, state: AlertStateFilter) -> &'static str {
    match (kind, state) {
        (_, AlertStateFilter::Open) => "open",
        (AlertKind::CodeScanning | AlertKind::Dependabot, AlertStateFilter::Fixed) => "fixed",
        // SARIF findings never reach GitHub (`AlertKind::is_github_alert`); spelled as their kin.
        (AlertKind::CodeScanning | AlertKind::Sarif, AlertStateFilter::Dismissed) => "dismissed",
        (AlertKind::Sarif, AlertStateFilter::Fixed) => "fixed",
        (AlertKind::Dependabot, AlertStateFilter::Dismissed) => "dismissed,auto_dismissed",
        (AlertKind::SecretScanning, _) => "resolved",
    }
}

/// The PATCH body that closes an alert without a fix, as each kind's description requires.
pub(crate) fn dismissal_body(kind: AlertKind, reason: DismissReason, comment: &str) -> Value {
    let reason = reason.spelling(kind);
    let comment = comment.trim();
    let mut body = match kind {
        AlertKind::CodeScanning | AlertKind::Dependabot | AlertKind::Sarif => {
            json!({"state": "dismissed", "dismissed_reason": reason})
        }
        AlertKind::SecretScanning => json!({"state": "resolved", "resolution": reason}),
    };
    if !comment.is_empty() {
        let (field, text) = match kind {
            AlertKind::CodeScanning | AlertKind::Sarif => ("dismissed_comment", shortened(comment)),
            AlertKind::Dependabot => ("dismissed_comment", shortened(comment)),
            // The description sets no length limit on a resolution comment.
            AlertKind::SecretScanning => ("resolution_comment", comment.to_owned()),
        };
        body[field] = Value::String(text);
    }
    body
}

/// The PATCH body that assigns an alert of `kind` to `login` (`None`: to nobody), as GitHub's
/// description has each kind take it: `assignees` (a list, replaced) for code scanning and
/// Dependabot, `assignee` (one login or `null`) for secret scanning.
pub(crate) fn assignment_body(kind: AlertKind, login: Option<&str>) -> Value {
    match kind {
        AlertKind::SecretScanning => json!({ "assignee": login }),
        AlertKind::CodeScanning | AlertKind::Dependabot | AlertKind::Sarif => {
            json!({ "assignees": login.into_iter().collect::<Vec<_>>() })
        }
    }
}

/// `comment` cut to `MAX_DISMISSAL_COMMENT` characters, ending in `…` when cut.
pub(crate) fn shortened(comment: &str) -> String {
    if comment.chars().count() <= MAX_DISMISSAL_COMMENT {
        return comment.to_owned();
    }
    let mut cut: String = comment.chars().take(MAX_DISMISSAL_COMMENT - 1).collect();
    cut.push('…');
    cut
}

/// Where a listing goes on: a page number (code scanning, secret scanning) or an `after` cursor
/// (Dependabot), as GitHub's `Link: <…>; rel="next"` gives it. Spelled `page=N` / `after=X`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cursor {
    Page(u32),
    After(String),
}

impl Cursor {
    pub(crate) fn parse(text: &str) -> Result<Cursor, GitHubError> {
        let invalid = || GitHubError::Refused(format!("not a listing cursor: {text:?}"));
        match text.split_once('=') {
            Some(("page", page)) => page
                .parse()
                .ok()
                .filter(|p| *p >= 1)
                .map(Cursor::Page)
                .ok_or_else(invalid),
            Some(("after", after)) if !after.is_empty() => Ok(Cursor::After(after.to_owned())),
            _ => Err(invalid()),
        }
    }

    /// The cursor of a `rel="next"` URL: its `after`, else its `page`.
    pub(crate) fn from_link(url: &str) -> Option<Cursor> {
        let url = url::Url::parse(url).ok()?;
        let param = |name: &str| {
            url.query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        match param("after") {
            Some(after) if !after.is_empty() => Some(Cursor::After(after)),
            _ => param("page")?.parse().ok().map(Cursor::Page),
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cursor::Page(page) => write!(f, "page={page}"),
            Cursor::After(after) => write!(f, "after={after}"),
        }
    }
}

/// A file's text from a contents API answer.
pub(crate) fn decode_file(path: &str, contents: &Value) -> Result<String, GitHubError> {
    let refused = |why: &str| Err(GitHubError::Refused(format!("{path}: {why}")));
    if contents.is_array() {
        return refused("is a directory");
    }
    if contents["type"] != "file" {
        return refused(&format!("is a {}, not a file", contents["type"]));
    }
    // Files over 1 MB come with `"encoding": "none"` and no content.
    if contents["encoding"] != "base64" {
        return refused("is too large for the contents API");
    }
    let encoded: String = contents["content"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return refused("content is not base64");
    };
    String::from_utf8(bytes).or_else(|_| refused("is not UTF-8 text"))
}

/// RFC 3986's unreserved characters: everything else in a path segment or a query value is
/// percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// A repository path, each segment encoded; empty segments (`a//b`, a trailing `/`) refused.
pub(crate) fn encode_path(path: &str) -> Result<String, GitHubError> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(GitHubError::Refused(format!("not a file path: {path:?}")));
    }
    Ok(segments
        .into_iter()
        .map(encode)
        .collect::<Vec<_>>()
        .join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::link_target;

    fn repo() -> Repository {
        Repository {
            id: 1,
            full_name: "octo-org/hello world".into(),
            default_branch: Some("main".into()),
            html_url: None,
        }
    }

    #[test]
    fn list_paths_use_only_parameters_each_endpoint_takes() {
        let query = AlertQuery {
            state: Some(AlertStateFilter::Dismissed),
            per_page: 250,
            ..AlertQuery::default()
        };
        assert_eq!(
            list_path(
                &repo(),
                AlertKind::Dependabot,
                &query.at(Some("after=Y3Vy+c29y".into()))
            )
            .unwrap(),
            "/repos/octo-org/hello%20world/dependabot/alerts?sort=updated&direction=desc\
             &per_page=100&state=dismissed%2Cauto_dismissed&after=Y3Vy%2Bc29y"
        );
        assert_eq!(
            list_path(
                &repo(),
                AlertKind::CodeScanning,
                &query.at(Some("page=3".into()))
            )
            .unwrap(),
            "/repos/octo-org/hello%20world/code-scanning/alerts?sort=updated&direction=desc\
             &per_page=100&state=dismissed&page=3"
        );
        assert_eq!(
            list_path(&repo(), AlertKind::SecretScanning, &AlertQuery::open()).unwrap(),
            "/repos/octo-org/hello%20world/secret-scanning/alerts?sort=updated&direction=desc\
             &per_page=100&state=open&hide_secret=true"
        );
        for (kind, cursor) in [
            (AlertKind::CodeScanning, "after=x"),
            (AlertKind::Dependabot, "page=2"),
            (AlertKind::SecretScanning, "page=0"),
            (AlertKind::SecretScanning, "https://api.github.com/x?page=2"),
        ] {
            let result = list_path(&repo(), kind, &query.at(Some(cursor.into())));
            assert!(
                matches!(result, Err(GitHubError::Refused(_))),
                "{kind} {cursor}"
            );
        }
    }

    #[test]
    fn a_pull_requests_listing_names_its_ref_and_no_state() {
        let query = AlertQuery {
            state: Some(AlertStateFilter::Open),
            ..AlertQuery::pull_request(7)
        };
        assert_eq!(
            list_path(&repo(), AlertKind::CodeScanning, &query).unwrap(),
            "/repos/octo-org/hello%20world/code-scanning/alerts?sort=updated&direction=desc\
             &per_page=100&ref=refs%2Fpull%2F7%2Fmerge"
        );
        assert!(matches!(
            list_path(&repo(), AlertKind::Dependabot, &query),
            Err(GitHubError::Refused(_))
        ));
    }

    #[test]
    fn next_links_give_page_numbers_or_cursors() {
        let pages = r#"<https://api.github.com/repositories/1/code-scanning/alerts?per_page=100&state=dismissed,fixed&page=2>; rel="next", <https://api.github.com/repositories/1/code-scanning/alerts?per_page=100&page=10>; rel="last""#;
        let next = link_target(pages, "next").unwrap();
        assert_eq!(Cursor::from_link(&next), Some(Cursor::Page(2)));
        assert_eq!(link_target(pages, "prev"), None);
        let cursors = r#"<https://ghe.example.com/api/v3/repos/o/r/dependabot/alerts?per_page=100&after=Y3Vyc29yOnYyOpK0%3D>; rel="next""#;
        let next = Cursor::from_link(&link_target(cursors, "next").unwrap()).unwrap();
        assert_eq!(next, Cursor::After("Y3Vyc29yOnYyOpK0=".into()));
        assert_eq!(Cursor::parse(&next.to_string()).unwrap(), next);
    }

    #[test]
    fn dismissal_bodies_spell_each_kind_its_way() {
        let long = "x".repeat(400);
        let code = dismissal_body(AlertKind::CodeScanning, DismissReason::WontFix, &long);
        assert_eq!(code["state"], "dismissed");
        assert_eq!(code["dismissed_reason"], "won't fix");
        let comment = code["dismissed_comment"].as_str().unwrap();
        assert_eq!(comment.chars().count(), 280);
        assert!(comment.ends_with('…'));
        assert_eq!(
            dismissal_body(AlertKind::Dependabot, DismissReason::WontFix, "accepted"),
            json!({"state": "dismissed", "dismissed_reason": "tolerable_risk", "dismissed_comment": "accepted"})
        );
        assert_eq!(
            dismissal_body(AlertKind::SecretScanning, DismissReason::WontFix, " "),
            json!({"state": "resolved", "resolution": "wont_fix"})
        );
    }

    #[test]
    fn files_decode_from_the_contents_answer() {
        let file = json!({"type": "file", "encoding": "base64", "content": "amlyYTog\ne30K\n"});
        assert_eq!(decode_file("a.yml", &file).unwrap(), "jira: {}\n");
        assert!(decode_file("src", &json!([])).is_err());
        assert!(
            decode_file(
                "big",
                &json!({"type": "file", "encoding": "none", "content": ""})
            )
            .is_err()
        );
        assert_eq!(
            encode_path("/.github/scantix config.yml").unwrap(),
            ".github/scantix%20config.yml"
        );
        assert!(encode_path("a/../b").is_err());
    }
}
