//! A vendor's base URL as settings give it, checked once for every adapter that takes one (Jira,
//! ServiceNow): credentials travel with every request, so plain http is only accepted for a
//! server on this machine (tests, a local proxy).

/// The base URL of `service` (named in messages: `Jira`, `ServiceNow`) without a trailing slash,
/// or why it cannot be one: not a URL, http to another machine, a query, fragment or user in it.
/// The adapter turns the message into its `Misconfigured` error naming its setting.
pub fn parse_base_url(raw: &str, service: &str) -> Result<String, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    let local = matches!(
        url.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        other => {
            return Err(format!(
                "`{raw}` uses {other}: {service} must be reached over https (credentials are sent \
                 with every call)"
            ));
        }
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "`{raw}` must be the plain address of {service} (no query, fragment or user)"
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_base_url;

    #[test]
    fn https_anywhere_http_only_here() {
        assert_eq!(
            parse_base_url(" https://acme.atlassian.net/ ", "Jira").unwrap(),
            "https://acme.atlassian.net"
        );
        assert_eq!(
            parse_base_url("http://127.0.0.1:8080/jira/", "Jira").unwrap(),
            "http://127.0.0.1:8080/jira"
        );
        assert_eq!(
            parse_base_url("http://localhost:9000", "ServiceNow").unwrap(),
            "http://localhost:9000"
        );
        let refused = parse_base_url("http://acme.service-now.com", "ServiceNow").unwrap_err();
        assert!(
            refused.contains("ServiceNow must be reached over https"),
            "{refused}"
        );
        assert!(parse_base_url("ftp://localhost", "Jira").is_err());
    }

    #[test]
    fn only_a_plain_address() {
        for raw in [
            "not a url",
            "https://jira.example.com/?x=1",
            "https://jira.example.com/#top",
            "https://admin@jira.example.com",
        ] {
            assert!(parse_base_url(raw, "Jira").is_err(), "{raw}");
        }
        let message = parse_base_url("https://jira.example.com/?x=1", "Jira").unwrap_err();
        assert!(message.contains("plain address of Jira"), "{message}");
    }
}
