//! Which of the deployment's trackers a group's ticket is filed in: a repository's `routes`
//! (`.github/scantix.yml`) send findings by kind and severity to a tracker (secrets to ServiceNow,
//! code scanning to Jira) and may have another tracker told too (everything high and above also by
//! email). Decided once, when the group's ticket is requested, and kept with the group
//! (`TicketDestination::tracker`): a group keeps the tracker it was filed in whatever the routes
//! say later. Pure: the executor hands the decision to the tracker set, which files it there.

use super::destination::TrackerKind;
use crate::finding::{AlertKind, Severity};
use serde::{Deserialize, Serialize};

/// One line of the routing table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The kinds it applies to; empty: every kind.
    pub kinds: Vec<AlertKind>,
    /// The least severity it applies to; `None`: every severity.
    pub min_severity: Option<Severity>,
    pub to: RouteTo,
}

/// What a matching route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteTo {
    /// The ticket is filed in this tracker. The first matching such route wins.
    Tracker(TrackerKind),
    /// This tracker is told too (a copy of the new ticket). Every matching such route adds one.
    Also(TrackerKind),
}

/// Where a group's ticket goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routed {
    /// The tracker it is filed in; `None`: the deployment's own (`SCANTIX_TRACKER`).
    pub tracker: Option<TrackerKind>,
    /// The trackers told too, in the order of the routes, each once, never the filing one.
    pub copies: Vec<TrackerKind>,
}

impl Route {
    fn matches(&self, kind: AlertKind, severity: Severity) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && self.min_severity.is_none_or(|least| severity >= least)
    }
}

/// Where the ticket of a group of `kind` at `severity` goes under `routes`.
pub fn route(routes: &[Route], kind: AlertKind, severity: Severity) -> Routed {
    let matching = || routes.iter().filter(|r| r.matches(kind, severity));
    let tracker = matching().find_map(|r| match r.to {
        RouteTo::Tracker(tracker) => Some(tracker),
        RouteTo::Also(_) => None,
    });
    let mut copies: Vec<TrackerKind> = Vec::new();
    for r in matching() {
        if let RouteTo::Also(also) = r.to
            && Some(also) != tracker
            && !copies.contains(&also)
        {
            copies.push(also);
        }
    }
    Routed { tracker, copies }
}

/// What `routes` ask of trackers the deployment does not have (`have`, its main one `own`
/// first): one problem per such entry, saying where its tickets go instead (a `tracker` entry:
/// the deployment's own) or that its copies are not sent (an `also` entry). For the repository's
/// configuration report: such a file is valid, but not what its author meant here.
pub fn unavailable(routes: &[Route], have: &[TrackerKind], own: TrackerKind) -> Vec<String> {
    let names = have
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    routes
        .iter()
        .enumerate()
        .filter_map(|(index, route)| {
            let number = index + 1;
            match route.to {
                RouteTo::Tracker(kind) if !have.contains(&kind) => Some(format!(
                    "`routes` entry {number} files tickets in {}, a tracker this scantix \
                     deployment does not have (it has {names}): they are filed in {} instead",
                    kind.as_str(),
                    own.as_str()
                )),
                RouteTo::Also(kind) if !have.contains(&kind) => Some(format!(
                    "`routes` entry {number} sends copies to {}, a tracker this scantix \
                     deployment does not have (it has {names}): no copy is sent",
                    kind.as_str()
                )),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlertKind::*;
    use TrackerKind::*;

    fn to(tracker: TrackerKind, kinds: &[AlertKind]) -> Route {
        Route {
            kinds: kinds.to_vec(),
            min_severity: None,
            to: RouteTo::Tracker(tracker),
        }
    }

    /// The example: secrets → ServiceNow, code scanning → Jira, high and above → also
    /// email.
    fn example() -> Vec<Route> {
        vec![
            to(ServiceNow, &[SecretScanning]),
            to(Jira, &[CodeScanning]),
            Route {
                kinds: vec![],
                min_severity: Some(Severity::High),
                to: RouteTo::Also(Email),
            },
        ]
    }

    #[test]
    fn kinds_choose_the_tracker_and_severity_adds_a_copy() {
        let routes = example();
        assert_eq!(
            route(&routes, SecretScanning, Severity::Critical),
            Routed {
                tracker: Some(ServiceNow),
                copies: vec![Email]
            }
        );
        assert_eq!(
            route(&routes, CodeScanning, Severity::Medium),
            Routed {
                tracker: Some(Jira),
                copies: vec![]
            }
        );
        assert_eq!(
            route(&routes, CodeScanning, Severity::High).copies,
            [Email],
            "high is high and above"
        );
        // No route for Dependabot: the deployment's own tracker, with the copy when high.
        assert_eq!(
            route(&routes, Dependabot, Severity::High),
            Routed {
                tracker: None,
                copies: vec![Email]
            }
        );
        assert_eq!(route(&routes, Dependabot, Severity::Low), Routed::default());
    }

    #[test]
    fn the_first_matching_tracker_wins_and_copies_are_each_once() {
        let routes = vec![
            Route {
                kinds: vec![],
                min_severity: Some(Severity::Critical),
                to: RouteTo::Tracker(Linear),
            },
            to(Jira, &[CodeScanning]),
            Route {
                kinds: vec![CodeScanning],
                min_severity: None,
                to: RouteTo::Also(Email),
            },
            Route {
                kinds: vec![],
                min_severity: Some(Severity::Medium),
                to: RouteTo::Also(Email),
            },
            // A copy to where the ticket is filed is no copy.
            Route {
                kinds: vec![],
                min_severity: None,
                to: RouteTo::Also(Linear),
            },
        ];
        assert_eq!(
            route(&routes, CodeScanning, Severity::Critical),
            Routed {
                tracker: Some(Linear),
                copies: vec![Email]
            }
        );
        assert_eq!(
            route(&routes, CodeScanning, Severity::Low),
            Routed {
                tracker: Some(Jira),
                copies: vec![Email, Linear]
            }
        );
        assert_eq!(
            route(&[], SecretScanning, Severity::Critical),
            Routed::default()
        );
    }

    #[test]
    fn routes_to_trackers_the_deployment_lacks_are_reported_with_where_they_go() {
        let routes = example();
        let problems = unavailable(&routes, &[Jira, ServiceNow], Jira);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("entry 3 sends copies to email"));
        assert!(problems[0].contains("(it has jira, servicenow)"));
        assert!(problems[0].contains("no copy is sent"));

        let problems = unavailable(&routes, &[Jira], Jira);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains(
                "entry 1 files tickets in servicenow, a tracker this scantix \
                     deployment does not have (it has jira): they are filed in jira instead"
            ),
            "{problems:?}"
        );
        assert!(unavailable(&routes, &[Jira, ServiceNow, Email], Jira).is_empty());
    }

    #[test]
    fn an_unknown_severity_meets_no_threshold() {
        let routes = example();
        assert!(route(&routes, Sarif, Severity::Unknown).copies.is_empty());
    }
}
