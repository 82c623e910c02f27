//! Upload tokens for CI systems without a GitHub Actions OIDC token: one per App installation,
//! `stxu_<installation id>_<64 hex digits>`, the digits being HMAC-SHA256 of
//! `scantix-upload-token:v1:<installation id>` under the deployment's upload-token secret.
//!
//! Nothing is stored per token: the deployment recomputes the HMAC and compares in constant time.
//! An admin mints one with `scantix upload-token --installation ID` (the same secret in the
//! environment); rotating the secret revokes every token at once. A token speaks for its
//! installation, so it may upload for any repository that installation covers.

use hmac::{Hmac, Mac};
use scantix_core::secret::Secret;
use sha2::Sha256;

/// What every upload token starts with, so a token is told from a JWT (and found by secret
/// scanners) at a glance.
pub const TOKEN_PREFIX: &str = "stxu_";

/// Why an upload token was refused: always the caller's fault (401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the upload token is malformed: {0}")]
    Malformed(&'static str),
    #[error("the upload token does not verify")]
    Mismatch,
}

/// Mints and verifies upload tokens under one deployment secret.
#[derive(Debug, Clone)]
pub struct UploadTokens {
    secret: Secret,
}

impl UploadTokens {
    pub fn new(secret: Secret) -> UploadTokens {
        UploadTokens { secret }
    }

    /// The token for `installation_id` (a secret: give it to that installation's CI only).
    pub fn mint(&self, installation_id: u64) -> Secret {
        let tag = self.mac(installation_id).finalize().into_bytes();
        Secret::new(format!(
            "{TOKEN_PREFIX}{installation_id}_{}",
            hex::encode(tag)
        ))
    }

    /// The installation `token` speaks for.
    pub fn verify(&self, token: &str) -> Result<u64, TokenError> {
        let rest = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed("it does not start with `stxu_`"))?;
        let (id, digest) = rest
            .split_once('_')
            .ok_or(TokenError::Malformed("expected stxu_<installation>_<hex>"))?;
        let installation_id: u64 = id
            .parse()
            .map_err(|_| TokenError::Malformed("the installation id is not a number"))?;
        // One spelling per token: `u64::from_str` also reads `+7` and `007` as 7, which made
        // several strings verify as one token (found by fuzzing, target `signature`).
        if id != installation_id.to_string() {
            return Err(TokenError::Malformed(
                "the installation id is not written as scantix mints it",
            ));
        }
        if digest.len() != 64 {
            return Err(TokenError::Malformed("expected 64 hex digits"));
        }
        let tag = hex::decode(digest).map_err(|_| TokenError::Malformed("not hexadecimal"))?;
        self.mac(installation_id)
            .verify_slice(&tag)
            .map_err(|_| TokenError::Mismatch)?;
        Ok(installation_id)
    }

    fn mac(&self, installation_id: u64) -> Hmac<Sha256> {
        let mut mac = crate::signature::mac_for(self.secret.expose().as_bytes());
        mac.update(format!("scantix-upload-token:v1:{installation_id}").as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_verifies_for_its_installation_only() {
        let tokens = UploadTokens::new(Secret::new("deployment secret"));
        let token = tokens.mint(42);
        assert_eq!(tokens.verify(token.expose()), Ok(42));
        // The same digits claimed for another installation do not verify.
        let forged = token.expose().replacen("stxu_42_", "stxu_43_", 1);
        assert_eq!(tokens.verify(&forged), Err(TokenError::Mismatch));
        // Another deployment's secret does not verify it.
        let other = UploadTokens::new(Secret::new("another secret"));
        assert_eq!(other.verify(token.expose()), Err(TokenError::Mismatch));
    }

    #[test]
    fn a_token_verifies_only_as_minted_not_respelt() {
        // The fuzzer's input: installation 0's token with its id written `00`.
        let tokens = UploadTokens::new(Secret::new("deployment secret"));
        for (id, respelt) in [(0, "00"), (0, "+0"), (42, "042"), (42, "+42")] {
            let token = tokens.mint(id);
            let other =
                token
                    .expose()
                    .replacen(&format!("stxu_{id}_"), &format!("stxu_{respelt}_"), 1);
            assert!(
                matches!(tokens.verify(&other), Err(TokenError::Malformed(_))),
                "{other}"
            );
            assert_eq!(tokens.verify(token.expose()), Ok(id));
        }
    }

    #[test]
    fn malformed_tokens_are_refused_without_panicking() {
        let tokens = UploadTokens::new(Secret::new("s"));
        for bad in [
            "",
            "stxu_",
            "stxu_x_00",
            "stxu_1_zz",
            "stxu_1_",
            "eyJhbGciOi",
            "stxu_1_é",
        ] {
            assert!(
                matches!(tokens.verify(bad), Err(TokenError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
