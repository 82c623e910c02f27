//! GitHub's side of the product: webhook signatures and alert payloads.

pub mod alert_webhook;
pub mod signature;
