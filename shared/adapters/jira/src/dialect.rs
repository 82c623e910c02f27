//! Everything in which Jira Cloud and Data Center disagree, in one place: API prefix, credentials,
//! text format, the search endpoint and how a user is named. The rest of the adapter is one code
//! path for both.

use super::settings::{Flavor, JiraAuth};
use super::{adf, wiki};
use ::http::HeaderValue;
use scantix_core::ticket::TicketContent;
use scantix_http::outbound;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect(pub Flavor);

impl Dialect {
    /// Where the REST API lives under the base URL. Cloud's v3 speaks ADF; v2 (the only one Data
    /// Center has) speaks wiki markup.
    pub fn api(self) -> &'static str {
        match self.0 {
            Flavor::Cloud => "/rest/api/3",
            Flavor::DataCenter => "/rest/api/2",
        }
    }

    /// The ticket description in the flavor's text format.
    pub fn description(self, content: &TicketContent) -> Value {
        match self.0 {
            Flavor::Cloud => adf::document(content),
            Flavor::DataCenter => Value::String(wiki::document(content)),
        }
    }

    /// A comment body: `text`, inert, then the marker line.
    pub fn comment(self, text: &str, marker: &str) -> Value {
        match self.0 {
            Flavor::Cloud => adf::comment(text, marker),
            Flavor::DataCenter => Value::String(wiki::comment(text, marker)),
        }
    }

    /// Whether a comment body as Jira returns it carries `marker`. Decided by the body's shape
    /// rather than the flavor, so a comment written through the other API version still counts.
    pub fn has_marker(self, body: &Value, marker: &str) -> bool {
        match body {
            Value::String(wiki) => wiki::has_marker(wiki, marker),
            adf => adf::has_marker(adf, marker),
        }
    }

    /// The search request for `jql`: Cloud's `search/jql` (the old `search` answers 410 there),
    /// Data Center's `search`. Only the issue key is asked for. On Cloud, whose search is
    /// eventually consistent, `reconcile` names issues (by numeric id, at most 50) the answer must
    /// show as they are now if they match: how a client reads its own writes
    /// (developer.atlassian.com/cloud/jira/platform/search-and-reconcile/). Data Center's index is
    /// written with the issue, and its `search` has no such parameter.
    pub fn search(self, jql: &str, max_results: u32, reconcile: &[u64]) -> (String, Value) {
        match self.0 {
            Flavor::Cloud => {
                let mut body = json!({ "jql": jql, "fields": ["key"], "maxResults": max_results });
                if !reconcile.is_empty() {
                    body["reconcileIssues"] = json!(&reconcile[..reconcile.len().min(50)]);
                }
                (format!("{}/search/jql", self.api()), body)
            }
            Flavor::DataCenter => (
                format!("{}/search", self.api()),
                json!({ "jql": jql, "fields": ["key"], "maxResults": max_results, "startAt": 0 }),
            ),
        }
    }

    /// The `assignee` field value: Cloud names users by account id (GDPR), Data Center by
    /// username.
    pub fn assignee(self, who: &str) -> Value {
        match self.0 {
            Flavor::Cloud => json!({ "accountId": who }),
            Flavor::DataCenter => json!({ "name": who }),
        }
    }

    /// The ids the credential's user goes by in webhook deliveries (`user`, comment `author`):
    /// Cloud's accountId; Data Center's user name, which deliveries carry, and its key, which
    /// survives renames. Empty ids are dropped.
    pub fn own_ids(self, me: Myself) -> Vec<String> {
        let ids = match self.0 {
            Flavor::Cloud => vec![me.account_id],
            Flavor::DataCenter => vec![me.name, me.key],
        };
        ids.into_iter()
            .flatten()
            .filter(|id| !id.trim().is_empty())
            .collect()
    }

    /// The `Authorization` header for `auth` (`None` when the credential cannot be a header
    /// value). The shared client marks it sensitive, so it never shows in debug output.
    pub fn authorization(self, auth: &JiraAuth) -> Option<HeaderValue> {
        match auth {
            JiraAuth::Cloud { email, api_token } => outbound::basic(email, api_token.expose()),
            JiraAuth::DataCenter { token } => outbound::bearer(token.expose()),
        }
    }
}

/// One page of search results: both endpoints return `issues[].key` (paging fields differ, and
/// are not needed: scantix asks for one page of at most two issues).
#[derive(Debug, Deserialize)]
pub struct SearchPage {
    #[serde(default)]
    pub issues: Vec<FoundIssue>,
}

#[derive(Debug, Deserialize)]
pub struct FoundIssue {
    pub key: String,
}

/// `GET /myself`, as far as telling scantix's own changes apart needs it.
#[derive(Debug, Default, Deserialize)]
pub struct Myself {
    #[serde(rename = "accountId", default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flavors_differ_only_where_jira_does() {
        let cloud = Dialect(Flavor::Cloud);
        let dc = Dialect(Flavor::DataCenter);
        assert_eq!(cloud.api(), "/rest/api/3");
        assert_eq!(dc.api(), "/rest/api/2");
        assert_eq!(cloud.search("x", 2, &[]).0, "/rest/api/3/search/jql");
        assert_eq!(dc.search("x", 2, &[]).0, "/rest/api/2/search");
        assert!(cloud.search("x", 2, &[]).1.get("startAt").is_none());
        assert!(cloud.search("x", 2, &[]).1.get("reconcileIssues").is_none());
        assert_eq!(
            cloud.search("x", 2, &[10001]).1["reconcileIssues"],
            json!([10001])
        );
        assert!(
            dc.search("x", 2, &[10001])
                .1
                .get("reconcileIssues")
                .is_none()
        );
        assert_eq!(cloud.assignee("abc"), json!({ "accountId": "abc" }));
        assert_eq!(dc.assignee("jdoe"), json!({ "name": "jdoe" }));
        assert!(cloud.comment("hi", "scantix ref 1").is_object());
        assert!(dc.comment("hi", "scantix ref 1").is_string());
    }

    #[test]
    fn the_credential_goes_by_the_ids_each_flavor_names_users_by() {
        let me = || Myself {
            account_id: Some("5b10ac8d82e05b22cc7d4ef5".into()),
            name: Some("scantix-bot".into()),
            key: Some("JIRAUSER10100".into()),
        };
        assert_eq!(
            Dialect(Flavor::Cloud).own_ids(me()),
            ["5b10ac8d82e05b22cc7d4ef5"]
        );
        assert_eq!(
            Dialect(Flavor::DataCenter).own_ids(me()),
            ["scantix-bot", "JIRAUSER10100"]
        );
        let blank = Myself {
            account_id: Some(" ".into()),
            ..Myself::default()
        };
        assert!(Dialect(Flavor::Cloud).own_ids(blank).is_empty());
    }

    #[test]
    fn markers_are_found_in_either_format() {
        for flavor in [Flavor::Cloud, Flavor::DataCenter] {
            let d = Dialect(flavor);
            let body = d.comment("Reopened", "scantix ref g-3");
            assert!(d.has_marker(&body, "scantix ref g-3"));
            assert!(!d.has_marker(&body, "scantix ref g-30"));
            assert!(!d.has_marker(&json!("scantix ref g-3"), "scantix ref g-3"));
        }
    }

    #[test]
    fn credentials_become_the_right_header() {
        let basic = Dialect(Flavor::Cloud)
            .authorization(&JiraAuth::Cloud {
                email: "bot@example.com".into(),
                api_token: scantix_core::secret::Secret::new("tok"),
            })
            .unwrap();
        assert_eq!(
            basic.to_str().unwrap(),
            "Basic Ym90QGV4YW1wbGUuY29tOnRvaw=="
        );
        let bearer = Dialect(Flavor::DataCenter)
            .authorization(&JiraAuth::DataCenter {
                token: scantix_core::secret::Secret::new("pat"),
            })
            .unwrap();
        assert_eq!(bearer, "Bearer pat");
    }
}
