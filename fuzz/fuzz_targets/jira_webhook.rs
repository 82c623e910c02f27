//! Jira deliveries (Cloud and Data Center): the raw body, as `parse_jira_delivery` reads it before
//! the Jira ingest acts on it. The property: no panic, whatever the body (a typed error with the
//! JSON path, or an "ignored" answer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scantix_webhooks::jira::parse_jira_delivery;

fuzz_target!(|body: &[u8]| {
    let _ = parse_jira_delivery(body);
});
