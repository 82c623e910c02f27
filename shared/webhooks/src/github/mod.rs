//! GitHub's side of the product: webhook signatures, alert and pull request payloads coming in, and
//! the `GitHub` port for calls going out, with its REST adapter and the App authentication it uses.

pub mod alert_webhook;
pub mod api;
pub mod app_auth;
pub mod clients;
pub mod installation_webhook;
pub mod issues_webhook;
pub mod pull_request_webhook;
pub mod rest;
pub mod signature;
