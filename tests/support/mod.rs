//! Helpers shared by the integration tests.

pub mod crash;
pub mod dynamodb;
pub mod fake_github;
pub mod fake_jira;
pub mod fake_linear;
pub mod fake_servicenow;
pub mod graphql;
pub mod lambda_emulator;
pub mod moto;
pub mod ocsf;
pub mod openapi;
pub mod records;
pub mod smtp_server;
pub mod sqlite;
pub mod stored;
pub mod streams;
pub mod webhooks;
