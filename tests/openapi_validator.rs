//! The request validator against the real OpenAPI subsets in `../shared/fixtures`: it accepts the
//! requests the Jira and GitHub adapters make, and refuses each kind of mistake it claims to catch.

use scantix_tests::openapi::OpenApi;
use scantix_tests::webhooks::fixture_path;
use serde_json::{Value, json};
use std::sync::OnceLock;

fn jira() -> &'static OpenApi {
    static JIRA: OnceLock<OpenApi> = OnceLock::new();
    JIRA.get_or_init(|| {
        OpenApi::load(fixture_path("jira-openapi/jira-openapi-subset.json")).expect("Jira subset")
    })
}

fn github() -> &'static OpenApi {
    static GITHUB: OnceLock<OpenApi> = OnceLock::new();
    GITHUB.get_or_init(|| {
        OpenApi::load(fixture_path("github-openapi/github-openapi-subset.json"))
            .expect("GitHub subset")
    })
}

/// The violations of a request that must be refused; fails if it was accepted.
fn refused(result: Result<(), Vec<String>>) -> Vec<String> {
    match result {
        Ok(()) => panic!("the request was accepted, but should have been refused"),
        Err(violations) => violations,
    }
}

fn assert_mentions(violations: &[String], expected: &str) {
    assert!(
        violations.iter().any(|v| v.contains(expected)),
        "expected a violation containing {expected:?}, got {violations:#?}"
    );
}

fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

fn create_issue_body() -> Value {
    json!({
        "fields": {
            "project": {"key": "SEC"},
            "issuetype": {"name": "Bug"},
            "summary": "CWE-79: Reflected XSS in src/app.js (3 alerts)",
            "description": adf("Three alerts of js/reflected-xss."),
            "labels": ["scantix", "scantix-3f2a9c"],
            "priority": {"name": "High"}
        },
        "properties": [
            {"key": "scantix", "value": {"groupKey": "repo:1/code_scanning/rule:js/reflected-xss"}}
        ]
    })
}

mod accepts_real_requests {
    use super::*;

    #[test]
    fn jira_create_issue_with_fields_and_properties() {
        let body = create_issue_body();
        assert_eq!(
            jira().check_request("POST", "/rest/api/3/issue", "", Some(&body)),
            Ok(())
        );
    }

    #[test]
    fn jira_create_issue_example_from_the_description_itself() {
        let doc: Value = serde_json::from_slice(&scantix_tests::webhooks::fixture(
            "jira-openapi/jira-openapi-subset.json",
        ))
        .expect("JSON");
        let media = &doc["paths"]["/rest/api/3/issue"]["post"]["requestBody"]["content"];
        let example = &media["application/json"]["example"];
        assert_eq!(
            jira().check_request("POST", "/rest/api/3/issue", "", Some(example)),
            Ok(())
        );
    }

    #[test]
    fn jira_edit_with_update_operations_and_query_flags() {
        let body = json!({
            "fields": {"summary": "CWE-79: Reflected XSS in src/app.js (4 alerts)"},
            "update": {"labels": [{"add": "scantix-stale"}, {"remove": "scantix-new"}]}
        });
        let result = jira().check_request(
            "PUT",
            "/rest/api/3/issue/SEC-1",
            "notifyUsers=false",
            Some(&body),
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn jira_get_issue_with_array_query_parameters() {
        let query = "fields=summary,status,labels&properties=scantix&fieldsByKeys=true";
        assert_eq!(
            jira().check_request("GET", "/rest/api/3/issue/SEC-12", query, None),
            Ok(())
        );
    }

    #[test]
    fn jira_transition_with_resolution_and_comment() {
        let body = json!({
            "transition": {"id": "31"},
            "fields": {"resolution": {"name": "Won't Do"}},
            "update": {"comment": [{"add": {"body": adf("Dismissed in GitHub.")}}]}
        });
        let result = jira().check_request(
            "POST",
            "/rest/api/3/issue/SEC-1/transitions",
            "",
            Some(&body),
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn jira_comment_with_adf_body_and_property() {
        let body = json!({
            "body": adf("Alert 12 was fixed."),
            "properties": [{"key": "scantix", "value": {"commentId": "g1/op7"}}]
        });
        let result =
            jira().check_request("POST", "/rest/api/3/issue/SEC-1/comment", "", Some(&body));
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn jira_search_jql_get_and_post() {
        let query = "jql=project%20%3D%20SEC%20AND%20labels%20%3D%20%22scantix-3f2a9c%22\
                     &fields=key,status&properties=scantix&maxResults=10";
        assert_eq!(
            jira().check_request("GET", "/rest/api/3/search/jql", query, None),
            Ok(())
        );
        let body = json!({
            "jql": "project = SEC AND issue.property[scantix].groupKey = \"g1\"",
            "fields": ["key", "status"],
            "properties": ["scantix"],
            "maxResults": 10,
            "nextPageToken": "CAEaAggD"
        });
        let result = jira().check_request("POST", "/rest/api/3/search/jql", "", Some(&body));
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn github_dismiss_code_scanning_alert() {
        let body = json!({"state": "dismissed", "dismissed_reason": "won't fix"});
        let result = github().check_request(
            "PATCH",
            "/repos/octo-org/hello-world/code-scanning/alerts/1",
            "",
            Some(&body),
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn github_reopen_with_a_null_reason() {
        // `dismissed_reason` is nullable: clearing it is allowed.
        let body = json!({"state": "open", "dismissed_reason": null});
        let result = github().check_request(
            "PATCH",
            "/repos/o/r/code-scanning/alerts/1",
            "",
            Some(&body),
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn github_list_alerts_with_enum_and_integer_query() {
        let query = "state=open&per_page=100&page=2&sort=updated&direction=asc";
        assert_eq!(
            github().check_request("GET", "/repos/o/r/code-scanning/alerts", query, None),
            Ok(())
        );
    }

    #[test]
    fn github_contents_path_spans_several_segments() {
        let result = github().check_request(
            "GET",
            "/repos/o/r/contents/.github/scantix.yml",
            "ref=main",
            None,
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn github_create_issue_with_labels_as_strings_and_objects() {
        let body = json!({
            "title": "Reflected XSS",
            "body": "…",
            "labels": ["security", {"name": "scantix"}]
        });
        let result = github().check_request("POST", "/repos/o/r/issues", "", Some(&body));
        assert_eq!(result, Ok(()));
    }
}

mod refuses {
    use super::*;

    #[test]
    fn an_unknown_path() {
        let violations = refused(jira().check_request("GET", "/rest/api/3/issues/SEC-1", "", None));
        assert_mentions(&violations, "/rest/api/3/issues/SEC-1: no such path");
    }

    #[test]
    fn a_trailing_slash() {
        refused(jira().check_request("GET", "/rest/api/3/issue/SEC-1/", "", None));
    }

    #[test]
    fn a_wrong_method() {
        let body = json!({"fields": {"summary": "x"}});
        let violations =
            refused(jira().check_request("PATCH", "/rest/api/3/issue/SEC-1", "", Some(&body)));
        assert_mentions(
            &violations,
            "PATCH /rest/api/3/issue/{issueIdOrKey}: method not allowed",
        );
        assert_mentions(&violations, "GET, PUT");
    }

    #[test]
    fn a_missing_required_body() {
        let violations = refused(jira().check_request("POST", "/rest/api/3/issue", "", None));
        assert_mentions(&violations, "body: a request body is required");
    }

    #[test]
    fn a_body_where_none_is_taken() {
        let body = json!({"jql": "project = SEC"});
        let violations = refused(jira().check_request(
            "GET",
            "/rest/api/3/issue/SEC-1/transitions",
            "",
            Some(&body),
        ));
        assert_mentions(&violations, "body: this operation takes no request body");
    }

    #[test]
    fn a_missing_required_property() {
        // Entity properties need a key; and a remote link needs its object.
        let body = json!({"globalId": "scantix:1"});
        let violations = refused(jira().check_request(
            "POST",
            "/rest/api/3/issue/SEC-1/remotelink",
            "",
            Some(&body),
        ));
        assert_mentions(&violations, "body.object: required property missing");
    }

    #[test]
    fn a_missing_required_property_in_an_any_of() {
        // GitHub wants `state` or `assignees` in an alert update.
        let body = json!({"dismissed_reason": "won't fix"});
        let violations = refused(github().check_request(
            "PATCH",
            "/repos/o/r/code-scanning/alerts/1",
            "",
            Some(&body),
        ));
        assert_mentions(&violations, "body: matches none of the anyOf alternatives");
        assert_mentions(&violations, "body.state: required property missing");
    }

    #[test]
    fn a_wrong_type() {
        let body = json!({"fields": {"summary": "x"}, "properties": {"key": "scantix"}});
        let violations =
            refused(jira().check_request("POST", "/rest/api/3/issue", "", Some(&body)));
        assert_mentions(&violations, "body.properties: expected array, got object");
    }

    #[test]
    fn a_number_where_a_string_is_expected() {
        let body = json!({"transition": {"id": 31}});
        let violations = refused(jira().check_request(
            "POST",
            "/rest/api/3/issue/SEC-1/transitions",
            "",
            Some(&body),
        ));
        assert_eq!(
            violations,
            vec!["body.transition.id: expected string, got number".to_owned()]
        );
    }

    #[test]
    fn a_fraction_where_an_integer_is_expected() {
        let body = json!({"jql": "project = SEC", "maxResults": 2.5});
        let violations =
            refused(jira().check_request("POST", "/rest/api/3/search/jql", "", Some(&body)));
        assert_mentions(
            &violations,
            "body.maxResults: expected integer, got number 2.5",
        );
    }

    #[test]
    fn a_bad_enum_value() {
        let body = json!({"state": "dismissed", "dismissed_reason": "wont_fix"});
        let violations = refused(github().check_request(
            "PATCH",
            "/repos/o/r/code-scanning/alerts/1",
            "",
            Some(&body),
        ));
        assert_mentions(
            &violations,
            "body.dismissed_reason: \"wont_fix\" is not one of",
        );
    }

    #[test]
    fn a_read_only_property_sent() {
        // The transition's name is what Jira reports, not what a client may set.
        let body = json!({"transition": {"id": "31", "name": "Done"}});
        let violations = refused(jira().check_request(
            "POST",
            "/rest/api/3/issue/SEC-1/transitions",
            "",
            Some(&body),
        ));
        assert_eq!(
            violations,
            vec!["body.transition.name: is read-only and must not be sent"]
        );
    }

    #[test]
    fn an_unknown_property_where_additional_properties_is_false() {
        let body = json!({"jql": "project = SEC", "startAt": 50});
        let violations =
            refused(jira().check_request("POST", "/rest/api/3/search/jql", "", Some(&body)));
        assert_mentions(
            &violations,
            "body.startAt: unknown property (additionalProperties is false",
        );
    }

    #[test]
    fn an_unknown_key_in_an_update_operation() {
        let body = json!({"update": {"labels": [{"append": "x"}]}});
        let violations =
            refused(jira().check_request("PUT", "/rest/api/3/issue/SEC-1", "", Some(&body)));
        assert_mentions(
            &violations,
            "body.update.labels[0].append: unknown property",
        );
    }

    #[test]
    fn a_query_parameter_of_the_wrong_type() {
        let violations = refused(jira().check_request(
            "GET",
            "/rest/api/3/search/jql",
            "jql=project%3DSEC&maxResults=ten",
            None,
        ));
        assert_eq!(
            violations,
            vec!["query.maxResults: expected integer, got string \"ten\""]
        );
    }

    #[test]
    fn a_boolean_query_parameter_that_is_not_one() {
        let violations = refused(jira().check_request(
            "GET",
            "/rest/api/3/issue/SEC-1",
            "fieldsByKeys=yes",
            None,
        ));
        assert_mentions(&violations, "query.fieldsByKeys: expected boolean");
    }

    #[test]
    fn a_query_enum_value_out_of_range() {
        let violations = refused(github().check_request(
            "GET",
            "/repos/o/r/code-scanning/alerts",
            "state=resolved",
            None,
        ));
        assert_mentions(&violations, "query.state: \"resolved\" is not one of");
    }

    #[test]
    fn a_query_integer_above_its_maximum() {
        let violations = refused(jira().check_request(
            "GET",
            "/rest/api/3/issue/createmeta/SEC/issuetypes",
            "maxResults=500",
            None,
        ));
        assert_eq!(
            violations,
            vec!["query.maxResults: 500 is above the maximum 200"]
        );
    }

    #[test]
    fn an_undeclared_query_parameter() {
        // Jira ignores it silently: `startAt` is not how /search/jql pages.
        let violations = refused(jira().check_request(
            "GET",
            "/rest/api/3/search/jql",
            "jql=project%3DSEC&startAt=50",
            None,
        ));
        assert_mentions(
            &violations,
            "query.startAt: not a parameter of this operation",
        );
    }

    #[test]
    fn a_missing_required_query_parameter() {
        let violations =
            refused(jira().check_request("DELETE", "/rest/api/3/issue/SEC-1/remotelink", "", None));
        assert_mentions(
            &violations,
            "query.globalId: required query parameter missing",
        );
    }

    #[test]
    fn a_path_parameter_of_the_wrong_type() {
        let body = json!({"state": "open"});
        let violations = refused(github().check_request(
            "PATCH",
            "/repos/o/r/code-scanning/alerts/latest",
            "",
            Some(&body),
        ));
        assert_mentions(&violations, "path.alert_number: expected integer");
    }

    #[test]
    fn a_string_longer_than_max_length() {
        let body = json!({"state": "dismissed", "dismissed_reason": "won't fix",
                          "dismissed_comment": "x".repeat(281)});
        let violations = refused(github().check_request(
            "PATCH",
            "/repos/o/r/code-scanning/alerts/1",
            "",
            Some(&body),
        ));
        assert_mentions(
            &violations,
            "body.dismissed_comment: 281 characters, at most 280 allowed",
        );
    }

    #[test]
    fn a_value_matching_no_one_of_alternative() {
        let body = json!({"title": true});
        let violations =
            refused(github().check_request("POST", "/repos/o/r/issues", "", Some(&body)));
        assert_mentions(
            &violations,
            "body.title: matches none of the oneOf alternatives",
        );
    }

    #[test]
    fn null_where_the_schema_is_not_nullable() {
        let body = json!({"state": null});
        let violations = refused(github().check_request(
            "PATCH",
            "/repos/o/r/code-scanning/alerts/1",
            "",
            Some(&body),
        ));
        assert_mentions(&violations, "body.state: expected string, got null");
    }
}

mod path_matching {
    use super::*;

    #[test]
    fn literal_segments_win_over_templates() {
        // `/search/jql` is its own operation (GET and POST), `/issue/createmeta/...` too, even
        // though `/issue/{issueIdOrKey}` could also take `createmeta` as a key.
        assert_eq!(
            jira().check_request(
                "GET",
                "/rest/api/3/issue/createmeta/SEC/issuetypes",
                "",
                None
            ),
            Ok(())
        );
        let violations = refused(jira().check_request(
            "GET",
            "/rest/api/3/issue/createmeta/SEC/issuetypes",
            "fields=summary",
            None,
        ));
        assert_mentions(&violations, "query.fields: not a parameter");
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let body = json!({"transition": {"id": 31, "name": "Done"}, "properties": [{"key": 1}]});
        let violations = refused(jira().check_request(
            "POST",
            "/rest/api/3/issue/SEC-1/transitions",
            "expand=x&bogus=1",
            Some(&body),
        ));
        assert_eq!(violations.len(), 5, "{violations:#?}");
    }
}

mod official_examples {
    use super::*;

    /// Every request-body example the description itself gives, sent to its own operation with
    /// `1` for each path parameter: the validator must accept what the vendor documents.
    fn all_examples_pass(api: &OpenApi, file: &str) -> usize {
        let doc: Value =
            serde_json::from_slice(&scantix_tests::webhooks::fixture(file)).expect("JSON");
        let mut checked = 0;
        let mut failures = Vec::new();
        for (template, item) in doc["paths"].as_object().expect("paths") {
            let path: String = template
                .split('/')
                .map(|s| if s.starts_with('{') { "1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            for (method, operation) in item.as_object().expect("path item") {
                let media = &operation["requestBody"]["content"]["application/json"];
                let mut examples: Vec<&Value> = media.get("example").into_iter().collect();
                let named = media["examples"].as_object().into_iter().flatten();
                examples.extend(named.map(|(_, e)| &e["value"]));
                for example in examples {
                    // Jira gives a few examples as JSON text rather than JSON.
                    let parsed = example.as_str().and_then(|t| serde_json::from_str(t).ok());
                    let body = parsed.as_ref().unwrap_or(example);
                    checked += 1;
                    if let Err(violations) = api.check_request(method, &path, "", Some(body)) {
                        failures.push(format!("{method} {template}: {violations:?}"));
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "official examples refused:\n{}",
            failures.join("\n")
        );
        checked
    }

    #[test]
    fn jira_request_examples_are_accepted() {
        let checked = all_examples_pass(jira(), "jira-openapi/jira-openapi-subset.json");
        assert!(checked >= 10, "only {checked} examples found");
    }

    #[test]
    fn github_request_examples_are_accepted() {
        let checked = all_examples_pass(github(), "github-openapi/github-openapi-subset.json");
        assert!(checked >= 10, "only {checked} examples found");
    }
}
