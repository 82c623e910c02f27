//! GitHub Actions OIDC tokens: a JWT that GitHub signs (RS256) for one workflow run, asked for
//! with `permissions: id-token: write` and an audience of the workflow's choosing. Verified here:
//! the signature against the issuer's keys, `iss` (GitHub's issuer, or a GHES one), `aud` (the
//! deployment's audience, so a token minted for another service is refused), `exp` and `nbf`
//! with a small leeway; then the claims that say what the run may upload for.
//!
//! Claims GitHub documents ("About security hardening with OpenID Connect"): `repository`
//! (`owner/name`), `repository_id` (a number written as a string), `repository_owner`, `ref`,
//! `sha`, `workflow_ref`, `run_id`, `event_name`, …

use super::jwks::{JwksCache, JwksError, KeyLookup};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::{Deserialize, Deserializer};

/// GitHub.com's issuer. GitHub Enterprise Server's is `https://HOST/_services/token`.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Seconds of clock skew tolerated on `exp` and `nbf`. GitHub's tokens live 5 minutes (`nbf`
/// is set a little before `iat`), so half a minute costs little and spares a skewed clock.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// Why a token was refused. Every variant but `Keys` is the token's fault (401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("the token is signed with {0}; only RS256 is accepted")]
    Algorithm(String),
    #[error("the token's header names no key (`kid`)")]
    NoKeyId,
    #[error("the token is signed with key `{0}`, which the issuer does not publish")]
    UnknownKey(String),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued for another audience (this deployment's is `{0}`)")]
    WrongAudience(String),
    #[error("the token was not issued by `{0}`")]
    WrongIssuer(String),
    #[error("the token lacks a usable `{claim}` claim: {why}")]
    Claim { claim: &'static str, why: String },
    /// The issuer's keys could not be had: not the token's fault, and a retry may help (503).
    #[error(transparent)]
    Keys(#[from] JwksError),
}

impl OidcError {
    /// Whether the token itself was refused (as opposed to our side failing to check it).
    pub fn is_token_fault(&self) -> bool {
        !matches!(self, OidcError::Keys(_))
    }
}

/// What a verified token says about the run that asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ActionsClaims {
    /// `owner/name` of the repository whose workflow ran.
    pub repository: String,
    #[serde(deserialize_with = "number_or_string")]
    pub repository_id: u64,
    #[serde(default)]
    pub repository_owner: Option<String>,
    /// The ref the workflow ran for (`refs/heads/main`, `refs/pull/7/merge`).
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    /// The commit the workflow ran for.
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub workflow_ref: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub event_name: Option<String>,
}

/// Who verifies, against what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: String,
    /// The deployment's audience: what the workflow passes as `audience` when asking for a token.
    pub audience: String,
    pub leeway_secs: u64,
}

impl OidcSettings {
    /// GitHub.com's issuer and the given audience.
    pub fn github(audience: impl Into<String>) -> OidcSettings {
        OidcSettings {
            issuer: GITHUB_ACTIONS_ISSUER.to_owned(),
            audience: audience.into(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }
}

/// Verifies GitHub Actions OIDC tokens.
pub struct OidcVerifier {
    settings: OidcSettings,
    keys: JwksCache,
}

impl OidcVerifier {
    pub fn new(settings: OidcSettings, keys: JwksCache) -> OidcVerifier {
        OidcVerifier { settings, keys }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The claims of `token` once every check passed.
    pub async fn verify(&self, token: &str) -> Result<ActionsClaims, OidcError> {
        let header = decode_header(token).map_err(|e| OidcError::Malformed(e.to_string()))?;
        // Checked before any key lookup: `none`, HS256 with the public key as the secret and
        // the like never get near a key.
        if header.alg != Algorithm::RS256 {
            return Err(OidcError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header
            .kid
            .filter(|k| !k.is_empty())
            .ok_or(OidcError::NoKeyId)?;
        let key = match self.keys.rsa_key(&kid).await? {
            KeyLookup::Found(key) => key,
            KeyLookup::Unknown => return Err(OidcError::UnknownKey(kid)),
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway_secs;
        let data = decode::<ActionsClaims>(token, &key, &validation)
            .map_err(|e| self.refusal(e.into_kind()))?;
        let claims = data.claims;
        if claims
            .repository
            .split_once('/')
            .is_none_or(|(owner, name)| owner.is_empty() || name.is_empty() || name.contains('/'))
        {
            return Err(OidcError::Claim {
                claim: "repository",
                why: format!("`{}` is not owner/name", claims.repository),
            });
        }
        Ok(claims)
    }

    fn refusal(&self, kind: ErrorKind) -> OidcError {
        match kind {
            ErrorKind::ExpiredSignature => OidcError::Expired,
            ErrorKind::ImmatureSignature => OidcError::NotYetValid,
            ErrorKind::InvalidAudience => OidcError::WrongAudience(self.settings.audience.clone()),
            ErrorKind::InvalidIssuer => OidcError::WrongIssuer(self.settings.issuer.clone()),
            ErrorKind::InvalidSignature => OidcError::BadSignature,
            ErrorKind::InvalidAlgorithm => OidcError::Algorithm("a non-RS256 algorithm".into()),
            ErrorKind::MissingRequiredClaim(claim) => OidcError::Claim {
                claim: match claim.as_str() {
                    "exp" => "exp",
                    "iss" => "iss",
                    "aud" => "aud",
                    _ => "a required claim",
                },
                why: "missing".into(),
            },
            ErrorKind::Json(e) => OidcError::Claim {
                claim: "repository",
                why: e.to_string(),
            },
            other => OidcError::Malformed(format!("{other:?}")),
        }
    }
}

/// GitHub writes `repository_id` as a string of digits; accept a number too.
fn number_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(u64),
        Text(String),
    }
    match Id::deserialize(deserializer)? {
        Id::Number(n) => Ok(n),
        Id::Text(text) => text
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a repository id"))),
    }
}
