//! Helpers shared by the integration tests.

pub mod dynamodb;
pub mod records;
pub mod webhooks;
pub mod openapi;
pub mod fake_jira;
pub mod crash;
pub mod fake_github;
