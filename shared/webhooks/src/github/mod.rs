//! GitHub App deliveries → the core's events. A code scanning alert comes in through [`alert`];
//! [`installation`] says which repositories the App covers; [`issues`] is what people do to
//! tickets kept in GitHub Issues; [`pull_request`] drives a pull request's summary comment.

pub mod alert;
pub mod installation;
pub mod issues;
pub mod pull_request;
