//! `RequestCounter`: an interceptor on the DynamoDB client that counts every request it sends, by
//! operation (`BatchGetItem`, `TransactWriteItems`, …), and the time to its answer. A request is a
//! round trip, retries included, whatever store call made it: the counts are DynamoDB round trips
//! as AWS would bill and time them.

use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Requests and their nanoseconds, by operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requests {
    by_operation: BTreeMap<String, (u64, u64)>,
    /// Requests DynamoDB answered with an error (a cancelled transaction, throttling), by
    /// operation: each is also counted above.
    failed: BTreeMap<String, u64>,
}

impl Requests {
    pub fn total(&self) -> u64 {
        self.by_operation.values().map(|(n, _)| n).sum()
    }

    /// The requests made since `earlier`.
    pub fn since(&self, earlier: &Requests) -> Requests {
        let by_operation = self
            .by_operation
            .iter()
            .filter_map(|(op, (n, ns))| {
                let (n0, ns0) = earlier.by_operation.get(op).copied().unwrap_or_default();
                (n > &n0).then(|| (op.clone(), (n - n0, ns - ns0)))
            })
            .collect();
        let failed = self
            .failed
            .iter()
            .filter_map(|(op, n)| {
                let n0 = earlier.failed.get(op).copied().unwrap_or_default();
                (n > &n0).then(|| (op.clone(), n - n0))
            })
            .collect();
        Requests {
            by_operation,
            failed,
        }
    }

    /// `TransactWriteItems=2`: the requests answered with an error, by operation.
    pub fn failed(&self) -> String {
        let listed: Vec<String> = self
            .failed
            .iter()
            .map(|(op, n)| format!("{op}={n}"))
            .collect();
        if listed.is_empty() {
            "none".into()
        } else {
            listed.join(" ")
        }
    }

    /// `BatchGetItem=1.2 TransactWriteItems=3.4`: mean milliseconds per request of each operation.
    pub fn mean_millis(&self) -> String {
        let listed: Vec<String> = self
            .by_operation
            .iter()
            .map(|(op, (n, ns))| format!("{op}={:.1}", *ns as f64 / (*n).max(1) as f64 / 1e6))
            .collect();
        if listed.is_empty() {
            "none".into()
        } else {
            listed.join(" ")
        }
    }
}

/// `BatchGetItem=1 TransactWriteItems=1`: the requests, by operation.
impl fmt::Display for Requests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listed: Vec<String> = self
            .by_operation
            .iter()
            .map(|(op, (n, _))| format!("{op}={n}"))
            .collect();
        match listed.is_empty() {
            true => f.write_str("none"),
            false => f.write_str(&listed.join(" ")),
        }
    }
}

/// The interceptor; clone it into the client's config and keep one to read the counts.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    seen: Arc<Mutex<Requests>>,
}

/// When the request being timed was sent, kept in the request's config bag.
#[derive(Debug, Clone)]
struct SentAt(Instant, String);

impl aws_smithy_types::config_bag::Storable for SentAt {
    type Storer = aws_smithy_types::config_bag::StoreReplace<SentAt>;
}

impl RequestCounter {
    pub fn new() -> RequestCounter {
        RequestCounter::default()
    }

    /// Everything counted so far.
    pub fn requests(&self) -> Requests {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // `X-Amz-Target: DynamoDB_20120810.TransactWriteItems` names the operation.
        let operation = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        cfg.interceptor_state()
            .store_put(SentAt(Instant::now(), operation));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(SentAt(at, operation)) = cfg.load::<SentAt>().cloned() {
            let nanos = u64::try_from(at.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let entry = seen.by_operation.entry(operation.clone()).or_default();
            entry.0 += 1;
            entry.1 += nanos;
            // No answer at all (a timeout, a refused connection) is a failure too.
            if !context.response().is_some_and(|r| r.status().is_success()) {
                *seen.failed.entry(operation).or_default() += 1;
            }
        }
        Ok(())
    }
}
