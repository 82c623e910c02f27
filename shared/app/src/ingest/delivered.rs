//! What became of one delivery, typed: [`Delivered`]. The ingests produce it; the HTTP edge turns
//! it into an answer (`Delivered::answer`) and the worker into an inbox record
//! (`Delivered::applied`), so that neither reads the other's representation back: the worker
//! never looks at an HTTP status to decide whether to retry, and "pong" or "ignored" are outcomes,
//! not errors.

use super::Answer;
use crate::execute::{ExecuteError, Outcome};
use scantix_core::inbox::Applied;
use serde_json::{Value, json};

/// What became of a delivery that got as far as being read: the `status` of its answer and the
/// `outcome` of its log line, both from here, so that the two cannot disagree. (Refusals before
/// that — size, signature, headers — are answered by the gates.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Applied now.
    Applied,
    /// Applied before, under the same delivery id: nothing done this time.
    Duplicate,
    /// Nothing for scantix to do (an event or action it does not act on, an uncovered repository).
    Ignored,
    /// GitHub's `ping`.
    Pong,
    /// Can never be applied as sent (a malformed body): the sender's mistake.
    Rejected,
    /// Could not be applied (the answer says whether a retry can help).
    Failed,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Applied => "applied",
            Disposition::Duplicate => "duplicate",
            Disposition::Ignored => "ignored",
            Disposition::Pong => "pong",
            Disposition::Rejected => "rejected",
            Disposition::Failed => "failed",
        }
    }
}

/// One delivery's result.
#[derive(Debug)]
pub enum Delivered {
    /// Applied now, or recognised as applied before; `detail` says what was done.
    /// `inbox_settled`: the commit that applied it also settled its inbox item done.
    Applied {
        duplicate: bool,
        detail: Value,
        inbox_settled: bool,
    },
    Ignored {
        reason: String,
    },
    Pong,
    /// Malformed: `path` is the JSON path of what is wrong, when known.
    Rejected {
        detail: String,
        path: Option<String>,
    },
    /// Not applied; `retryable` says whether trying again can help.
    Failed {
        error: String,
        retryable: bool,
    },
}

impl Delivered {
    /// An executor's result, logged once with its outcome.
    pub(crate) fn from_result(result: Result<Outcome, ExecuteError>) -> Delivered {
        match result {
            Ok(Outcome {
                ignored: Some(reason),
                ..
            }) => Delivered::ignored(reason),
            Ok(outcome) => {
                let disposition = if outcome.duplicate {
                    Disposition::Duplicate
                } else {
                    Disposition::Applied
                };
                tracing::info!(
                    group = outcome.group.as_ref().map(|g| g.as_str()),
                    ticket = outcome.ticket.as_ref().map(|t| t.key.as_str()),
                    actions = outcome.actions.len(),
                    outcome = disposition.as_str(),
                    "delivery {}",
                    disposition.as_str()
                );
                Delivered::Applied {
                    duplicate: outcome.duplicate,
                    detail: json!({ "outcome": outcome }),
                    inbox_settled: outcome.inbox_settled,
                }
            }
            Err(e) => Delivered::failed(e.to_string(), e.is_retryable()),
        }
    }

    /// A delivery scantix does not act on, and its log line.
    pub(crate) fn ignored(reason: String) -> Delivered {
        tracing::info!(reason = %reason, outcome = Disposition::Ignored.as_str(), "delivery ignored");
        Delivered::Ignored { reason }
    }

    /// GitHub's `ping`, and its log line.
    pub(crate) fn pong() -> Delivered {
        tracing::info!(outcome = Disposition::Pong.as_str(), "ping answered");
        Delivered::Pong
    }

    /// A body scantix cannot read, and its log line.
    pub(crate) fn rejected(detail: String, path: Option<String>) -> Delivered {
        tracing::warn!(error = %detail, outcome = Disposition::Rejected.as_str(), "malformed payload");
        Delivered::Rejected { detail, path }
    }

    /// A delivery not applied, and its log line.
    pub(crate) fn failed(error: String, retryable: bool) -> Delivered {
        tracing::error!(error = %error, retryable, outcome = Disposition::Failed.as_str(), "delivery failed");
        Delivered::Failed { error, retryable }
    }

    pub fn disposition(&self) -> Disposition {
        match self {
            Delivered::Applied {
                duplicate: true, ..
            } => Disposition::Duplicate,
            Delivered::Applied { .. } => Disposition::Applied,
            Delivered::Ignored { .. } => Disposition::Ignored,
            Delivered::Pong => Disposition::Pong,
            Delivered::Rejected { .. } => Disposition::Rejected,
            Delivered::Failed { .. } => Disposition::Failed,
        }
    }

    /// The HTTP answer the synchronous path gives: 200 applied/duplicate/pong, 202 ignored, 400
    /// malformed (with the JSON path), 503 when a retry can help, 500 when it cannot.
    pub fn answer(&self, delivery: &str) -> Answer {
        let status = self.disposition().as_str();
        match self {
            Delivered::Applied { detail, .. } => {
                let mut body = detail.clone();
                body["status"] = json!(status);
                Answer::new(200, body)
            }
            Delivered::Ignored { reason } => {
                Answer::new(202, json!({ "status": status, "reason": reason }))
            }
            Delivered::Pong => Answer::new(200, json!({ "status": status })),
            Delivered::Rejected { detail, path } => {
                let mut answer = Answer::refused(400, "malformed_payload", detail.clone());
                if let Some(path) = path {
                    answer.body["path"] = json!(path);
                }
                answer
            }
            Delivered::Failed { error, retryable } => Answer::new(
                if *retryable { 503 } else { 500 },
                json!({ "error": "processing_failed", "detail": error, "delivery": delivery, "retryable": retryable }),
            ),
        }
    }

    /// Whether the delivery's own commit already settled its inbox item done (see
    /// `Executor::apply_verdict_settling`): then the worker writes nothing more on it.
    pub fn settled_inbox(&self) -> bool {
        matches!(
            self,
            Delivered::Applied {
                inbox_settled: true,
                ..
            }
        )
    }

    /// The inbox record the worker writes: a failure stays pending (for the stream's retry, then
    /// replay); everything else is done — including a malformed body, which no retry can change.
    pub fn applied(&self) -> Applied {
        match self {
            Delivered::Failed { error, .. } => {
                tracing::warn!(error = %error, outcome = "failed", "inbox item failed; it stays pending");
                Applied::Failed {
                    error: error.clone(),
                }
            }
            Delivered::Rejected { detail, .. } => {
                tracing::error!(error = %detail, outcome = "rejected", "inbox item cannot be applied");
                Applied::Done {
                    outcome: format!("rejected: {detail}"),
                }
            }
            other => Applied::Done {
                outcome: other.disposition().as_str().to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_and_the_inbox_record_agree_on_every_outcome() {
        let cases = [
            (
                Delivered::Applied {
                    duplicate: false,
                    detail: json!({}),
                    inbox_settled: false,
                },
                200,
                "applied",
                true,
            ),
            (
                Delivered::Applied {
                    duplicate: true,
                    detail: json!({}),
                    inbox_settled: false,
                },
                200,
                "duplicate",
                true,
            ),
            (
                Delivered::Ignored {
                    reason: "not acted on".into(),
                },
                202,
                "ignored",
                true,
            ),
            (Delivered::Pong, 200, "pong", true),
            (
                Delivered::Rejected {
                    detail: "bad".into(),
                    path: Some("alert.number".into()),
                },
                400,
                "rejected: bad",
                true,
            ),
            (
                Delivered::Failed {
                    error: "Jira down".into(),
                    retryable: true,
                },
                503,
                "Jira down",
                false,
            ),
            (
                Delivered::Failed {
                    error: "misconfigured".into(),
                    retryable: false,
                },
                500,
                "misconfigured",
                false,
            ),
        ];
        for (delivered, status, recorded, done) in cases {
            let answer = delivered.answer("d-1");
            assert_eq!(answer.status, status, "{delivered:?}");
            match delivered.applied() {
                Applied::Done { outcome } => {
                    assert!(done, "{delivered:?}");
                    assert_eq!(outcome, recorded);
                    if status < 400 {
                        assert_eq!(answer.body["status"], recorded);
                    }
                }
                Applied::Failed { error } => {
                    assert!(!done, "{delivered:?}");
                    assert_eq!(error, recorded);
                }
                // Only the worker's SARIF uploads are deferred; no webhook delivery is.
                Applied::Deferred { reason } => panic!("{delivered:?} deferred: {reason}"),
            }
        }
        let rejected = Delivered::Rejected {
            detail: "bad".into(),
            path: Some("alert.number".into()),
        };
        assert_eq!(rejected.answer("d").body["path"], "alert.number");
    }
}
