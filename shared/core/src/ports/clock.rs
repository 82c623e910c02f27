//! `Clock`: a source of "now". The executor and the GitHub adapter read time through it, so that
//! tests pin it.

use chrono::{DateTime, Utc};
use std::sync::Arc;

/// A source of "now"; tests pin it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;
