//! Jira's side of the product, coming in: webhook deliveries. (Calls going out to Jira are the
//! `tracker::jira` adapter.)

pub mod webhook;
