//! DynamoDB's answers as `StoreError`s: everything DynamoDB can answer is mapped here, and only
//! here.

use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use scantix_core::ports::store::StoreError;

// Error mapping: everything DynamoDB can answer is turned into a `StoreError` below, and only here.

/// What a DynamoDB error code means to the store. Codes come in two spellings: exception names
/// (`ConditionalCheckFailedException`) and transaction cancellation reasons
/// (`ConditionalCheckFailed`); both are listed.
pub(super) enum Failure {
    /// A condition did not hold: a guard was stale, or the item already exists.
    ConditionFailed,
    /// Another transaction was writing the same item at the same moment.
    Raced,
    /// Throttling, a server error, or anything else: retrying later may help.
    Unavailable,
    /// A request no retry fixes.
    Rejected,
}

pub(super) fn failure_of(code: &str) -> Failure {
    match code {
        "ConditionalCheckFailedException" | "ConditionalCheckFailed" => Failure::ConditionFailed,
        "TransactionConflictException" | "TransactionConflict" => Failure::Raced,
        // Errors no retry fixes: an item over 400 KB, a missing table, denied access.
        "ValidationException" | "ResourceNotFoundException" | "AccessDeniedException" => {
            Failure::Rejected
        }
        // Throttling (ThrottlingException/ThrottlingError, ProvisionedThroughputExceeded[Exception],
        // RequestLimitExceeded), server errors (InternalServerError, ServiceUnavailable), a
        // TransactionInProgressException.
        _ => Failure::Unavailable,
    }
}

/// Maps the failure of one DynamoDB request.
pub(super) fn store_error<E>(operation: &str, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = &err {
        match failure_of(service.err().code().unwrap_or_default()) {
            Failure::ConditionFailed | Failure::Raced => return StoreError::Conflict,
            Failure::Rejected => {
                return StoreError::Rejected(format!(
                    "DynamoDB {operation}: {}",
                    DisplayErrorContext(&err)
                ));
            }
            Failure::Unavailable => {}
        }
    }
    // Everything else (a 5xx or throttling answer, a timeout, a connection that could not be made,
    // a response that could not be read) is worth retrying later.
    StoreError::Unavailable(format!(
        "DynamoDB {operation}: {}",
        DisplayErrorContext(&err)
    ))
}

/// Maps the failure of a commit's `TransactWriteItems`. `delivery` is the id of the delivery
/// written as item 0, if the commit had one.
pub(super) fn transaction_error(
    err: SdkError<TransactWriteItemsError>,
    delivery: Option<&str>,
) -> StoreError {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancellation_error(cancelled.cancellation_reasons(), delivery)
        }
        _ => store_error("TransactWriteItems", err),
    }
}

/// Why a transaction was cancelled, from its per-item reasons (in request order; `None` for the
/// items that were fine). A duplicate delivery wins over everything else: it says the event was
/// already applied, which no re-read can change.
pub(super) fn cancellation_error(
    reasons: &[CancellationReason],
    delivery: Option<&str>,
) -> StoreError {
    let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
    if let Some(id) = delivery
        && codes
            .first()
            .is_some_and(|code| matches!(failure_of(code), Failure::ConditionFailed))
    {
        return StoreError::DuplicateDelivery(id.to_string());
    }
    let failures: Vec<&str> = codes.into_iter().filter(|code| *code != "None").collect();
    if failures
        .iter()
        .any(|code| matches!(failure_of(code), Failure::ConditionFailed | Failure::Raced))
    {
        return StoreError::Conflict;
    }
    StoreError::Unavailable(format!(
        "DynamoDB TransactWriteItems cancelled: [{}]",
        failures.join(", ")
    ))
}

/// A request the SDK refused to build: a missing required field, so a bug here, not in the data.
pub(super) fn build_error(err: BuildError) -> StoreError {
    StoreError::Unavailable(format!("DynamoDB request could not be built: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes
            .iter()
            .map(|code| CancellationReason::builder().code(*code).build())
            .collect()
    }
    #[test]
    fn a_failed_delivery_condition_is_a_duplicate_even_when_a_guard_is_stale_too() {
        let error = cancellation_error(
            &reasons(&["ConditionalCheckFailed", "ConditionalCheckFailed"]),
            Some("github:1"),
        );
        assert!(matches!(error, StoreError::DuplicateDelivery(id) if id == "github:1"));
    }

    #[test]
    fn stale_guards_and_racing_transactions_are_conflicts() {
        let stale = cancellation_error(
            &reasons(&["None", "ConditionalCheckFailed", "None"]),
            Some("github:1"),
        );
        assert!(matches!(stale, StoreError::Conflict));
        let raced =
            cancellation_error(&reasons(&["TransactionConflict", "None"]), Some("github:1"));
        assert!(matches!(raced, StoreError::Conflict));
        // Without a delivery, item 0 is an ordinary guarded record.
        let first = cancellation_error(&reasons(&["ConditionalCheckFailed"]), None);
        assert!(matches!(first, StoreError::Conflict));
    }

    #[test]
    fn throttled_transactions_are_unavailable_and_name_the_reason() {
        let error = cancellation_error(&reasons(&["None", "ThrottlingError"]), None);
        assert!(
            matches!(&error, StoreError::Unavailable(m) if m.contains("ThrottlingError")),
            "{error:?}"
        );
        assert!(error.is_retryable());
    }
}
