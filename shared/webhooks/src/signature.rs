//! Webhook signatures of the `sha256=<hex>` kind: HMAC-SHA256 of the raw request body under a
//! shared secret. GitHub sends it as `X-Hub-Signature-256`, Jira as `X-Hub-Signature`, Linear as
//! `Linear-Signature` with the bare hex digest (no `sha256=`); this module knows only the header
//! *value*, so it serves all three.
//!
//! Check the signature over the exact bytes received, before parsing anything: re-serialised JSON
//! would not hash the same.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What comes before the hex digest in the header value.
const PREFIX: &str = "sha256=";

/// Length of a SHA-256 digest written in hex.
const HEX_DIGEST_LEN: usize = 64;

/// Why a delivery's signature was refused. Always the sender's fault (or an attacker's): retrying
/// the same request cannot help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header, or an empty one (some proxies forward absent headers as empty).
    #[error("the delivery carries no signature")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("the signature header is malformed: {reason}")]
    Malformed { reason: &'static str },
    /// Well formed, but not the HMAC of this body under our secret.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a `sha256=<hex>` signature header value against the raw `body`, in constant time.
///
/// Hex digits are accepted in either case: GitHub sends lowercase, but the digest is compared as
/// bytes, so accepting uppercase costs nothing and spares a confusing refusal.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.map(str::trim).unwrap_or_default();
    if header.is_empty() {
        return Err(SignatureError::Missing);
    }
    let digest = header
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::Malformed {
            reason: "expected `sha256=` followed by the hex digest",
        })?;
    if digest.len() != HEX_DIGEST_LEN {
        return Err(SignatureError::Malformed {
            reason: "expected 64 hex digits after `sha256=`",
        });
    }
    let tag = hex::decode(digest).map_err(|_| SignatureError::Malformed {
        reason: "the digest is not hexadecimal",
    })?;
    let mut mac = mac_for(secret);
    mac.update(body);
    // `verify_slice` compares in constant time, so response timing says nothing about how much
    // of a forged signature was right.
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// Checks a bare hex digest (Linear's `Linear-Signature`: the HMAC-SHA256 of the raw body, 64 hex
/// digits, no prefix) against `body`, in constant time, as [`verify_signature`] does.
pub fn verify_hex_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let digest = header.map(str::trim).unwrap_or_default();
    if digest.is_empty() {
        return Err(SignatureError::Missing);
    }
    if digest.len() != HEX_DIGEST_LEN {
        return Err(SignatureError::Malformed {
            reason: "expected 64 hex digits",
        });
    }
    let tag = hex::decode(digest).map_err(|_| SignatureError::Malformed {
        reason: "the digest is not hexadecimal",
    })?;
    let mut mac = mac_for(secret);
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// The bare hex digest Linear would send for `body` under `secret`: tests sign deliveries with it.
pub fn sign_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac_for(secret);
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The header value a sender with `secret` would attach to `body` (`sha256=` + lowercase hex), as
/// GitHub does. Used by the local CLI and by tests to sign deliveries.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac_for(secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

#[allow(
    clippy::expect_used,
    reason = "HMAC hashes or pads keys of any length, so this cannot fail; the `Result` only \
              exists because `KeyInit` is shared with fixed-key ciphers. The secret is \
              configuration, never request input"
)]
pub(crate) fn mac_for(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";

    #[test]
    fn matches_the_example_in_githubs_documentation() {
        // "Validating webhook deliveries" on docs.github.com gives this secret, payload and header.
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign(SECRET, BODY), expected);
        assert_eq!(verify_signature(SECRET, BODY, Some(expected)), Ok(()));
    }

    #[test]
    fn a_delivery_signed_with_our_secret_verifies() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/github-webhooks/octokit-webhooks/payload-examples/",
            "api.github.com/code_scanning_alert/created.payload.json"
        ))
        .expect("fixture is readable");
        let header = sign(b"webhook-secret", &body);
        assert_eq!(
            verify_signature(b"webhook-secret", &body, Some(&header)),
            Ok(())
        );
    }

    #[test]
    fn a_signature_made_with_another_secret_is_a_mismatch() {
        let header = sign(b"someone else's secret", BODY);
        assert_eq!(
            verify_signature(SECRET, BODY, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_tampered_body_is_a_mismatch() {
        let header = sign(SECRET, BODY);
        assert_eq!(
            verify_signature(SECRET, b"Hello, World?", Some(&header)),
            Err(SignatureError::Mismatch)
        );
        // Even a trailing newline added by a proxy changes the HMAC: we must hash the raw bytes.
        assert_eq!(
            verify_signature(SECRET, b"Hello, World!\n", Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_missing_or_empty_header_is_missing() {
        assert_eq!(
            verify_signature(SECRET, BODY, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(SECRET, BODY, Some("")),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(SECRET, BODY, Some("  ")),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn anything_but_sha256_and_64_hex_digits_is_malformed() {
        let good = sign(SECRET, BODY);
        let digest = good.trim_start_matches(PREFIX);
        let sha1 = format!("sha1={}", &digest[..40]);
        let no_prefix = digest.to_owned();
        let upper_prefix = format!("SHA256={digest}");
        let short = format!("sha256={}", &digest[..63]);
        let long = format!("{good}0");
        let not_hex = format!("sha256={}zz", &digest[..62]);
        for header in [
            sha1.as_str(),
            &no_prefix,
            &upper_prefix,
            &short,
            &long,
            &not_hex,
            "sha256=",
        ] {
            assert!(
                matches!(
                    verify_signature(SECRET, BODY, Some(header)),
                    Err(SignatureError::Malformed { .. })
                ),
                "{header:?} should be malformed"
            );
        }
    }

    #[test]
    fn uppercase_hex_and_surrounding_whitespace_are_accepted() {
        let good = sign(SECRET, BODY);
        let upper = format!("sha256={}", good.trim_start_matches(PREFIX).to_uppercase());
        assert_eq!(verify_signature(SECRET, BODY, Some(&upper)), Ok(()));
        assert_eq!(
            verify_signature(SECRET, BODY, Some(&format!(" {good}\t"))),
            Ok(())
        );
    }

    #[test]
    fn linear_signatures_are_the_bare_hex_digest() {
        let digest = sign_hex(SECRET, BODY);
        assert_eq!(format!("sha256={digest}"), sign(SECRET, BODY));
        assert_eq!(verify_hex_signature(SECRET, BODY, Some(&digest)), Ok(()));
        assert_eq!(
            verify_hex_signature(SECRET, b"Hello, World?", Some(&digest)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_hex_signature(SECRET, BODY, None),
            Err(SignatureError::Missing)
        );
        let prefixed = sign(SECRET, BODY);
        assert!(matches!(
            verify_hex_signature(SECRET, BODY, Some(&prefixed)),
            Err(SignatureError::Malformed { .. })
        ));
        let not_hex = format!("{}zz", &digest[..62]);
        assert!(matches!(
            verify_hex_signature(SECRET, BODY, Some(&not_hex)),
            Err(SignatureError::Malformed { .. })
        ));
    }

    #[test]
    fn an_empty_body_still_needs_a_valid_signature() {
        let header = sign(SECRET, b"");
        assert_eq!(verify_signature(SECRET, b"", Some(&header)), Ok(()));
        assert_eq!(
            verify_signature(b"other", b"", Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }
}
