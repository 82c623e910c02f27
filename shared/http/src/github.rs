//! What every call to GitHub's REST API carries, whichever adapter makes it: the API version.

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The REST API version scantix is written for, sent as `X-GitHub-Api-Version` on every call to
/// GitHub (this client's, the App's token exchange through it, and the GitHub Issues adapter's).
/// 2022-11-28 is the version the vendored description (`@octokit/openapi` 23.0.2) describes and
/// the code was checked against. 2026-03-10, GitHub's first version with breaking changes, changes
/// calls scantix makes (the description lists them as `x-github-breaking-changes`: issue create
/// and update lose the singular `assignee`, directory listings of the contents API type
/// submodules anew); moving to it is a change to make on purpose, with the fakes updated to it.
/// Without the header GitHub answers as its default version, which GitHub may move; octocrab adds
/// one of its own (from its Cargo metadata), which an upgrade may move, so [`pin_api_version`]
/// sets ours over it.
pub const API_VERSION: &str = "2022-11-28";

/// Sets `X-GitHub-Api-Version` to [`API_VERSION`], replacing whatever was there (one value only:
/// GitHub would read two as one unsupported version).
pub fn pin_api_version(headers: &mut HeaderMap) {
    headers.insert(
        HeaderName::from_static("x-github-api-version"),
        HeaderValue::from_static(API_VERSION),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_version_is_ours_and_sent_once_whatever_octocrab_set() {
        let mut headers = HeaderMap::new();
        // What an octocrab release that moved its own default would have put there.
        headers.append(
            "x-github-api-version",
            HeaderValue::from_static("2099-01-01"),
        );
        headers.append(
            "x-github-api-version",
            HeaderValue::from_static("2022-11-28"),
        );
        pin_api_version(&mut headers);
        let sent: Vec<&HeaderValue> = headers.get_all("x-github-api-version").iter().collect();
        assert_eq!(sent, [&HeaderValue::from_static("2022-11-28")]);
    }
}
