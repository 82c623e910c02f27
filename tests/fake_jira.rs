//! The fake Jira itself, driven with plain HTTP calls: it behaves like Jira where the adapter
//! relies on it, refuses what Jira refuses, and records it.

use reqwest::Method;
use scantix_tests::fake_jira::{
    CLOUD_API_TOKEN, CLOUD_EMAIL, Category, DC_PERSONAL_ACCESS_TOKEN, FakeJira, FakeJiraConfig,
    Fault, Flavor, Workflow,
};
use scantix_tests::webhooks::fixture;
use serde_json::{Value, json};
use std::time::Duration;

/// One call with the right credentials: the status and the JSON answered (`null` if none).
async fn call(jira: &FakeJira, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{}{path}", jira.base_url(), jira.flavor().rest_base());
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header("authorization", jira.authorization());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the fake Jira answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

fn new_issue(summary: &str, group_key: &str, description: Value) -> Value {
    json!({
        "fields": {
            "project": {"key": "SEC"},
            "issuetype": {"name": "Bug"},
            "summary": summary,
            "description": description,
            "labels": ["scantix"],
            "priority": {"name": "High"}
        },
        "properties": [{"key": "scantix", "value": {"groupKey": group_key}}]
    })
}

async fn create(jira: &FakeJira, summary: &str, group_key: &str) -> String {
    let description = match jira.flavor() {
        Flavor::Cloud => adf("Three alerts."),
        Flavor::DataCenter => json!("h2. Three alerts."),
    };
    let (status, created) = call(
        jira,
        Method::POST,
        "/issue",
        Some(new_issue(summary, group_key, description)),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created["key"].as_str().expect("a key").to_owned()
}

fn jql_query(jql: &str) -> String {
    let mut encoded = String::new();
    for byte in jql.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                encoded.push(char::from(byte))
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    format!("jql={encoded}")
}

#[tokio::test]
async fn an_issue_lives_through_create_get_comment_transition_and_search() {
    let jira = FakeJira::start(Flavor::Cloud).await;

    let (status, created) = call(
        &jira,
        Method::POST,
        "/issue",
        Some(new_issue(
            "CWE-79: Reflected XSS",
            "repo:1/rule:js/xss",
            adf("Three alerts."),
        )),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(created["key"], "SEC-1");
    assert_eq!(
        created["self"],
        format!("{}/rest/api/3/issue/10001", jira.base_url())
    );

    let (status, issue) = call(&jira, Method::GET, "/issue/SEC-1?properties=scantix", None).await;
    assert_eq!(status, 200);
    assert_eq!(issue["fields"]["summary"], "CWE-79: Reflected XSS");
    assert_eq!(issue["fields"]["status"]["statusCategory"]["key"], "new");
    assert_eq!(issue["fields"]["priority"]["name"], "High");
    assert_eq!(
        issue["properties"]["scantix"]["groupKey"],
        "repo:1/rule:js/xss"
    );

    let comment = json!({"body": adf("Alert 12 was fixed."),
                         "properties": [{"key": "scantix", "value": {"commentId": "g1/op7"}}]});
    let (status, added) = call(&jira, Method::POST, "/issue/SEC-1/comment", Some(comment)).await;
    assert_eq!(status, 201);
    assert_eq!(added["body"], adf("Alert 12 was fixed."));
    let (_, comments) = call(
        &jira,
        Method::GET,
        "/issue/SEC-1/comment?expand=properties",
        None,
    )
    .await;
    assert_eq!(comments["total"], 1);
    assert_eq!(
        comments["comments"][0]["properties"][0]["value"]["commentId"],
        "g1/op7"
    );

    // The real shape: transitions named, each to a status with its category.
    let (status, transitions) = call(&jira, Method::GET, "/issue/SEC-1/transitions", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = transitions["transitions"]
        .as_array()
        .expect("transitions")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["In Progress", "Done"]);
    let done = &transitions["transitions"][1];
    assert_eq!(done["id"], "31");
    assert_eq!(done["to"]["statusCategory"]["key"], "done");
    let shape = fixture("jira-rest-responses/go-jira/transitions.json");
    let real: Value = serde_json::from_slice(&shape).expect("JSON");
    for key in ["id", "name", "to"] {
        assert!(real["transitions"][0].get(key).is_some() && done.get(key).is_some());
    }
    for key in ["id", "name", "statusCategory", "self"] {
        assert!(real["transitions"][0]["to"].get(key).is_some() && done["to"].get(key).is_some());
    }

    let body = json!({"transition": {"id": "31"}, "fields": {"resolution": {"name": "Won't Do"}}});
    let (status, _) = call(&jira, Method::POST, "/issue/SEC-1/transitions", Some(body)).await;
    assert_eq!(status, 204);
    let snapshot = jira.snapshot("SEC-1").expect("the issue");
    assert_eq!(
        (snapshot.status.as_str(), snapshot.category),
        ("Done", Category::Done)
    );
    assert_eq!(snapshot.resolution.as_deref(), Some("Won't Do"));

    create(&jira, "Another group", "repo:1/rule:js/sqli").await;
    let jql =
        jql_query("project = SEC AND issue.property[scantix].groupKey = \"repo:1/rule:js/xss\"");
    let (status, found) = call(
        &jira,
        Method::GET,
        &format!("/search/jql?{jql}&fields=key,status&properties=scantix"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(found["isLast"], true);
    assert_eq!(found["issues"].as_array().map(Vec::len), Some(1));
    assert_eq!(found["issues"][0]["key"], "SEC-1");
    assert_eq!(found["issues"][0]["fields"]["status"]["name"], "Done");
    assert_eq!(
        found["issues"][0]["properties"]["scantix"]["groupKey"],
        "repo:1/rule:js/xss"
    );

    assert_eq!(jira.count("POST", "/issue"), 2);
    assert_eq!(jira.count("*", "/issue/*/comment"), 2);
    assert_eq!(jira.count("*", "/rest/api/3/issue/**"), 7);
    jira.assert_no_violations();
}

#[tokio::test]
async fn search_jql_pages_with_next_page_token_and_returns_ids_by_default() {
    let config = FakeJiraConfig {
        max_results: 2,
        ..FakeJiraConfig::default()
    };
    let jira = FakeJira::start_with(Flavor::Cloud, config).await;
    for i in 0..5 {
        create(&jira, &format!("Group {i}"), &format!("g{i}")).await;
    }
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"jql": "project = SEC AND labels = scantix ORDER BY key ASC",
                              "fields": ["key"], "maxResults": 50});
        if let Some(token) = &token {
            body["nextPageToken"] = json!(token);
        }
        let (status, page) = call(&jira, Method::POST, "/search/jql", Some(body)).await;
        assert_eq!(status, 200, "{page}");
        for issue in page["issues"].as_array().expect("issues") {
            keys.push(issue["key"].as_str().expect("key").to_owned());
        }
        match page["nextPageToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => {
                assert_eq!(page["isLast"], true);
                break;
            }
        }
    }
    assert_eq!(keys, ["SEC-1", "SEC-2", "SEC-3", "SEC-4", "SEC-5"]);
    assert_eq!(jira.count("POST", "/search/jql"), 3);

    // Without `fields`, /search/jql returns ids only: a client that needs keys must ask.
    let (_, bare) = call(
        &jira,
        Method::GET,
        &format!("/search/jql?{}", jql_query("project = SEC")),
        None,
    )
    .await;
    assert_eq!(bare["issues"][0], json!({"id": "10005"}));
    jira.assert_no_violations();
}

#[tokio::test]
async fn the_old_cloud_search_is_gone() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let (status, body) = call(
        &jira,
        Method::GET,
        &format!("/search?{}", jql_query("project = SEC")),
        None,
    )
    .await;
    assert_eq!(status, 410);
    assert!(
        body["errorMessages"][0]
            .as_str()
            .expect("message")
            .contains("/rest/api/3/search/jql")
    );
    let (status, _) = call(
        &jira,
        Method::POST,
        "/search",
        Some(json!({"jql": "project = SEC"})),
    )
    .await;
    assert_eq!(status, 410);
    assert_eq!(jira.violations().len(), 2);
}

#[tokio::test]
async fn jql_outside_the_understood_subset_is_refused_and_recorded() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let search = |jql: &str| format!("/search/jql?{}", jql_query(jql));

    let (status, body) = call(
        &jira,
        Method::GET,
        &search("project = SEC OR labels = x"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["errorMessages"][0]
            .as_str()
            .expect("message")
            .contains("Error in the JQL Query")
    );

    // A bare value with a reserved character must be quoted, as in Jira.
    let (status, body) = call(&jira, Method::GET, &search("labels = scantix/xss"), None).await;
    assert_eq!(status, 400);
    assert!(
        body["errorMessages"][0]
            .as_str()
            .expect("message")
            .contains("reserved JQL character")
    );

    // Cloud refuses unbounded queries.
    let (status, _) = call(&jira, Method::GET, &search("ORDER BY created DESC"), None).await;
    assert_eq!(status, 400);
    assert_eq!(jira.violations().len(), 3);

    // An unknown project is Jira's answer, not a malformed request.
    let (status, body) = call(&jira, Method::GET, &search("project = NOPE"), None).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errorMessages"][0],
        "The value 'NOPE' does not exist for the field 'project'."
    );
    assert_eq!(jira.violations().len(), 3);
}

#[tokio::test]
async fn unindexed_properties_are_searchable_in_syntax_only() {
    let config = FakeJiraConfig {
        indexed_properties: vec![],
        ..FakeJiraConfig::default()
    };
    let jira = FakeJira::start_with(Flavor::Cloud, config).await;
    create(&jira, "XSS", "g1").await;
    let jql = jql_query("project = SEC AND issue.property[scantix].groupKey = \"g1\"");
    let (status, found) = call(
        &jira,
        Method::GET,
        &format!("/search/jql?{jql}&fields=key"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(found["issues"], json!([]));
    let labels = jql_query("project = SEC AND labels = \"scantix\"");
    let (_, found) = call(
        &jira,
        Method::GET,
        &format!("/search/jql?{labels}&fields=key"),
        None,
    )
    .await;
    assert_eq!(found["issues"][0]["key"], "SEC-1");
}

#[tokio::test]
async fn a_field_not_on_the_screen_is_refused_like_jira_and_recorded() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let mut body = new_issue("XSS", "g1", adf("x"));
    body["fields"]["customfield_10020"] = json!("sprint 4");
    let (status, answer) = call(&jira, Method::POST, "/issue", Some(body)).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!({"errorMessages": [], "errors": {"customfield_10020":
            "Field 'customfield_10020' cannot be set. It is not on the appropriate screen, or unknown."}})
    );
    assert_eq!(jira.issue_keys(), Vec::<String>::new());
    let violations = jira.violations();
    assert_eq!(violations.len(), 1);
    assert!(violations[0].starts_with("POST /rest/api/3/issue: customfield_10020: Field"));
}

#[tokio::test]
async fn an_unknown_project_is_refused_but_not_a_violation() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let mut body = new_issue("XSS", "g1", adf("x"));
    body["fields"]["project"] = json!({"key": "OPS"});
    let (status, answer) = call(&jira, Method::POST, "/issue", Some(body)).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!({"errorMessages": [], "errors": {"project": "valid project is required"}})
    );
    jira.assert_no_violations();
}

#[tokio::test]
async fn requests_outside_the_description_are_answered_400_and_recorded() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let key = create(&jira, "XSS", "g1").await;
    // A transition id must be a string; its name is read-only.
    let body = json!({"transition": {"id": 31, "name": "Done"}});
    let (status, answer) = call(
        &jira,
        Method::POST,
        &format!("/issue/{key}/transitions"),
        Some(body),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["errorMessages"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        jira.violations(),
        [
            "POST /rest/api/3/issue/SEC-1/transitions: body.transition.id: expected string, got number",
            "POST /rest/api/3/issue/SEC-1/transitions: body.transition.name: is read-only and must not be sent",
        ]
    );
    assert_eq!(jira.snapshot(&key).expect("issue").status, "To Do");
}

#[tokio::test]
async fn cloud_wants_adf_and_refuses_plain_text_descriptions() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let (status, answer) = call(
        &jira,
        Method::POST,
        "/issue",
        Some(new_issue("XSS", "g1", json!("plain text"))),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["errors"]["description"]
            .as_str()
            .expect("error")
            .contains("Atlassian Document")
    );
    // Empty text nodes are refused by Jira too.
    let (status, _) = call(
        &jira,
        Method::POST,
        "/issue",
        Some(new_issue("XSS", "g1", adf(""))),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(jira.violations().len(), 2);
}

#[tokio::test]
async fn edits_set_fields_and_apply_label_operations() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let key = create(&jira, "XSS (1 alert)", "g1").await;
    let body = json!({
        "fields": {"summary": "XSS (2 alerts)"},
        "update": {"labels": [{"add": "scantix-stale"}, {"remove": "scantix"}]},
        "properties": [{"key": "scantix", "value": {"groupKey": "g1", "version": 2}}]
    });
    let (status, _) = call(&jira, Method::PUT, &format!("/issue/{key}"), Some(body)).await;
    assert_eq!(status, 204);
    let snapshot = jira.snapshot(&key).expect("issue");
    assert_eq!(snapshot.summary, "XSS (2 alerts)");
    assert_eq!(snapshot.labels, ["scantix-stale"]);
    assert_eq!(snapshot.properties["scantix"]["version"], 2);

    let bad = json!({"update": {"labels": [{"add": "has space"}]}});
    let (status, answer) = call(&jira, Method::PUT, &format!("/issue/{key}"), Some(bad)).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["errors"]["labels"],
        "The label 'has space' contains spaces which is invalid."
    );
    jira.violations()
        .iter()
        .for_each(|v| assert!(v.contains("labels"), "{v}"));
}

#[tokio::test]
async fn unknown_issues_are_404_like_jira() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let (status, body) = call(&jira, Method::GET, "/issue/SEC-99", None).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({
            "errorMessages": ["Issue does not exist or you do not have permission to see it."],
            "errors": {}
        })
    );
    jira.assert_no_violations();
}

#[tokio::test]
async fn cloud_needs_basic_auth_with_the_api_token() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let url = format!("{}/rest/api/3/issue/SEC-1", jira.base_url());
    let client = reqwest::Client::new();
    let none = client.get(&url).send().await.expect("answer");
    assert_eq!(none.status(), 401);
    let wrong = client
        .get(&url)
        .basic_auth(CLOUD_EMAIL, Some("wrong"))
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status(), 401);
    let bearer = client
        .get(&url)
        .bearer_auth(CLOUD_API_TOKEN)
        .send()
        .await
        .expect("answer");
    assert_eq!(bearer.status(), 401);
    let right = client
        .get(&url)
        .basic_auth(CLOUD_EMAIL, Some(CLOUD_API_TOKEN))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        right.status(),
        404,
        "authenticated, and there is no such issue"
    );
}

#[tokio::test]
async fn data_center_speaks_v2_with_a_bearer_token_and_wiki_markup() {
    let jira = FakeJira::start(Flavor::DataCenter).await;
    let client = reqwest::Client::new();
    let base = jira.base_url();

    let basic = client
        .post(format!("{base}/rest/api/2/issue"))
        .basic_auth("scantix-bot", Some(DC_PERSONAL_ACCESS_TOKEN))
        .json(&new_issue("XSS", "g1", json!("h2. Three alerts")))
        .send()
        .await
        .expect("answer");
    assert_eq!(basic.status(), 401);

    let key = create(&jira, "XSS", "g1").await;
    assert_eq!(key, "SEC-1");
    let (status, _) = call(
        &jira,
        Method::POST,
        &format!("/issue/{key}/comment"),
        Some(json!({"body": "Fixed in *main*."})),
    )
    .await;
    assert_eq!(status, 201);
    // ADF is Cloud's; REST v2 takes wiki markup.
    let (status, _) = call(
        &jira,
        Method::POST,
        &format!("/issue/{key}/comment"),
        Some(json!({"body": adf("x")})),
    )
    .await;
    assert_eq!(status, 400);

    // Data Center pages with startAt/maxResults on /rest/api/2/search.
    let (status, found) = call(
        &jira,
        Method::POST,
        "/search",
        Some(
            json!({"jql": "issue.property[scantix].groupKey = g1", "startAt": 0, "maxResults": 10}),
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(found["total"], 1);
    assert_eq!(found["issues"][0]["key"], "SEC-1");
    assert_eq!(
        found["issues"][0]["fields"]["description"],
        "h2. Three alerts."
    );

    // v3 paths do not exist on Data Center.
    let v3 = client
        .get(format!("{base}/rest/api/3/issue/{key}"))
        .bearer_auth(DC_PERSONAL_ACCESS_TOKEN)
        .send()
        .await
        .expect("answer");
    assert_eq!(v3.status(), 404);
    assert_eq!(jira.violations().len(), 2, "{:#?}", jira.violations());
}

#[tokio::test]
async fn rate_limits_are_injected_with_retry_after_on_matching_requests_only() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    jira.inject_on(
        "POST",
        "/issue",
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        2,
    );
    let client = reqwest::Client::new();
    let post = || {
        client
            .post(format!("{}/rest/api/3/issue", jira.base_url()))
            .header("authorization", jira.authorization())
            .json(&new_issue("XSS", "g1", adf("x")))
            .send()
    };
    let limited = post().await.expect("answer");
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");

    // A GET is not affected by a POST /issue injection.
    let (status, _) = call(&jira, Method::GET, "/issue/SEC-1", None).await;
    assert_eq!(status, 404);

    assert_eq!(post().await.expect("answer").status(), 429);
    assert_eq!(post().await.expect("answer").status(), 201);
    assert_eq!(jira.issue_keys(), ["SEC-1"]);

    // The path may also be given in full.
    jira.inject_on(
        "GET",
        "/rest/api/3/issue/*",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let (status, _) = call(&jira, Method::GET, "/issue/SEC-1", None).await;
    assert_eq!(status, 429);
    let statuses: Vec<u16> = jira.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 404, 429, 201, 429]);
    jira.assert_no_violations();
}

#[tokio::test]
async fn server_errors_and_timeouts_are_injected() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    jira.inject(Fault::Status(503), 1);
    jira.inject(Fault::Status(500), 1);
    let (status, _) = call(&jira, Method::GET, "/issue/SEC-1", None).await;
    assert_eq!(status, 503);
    let (status, body) = call(&jira, Method::GET, "/issue/SEC-1", None).await;
    assert_eq!(
        (status, &body["errorMessages"][0]),
        (500, &json!("Internal server error"))
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let create = || {
        client
            .post(format!("{}/rest/api/3/issue", jira.base_url()))
            .header("authorization", jira.authorization())
            .json(&new_issue("XSS", "g1", adf("x")))
            .send()
    };
    // A hang: the client times out and nothing happened.
    jira.inject(Fault::Hang(Duration::from_secs(2)), 1);
    assert!(create().await.expect_err("times out").is_timeout());
    assert_eq!(jira.issue_keys(), Vec::<String>::new());
    // A lost response: the client times out, but the issue was created.
    jira.inject(Fault::LostResponse(Duration::from_secs(2)), 1);
    assert!(create().await.expect_err("times out").is_timeout());
    assert_eq!(jira.issue_keys(), ["SEC-1"]);
}

#[tokio::test]
async fn a_custom_workflow_keeps_its_names_and_categories() {
    let workflow = Workflow::new(&[
        ("Triage", Category::New),
        ("Fixing", Category::Indeterminate),
        ("Shipped", Category::Done),
    ])
    .transition("5", "Start fixing", &["Triage"], "Fixing")
    .transition("7", "Ship it", &["Fixing"], "Shipped")
    .transition("9", "Reopen", &["Shipped"], "Triage");
    let config = FakeJiraConfig {
        workflow,
        ..FakeJiraConfig::default()
    };
    let jira = FakeJira::start_with(Flavor::Cloud, config).await;
    let key = create(&jira, "XSS", "g1").await;

    let (_, transitions) = call(
        &jira,
        Method::GET,
        &format!("/issue/{key}/transitions"),
        None,
    )
    .await;
    assert_eq!(transitions["transitions"].as_array().map(Vec::len), Some(1));
    assert_eq!(transitions["transitions"][0]["name"], "Start fixing");
    assert_eq!(
        transitions["transitions"][0]["to"]["statusCategory"]["key"],
        "indeterminate"
    );

    // "Ship it" is not available from Triage.
    let ship = json!({"transition": {"id": "7"}});
    let (status, answer) = call(
        &jira,
        Method::POST,
        &format!("/issue/{key}/transitions"),
        Some(ship.clone()),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["errorMessages"][0],
        "Transition id '7' is not valid for this issue."
    );

    let start = json!({"transition": {"id": "5"}});
    let (status, _) = call(
        &jira,
        Method::POST,
        &format!("/issue/{key}/transitions"),
        Some(start),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &jira,
        Method::POST,
        &format!("/issue/{key}/transitions"),
        Some(ship),
    )
    .await;
    assert_eq!(status, 204);
    let snapshot = jira.snapshot(&key).expect("issue");
    assert_eq!(
        (snapshot.status.as_str(), snapshot.category),
        ("Shipped", Category::Done)
    );
    assert_eq!(
        snapshot.resolution.as_deref(),
        Some("Done"),
        "the workflow sets a resolution"
    );

    let jql = jql_query("statusCategory = Done AND status = \"Shipped\"");
    let (_, found) = call(
        &jira,
        Method::GET,
        &format!("/search/jql?{jql}&fields=key"),
        None,
    )
    .await;
    assert_eq!(found["issues"][0]["key"], key);
    jira.assert_no_violations();
}

#[tokio::test]
async fn a_person_closing_an_issue_produces_a_real_shaped_delivery() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let key = create(&jira, "XSS", "g1").await;
    let delivery = jira.set_status(&key, "Done", Some("Won't Do"));

    let real: Value = serde_json::from_slice(&fixture(
        "jira-webhooks/mattermost-plugin-jira/webhook-issue-updated-resolved.json",
    ))
    .expect("JSON");
    for name in [
        "timestamp",
        "webhookEvent",
        "issue_event_type_name",
        "user",
        "issue",
        "changelog",
    ] {
        assert!(
            real.get(name).is_some() && delivery.get(name).is_some(),
            "{name}"
        );
    }
    assert_eq!(delivery["webhookEvent"], "jira:issue_updated");
    assert_eq!(delivery["issue"]["key"], key);
    assert_eq!(
        delivery["issue"]["self"],
        format!("{}/rest/api/2/issue/10001", jira.base_url())
    );
    let fields = &delivery["issue"]["fields"];
    assert_eq!(fields["status"]["statusCategory"]["key"], "done");
    assert_eq!(fields["resolution"]["name"], "Won't Do");
    assert_eq!(
        fields["description"], "Three alerts.",
        "webhooks carry text, not ADF"
    );
    for field in [
        "status",
        "resolution",
        "labels",
        "summary",
        "project",
        "issuetype",
    ] {
        assert!(real["issue"]["fields"].get(field).is_some() && fields.get(field).is_some());
    }
    let items = delivery["changelog"]["items"].as_array().expect("items");
    let changed: Vec<&str> = items
        .iter()
        .map(|i| i["field"].as_str().expect("field"))
        .collect();
    assert_eq!(changed, ["resolution", "status"]);
    assert_eq!(items[1]["fromString"], "To Do");
    assert_eq!(items[1]["toString"], "Done");
    assert_eq!(items[0]["toString"], "Won't Do");
    assert_eq!(jira.issue_json(&key)["fields"]["status"]["name"], "Done");

    // Reopening clears the resolution.
    let reopened = jira.set_status(&key, "To Do", None);
    let items = reopened["changelog"]["items"].as_array().expect("items");
    assert_eq!(items[0]["field"], "resolution");
    assert_eq!(items[0]["to"], Value::Null);
    assert_eq!(jira.snapshot(&key).expect("issue").resolution, None);
}

#[tokio::test]
async fn seeded_and_deleted_issues() {
    let jira = FakeJira::start(Flavor::Cloud).await;
    let key = jira.seed_issue(new_issue("Made by an earlier run", "g1", adf("x")));
    assert_eq!(key, "SEC-1");
    assert!(jira.requests().is_empty(), "seeding is not a request");
    let deleted = jira.delete_issue(&key);
    assert_eq!(deleted["webhookEvent"], "jira:issue_deleted");
    let (status, _) = call(&jira, Method::GET, &format!("/issue/{key}"), None).await;
    assert_eq!(status, 404);
}

/// Jira Cloud's search is eventually consistent; `reconcileIssues` reads the issues it names as
/// they are now (developer.atlassian.com/cloud/jira/platform/search-and-reconcile/). The fake
/// lags new issues behind its search by `search_lag`, and honours `reconcileIssues`.
#[tokio::test]
async fn new_issues_show_in_search_after_the_lag_or_at_once_when_reconciled() {
    let jira = FakeJira::start_with(
        Flavor::Cloud,
        FakeJiraConfig {
            search_lag: Duration::from_millis(600),
            ..FakeJiraConfig::default()
        },
    )
    .await;
    let key = create(&jira, "Lagging", "g-1").await;
    let (_, issue) = call(&jira, Method::GET, &format!("/issue/{key}"), None).await;
    let id: u64 = issue["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("an id");
    let search = |reconcile: Option<Value>| {
        let mut body = json!({"jql": "project = SEC AND labels = scantix", "fields": ["key"]});
        if let Some(ids) = reconcile {
            body["reconcileIssues"] = ids;
        }
        call(&jira, Method::POST, "/search/jql", Some(body))
    };
    let keys = |page: &Value| -> Vec<String> {
        page["issues"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["key"].as_str().map(str::to_owned))
            .collect()
    };

    // Read by key at once (a GET is consistent), but not yet found by a search.
    assert_eq!(issue["key"], key);
    let (status, page) = search(None).await;
    assert_eq!((status, keys(&page)), (200, vec![]));
    let (_, page) = search(Some(json!([id]))).await;
    assert_eq!(
        keys(&page),
        std::slice::from_ref(&key),
        "reconciled: read as it is now"
    );
    // Reconciling an issue does not make it match a query it does not match.
    let body = json!({"jql": "project = SEC AND labels = other", "reconcileIssues": [id]});
    let (_, page) = call(&jira, Method::POST, "/search/jql", Some(body)).await;
    assert!(keys(&page).is_empty());

    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, page) = search(None).await;
    assert_eq!(keys(&page), [key], "indexed once the lag is over");

    // At most 50 ids, as Jira documents.
    let too_many: Vec<u64> = (1..=51).collect();
    let (status, _) = search(Some(json!(too_many))).await;
    assert_eq!(status, 400);
    assert_eq!(jira.violations().len(), 1, "{:?}", jira.violations());
}

/// The create metadata: each project's screen for an issue type, paged as each flavor pages it
/// (Cloud: `issueTypes` and `fields`; Data Center since 8.4: `values` with `isLast`), checked
/// against the description like every other call.
#[tokio::test]
async fn create_metadata_lists_each_projects_screen_in_each_flavors_shape() {
    for flavor in [Flavor::Cloud, Flavor::DataCenter] {
        let mut config = FakeJiraConfig {
            other_projects: vec!["APPSEC".into()],
            required_fields: vec!["customfield_10042".into()],
            ..FakeJiraConfig::default()
        };
        config
            .custom_fields
            .push(scantix_tests::fake_jira::CustomField {
                id: "customfield_10042".into(),
                name: "Fix by".into(),
                kind: "date".into(),
            });
        config.screens.insert(
            "APPSEC".into(),
            vec![
                "summary".into(),
                "issuetype".into(),
                "project".into(),
                "customfield_10042".into(),
            ],
        );
        let jira = FakeJira::start_with(flavor, config).await;
        let (items, fields) = match flavor {
            Flavor::Cloud => ("issueTypes", "fields"),
            Flavor::DataCenter => ("values", "values"),
        };

        let (status, types) = call(
            &jira,
            Method::GET,
            "/issue/createmeta/SEC/issuetypes?maxResults=2",
            None,
        )
        .await;
        assert_eq!(status, 200);
        let names: Vec<&str> = types[items]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(names, ["Bug", "Task"], "{types}");
        assert_eq!(types["total"], 3);
        if flavor == Flavor::DataCenter {
            assert_eq!(types["isLast"], false);
        }

        let (_, screen) = call(
            &jira,
            Method::GET,
            "/issue/createmeta/APPSEC/issuetypes/10001",
            None,
        )
        .await;
        let listed: Vec<(&str, bool, &str)> = screen[fields]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["fieldId"].as_str().unwrap(),
                    f["required"].as_bool().unwrap(),
                    f["schema"]["type"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("summary", true, "string"),
                ("issuetype", true, "issuetype"),
                ("project", true, "project"),
                ("customfield_10042", true, "date"),
            ]
        );
        let (_, default_screen) = call(
            &jira,
            Method::GET,
            "/issue/createmeta/SEC/issuetypes/10001",
            None,
        )
        .await;
        assert!(default_screen[fields].to_string().contains("\"duedate\""));

        // A required field missing from a create is refused as Jira refuses it (not a violation).
        let (status, refused) = call(
            &jira,
            Method::POST,
            "/issue",
            Some(json!({"fields": {
                "project": {"key": "APPSEC"}, "issuetype": {"name": "Bug"}, "summary": "x"
            }})),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            refused["errors"]["customfield_10042"],
            "Fix by is required."
        );

        let (status, _) = call(
            &jira,
            Method::GET,
            "/issue/createmeta/NOPE/issuetypes",
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (status, _) = call(
            &jira,
            Method::GET,
            "/issue/createmeta/SEC/issuetypes?maxResults=500",
            None,
        )
        .await;
        assert_eq!(status, 400, "Jira's documented page limit is 200");
        assert_eq!(jira.violations().len(), 1, "{:?}", jira.violations());
    }
}
