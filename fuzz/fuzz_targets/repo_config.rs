//! `.github/scantix.yml`: `parse`, then every accessor scantix calls on a parsed file, and
//! `resolve` of it over itself (repository over organisation). The property: no panic, whatever
//! the file says (a `ConfigError` with line, column and a fix otherwise).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scantix_app::repo_config::{parse, resolve};
use scantix_core::ticket::destination::TrackerSite;

fuzz_target!(|data: &[u8]| {
    let Ok(yaml) = std::str::from_utf8(data) else {
        return;
    };
    let config = match parse(yaml) {
        Ok(config) => config,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = config.engine_config();
    for name in ["jira", "github", "servicenow", "email", "linear", "draft"] {
        let _ = config.ticket_destination(&TrackerSite::named(name));
    }
    let _ = config.ticket_destination(&TrackerSite {
        base_url: Some("https://example.atlassian.net".to_owned()),
        ..TrackerSite::named("jira")
    });
    let _ = config.tracker_kind();
    let _ = config.jira_settings();
    let _ = config.priorities();
    let _ = config.sla();
    let _ = config.owners();
    let _ = config.default_assignee();
    let _ = config.policy_source();
    let merged = resolve(Some(config.clone()), Some(config));
    let _ = merged.engine_config();
});
