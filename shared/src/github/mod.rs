//! GitHub's side of the product: webhook signatures and alert payloads coming in, and the `GitHub`
//! port for calls going out.

pub mod alert_webhook;
pub mod api;
pub mod signature;
