//! The SAM template's `Rules`, evaluated as CloudFormation evaluates them before a deploy: a
//! tracker, the main one or a route tracker, without the settings it needs stops the deploy with
//! a message naming the missing parameter, instead of failing at the first ticket routed there.
//!
//! CloudFormation offers no offline evaluation of Rules (cfn-lint checks their syntax, not their
//! outcome), so this reads `infra/template.yaml` and evaluates the functions Rules may use
//! (`Fn::And`, `Fn::Or`, `Fn::Not`, `Fn::Equals`, `Fn::Contains`, `Ref`) over parameter values,
//! defaults filled in as CloudFormation fills them.

use std::collections::BTreeMap;

use serde_norway::Value;

/// A parameter's value as Rules see it: a string, or a list for `CommaDelimitedList`.
#[derive(Clone, Debug, PartialEq)]
enum Parameter {
    Text(String),
    List(Vec<String>),
}

struct Template {
    parameters: BTreeMap<String, (String, Option<String>)>,
    rules: Vec<(String, Value)>,
}

fn template() -> Template {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    let document: Value = serde_norway::from_str(&text).expect("the template is YAML");
    let parameters = document["Parameters"]
        .as_mapping()
        .expect("Parameters")
        .iter()
        .map(|(name, spec)| {
            let kind = spec["Type"]
                .as_str()
                .expect("a parameter's Type")
                .to_owned();
            let default = spec.get("Default").map(|d| match d {
                Value::String(s) => s.clone(),
                other => serde_norway::to_string(other).unwrap().trim().to_owned(),
            });
            (name.as_str().unwrap().to_owned(), (kind, default))
        })
        .collect();
    let rules = document["Rules"]
        .as_mapping()
        .expect("Rules")
        .iter()
        .map(|(name, rule)| (name.as_str().unwrap().to_owned(), rule.clone()))
        .collect();
    Template { parameters, rules }
}

impl Template {
    /// The descriptions of every failed assertion for these parameter values (the others take
    /// their defaults), as CloudFormation would report them.
    fn failures(&self, given: &[(&str, &str)]) -> Vec<String> {
        let values: BTreeMap<String, Parameter> = self
            .parameters
            .iter()
            .map(|(name, (kind, default))| {
                let given = given.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
                let raw = given
                    .or_else(|| REQUIRED.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
                    .map(str::to_owned)
                    .or_else(|| default.clone())
                    .unwrap_or_else(|| panic!("parameter {name} has no default and no value"));
                let value = if kind == "CommaDelimitedList" {
                    Parameter::List(raw.split(',').map(|s| s.trim().to_owned()).collect())
                } else {
                    Parameter::Text(raw)
                };
                (name.clone(), value)
            })
            .collect();
        for (name, _) in given {
            assert!(values.contains_key(*name), "no parameter {name}");
        }
        let mut failures = Vec::new();
        for (name, rule) in &self.rules {
            let applies = rule
                .get("RuleCondition")
                .is_none_or(|condition| truth(&evaluate(condition, &values), name));
            if !applies {
                continue;
            }
            for assertion in rule["Assertions"].as_sequence().expect("Assertions") {
                if !truth(&evaluate(&assertion["Assert"], &values), name) {
                    failures.push(
                        assertion["AssertDescription"]
                            .as_str()
                            .expect("every assertion says why")
                            .to_owned(),
                    );
                }
            }
        }
        failures
    }
}

/// What a Rules function returns.
#[derive(Debug, PartialEq)]
enum Outcome {
    Bool(bool),
    Value(Parameter),
}

fn truth(outcome: &Outcome, rule: &str) -> bool {
    match outcome {
        Outcome::Bool(b) => *b,
        other => panic!("rule {rule}: {other:?} where a condition belongs"),
    }
}

fn evaluate(node: &Value, values: &BTreeMap<String, Parameter>) -> Outcome {
    let Value::Tagged(tagged) = node else {
        return match node {
            Value::String(s) => Outcome::Value(Parameter::Text(s.clone())),
            other => panic!("unsupported in Rules: {other:?}"),
        };
    };
    let arguments = || {
        tagged
            .value
            .as_sequence()
            .unwrap_or_else(|| panic!("{} takes a list", tagged.tag))
    };
    let booleans = || arguments().iter().map(|a| truth(&evaluate(a, values), "?"));
    let tag = tagged.tag.to_string();
    match tag.trim_start_matches('!') {
        "Ref" => {
            let name = tagged.value.as_str().expect("Ref names a parameter");
            Outcome::Value(
                values
                    .get(name)
                    .unwrap_or_else(|| panic!("Ref to unknown parameter {name}"))
                    .clone(),
            )
        }
        "And" => Outcome::Bool(booleans().collect::<Vec<_>>().into_iter().all(|b| b)),
        "Or" => Outcome::Bool(booleans().collect::<Vec<_>>().into_iter().any(|b| b)),
        "Not" => Outcome::Bool(!booleans().next().expect("Not takes one condition")),
        "Equals" => {
            let [a, b] = arguments().as_slice() else {
                panic!("Equals takes two values")
            };
            Outcome::Bool(evaluate(a, values) == evaluate(b, values))
        }
        "Contains" => {
            let [list, item] = arguments().as_slice() else {
                panic!("Contains takes a list and a value")
            };
            let Outcome::Value(Parameter::List(list)) = evaluate(list, values) else {
                panic!("Contains needs a list (a CommaDelimitedList parameter)")
            };
            let Outcome::Value(Parameter::Text(item)) = evaluate(item, values) else {
                panic!("Contains looks for a string")
            };
            Outcome::Bool(list.contains(&item))
        }
        other => panic!("{other} is not a function Rules may use"),
    }
}

const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf";

/// The parameters every deploy gives (they have no default): the GitHub App's.
const REQUIRED: &[(&str, &str)] = &[
    ("GitHubAppId", "123456"),
    ("GitHubWebhookSecretArn", ARN),
    ("GitHubAppPrivateKeySecretArn", ARN),
];

const JIRA: &[(&str, &str)] = &[
    ("JiraUrl", "https://example.atlassian.net"),
    ("JiraProject", "SEC"),
    ("JiraEmail", "bot@example.com"),
    ("JiraApiTokenSecretArn", ARN),
    ("JiraWebhookSecretArn", ARN),
];
const LINEAR: &[(&str, &str)] = &[
    ("LinearTeam", "SEC"),
    ("LinearTokenSecretArn", ARN),
    ("LinearWebhookSecretArn", ARN),
];
const SERVICENOW: &[(&str, &str)] = &[
    ("ServiceNowUrl", "https://example.service-now.com"),
    ("ServiceNowUser", "scantix"),
    ("ServiceNowPasswordSecretArn", ARN),
    ("ServiceNowWebhookSecretArn", ARN),
];
const EMAIL: &[(&str, &str)] = &[
    ("SmtpHost", "email-smtp.eu-west-1.amazonaws.com"),
    ("EmailFrom", "scantix <scantix@example.com>"),
    ("EmailTo", "security@example.com"),
];

fn with<'a>(
    base: &[(&'a str, &'a str)],
    more: &[&[(&'a str, &'a str)]],
) -> Vec<(&'a str, &'a str)> {
    let mut all = base.to_vec();
    for part in more {
        all.extend_from_slice(part);
    }
    all
}

#[test]
fn the_defaults_deploy() {
    assert_eq!(template().failures(&[]), Vec::<String>::new());
}

#[test]
fn a_route_tracker_without_its_settings_stops_the_deploy_naming_what_is_missing() {
    let template = template();
    for (route, settings) in [
        ("jira", JIRA),
        ("linear", LINEAR),
        ("servicenow", SERVICENOW),
        ("email", EMAIL),
    ] {
        let failures = template.failures(&[("RouteTrackers", route)]);
        for (parameter, _) in settings {
            assert!(
                failures
                    .iter()
                    .any(|f| f.starts_with(parameter) || f.contains(parameter)),
                "route {route} without {parameter}: {failures:?}"
            );
        }
        assert!(
            failures.iter().all(|f| f.contains(route)),
            "every failure names the route tracker {route}: {failures:?}"
        );
        // With its settings, the same route deploys.
        assert_eq!(
            template.failures(&with(&[("RouteTrackers", route)], &[settings])),
            Vec::<String>::new(),
            "route {route} with its settings"
        );
    }
}

#[test]
fn each_tracker_of_several_routes_is_checked() {
    let template = template();
    // Linear's settings given, ServiceNow's not: only ServiceNow's are reported.
    let failures = template.failures(&with(
        &[("Tracker", "jira"), ("RouteTrackers", "linear,servicenow")],
        &[JIRA, LINEAR],
    ));
    assert!(!failures.is_empty());
    assert!(
        failures.iter().all(|f| f.starts_with("ServiceNow")),
        "{failures:?}"
    );
    assert_eq!(
        template.failures(&with(
            &[("Tracker", "jira"), ("RouteTrackers", "linear,servicenow")],
            &[JIRA, LINEAR, SERVICENOW],
        )),
        Vec::<String>::new()
    );
}

#[test]
fn the_main_tracker_is_checked_as_before() {
    let template = template();
    let failures = template.failures(&[("Tracker", "linear")]);
    assert_eq!(failures.len(), LINEAR.len(), "{failures:?}");
    assert_eq!(
        template.failures(&with(&[("Tracker", "linear")], &[LINEAR])),
        Vec::<String>::new()
    );
}

#[test]
fn jira_cloud_as_a_route_needs_the_token_account_and_data_center_does_not() {
    let template = template();
    let without_email: Vec<_> = with(&[("RouteTrackers", "jira")], &[JIRA])
        .into_iter()
        .filter(|(name, _)| *name != "JiraEmail")
        .collect();
    let failures = template.failures(&without_email);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].starts_with("JiraEmail"), "{failures:?}");
    let mut data_center = without_email.clone();
    data_center.push(("JiraFlavor", "data-center"));
    assert_eq!(template.failures(&data_center), Vec::<String>::new());
}

#[test]
fn email_takes_its_addresses_from_the_settings_json_instead() {
    let template = template();
    let only_host = [("RouteTrackers", "email"), ("SmtpHost", "smtp.example.com")];
    let failures = template.failures(&only_host);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("EmailFrom"), "{failures:?}");
    let mut with_settings = only_host.to_vec();
    with_settings.push((
        "EmailSettings",
        r#"{"from":"a@example.com","to":["b@example.com"]}"#,
    ));
    assert_eq!(template.failures(&with_settings), Vec::<String>::new());
}

#[test]
fn every_tracker_that_needs_settings_has_a_rule_for_routes_too() {
    let template = template();
    for tracker in ["jira", "linear", "servicenow", "email"] {
        assert!(
            !template.failures(&[("RouteTrackers", tracker)]).is_empty(),
            "{tracker} as a route tracker is not checked"
        );
    }
    // GitHub issues go through the App itself: nothing more to give.
    assert_eq!(
        template.failures(&[("RouteTrackers", "github")]),
        Vec::<String>::new()
    );
}
