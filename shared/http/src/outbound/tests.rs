use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server on a free local port that answers its requests with `answers` in turn (the last one
/// repeated), counting them. Each answer is a status and extra header lines.
async fn scripted(answers: Vec<(u16, &'static str)>) -> (String, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let n = seen.fetch_add(1, Ordering::SeqCst) as usize;
            let (status, headers) = answers[n.min(answers.len() - 1)];
            let body = format!("{{\"n\":{n}}}");
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (base, count)
}

fn client(max_rate_limit_wait: Duration) -> HttpClient {
    let mut settings = ClientSettings::new("test");
    settings.retry = RetryPolicy {
        max_attempts: 3,
        backoff_base: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_rate_limit_wait,
    };
    HttpClient::new(settings).unwrap()
}

fn get(base: &str, replay: Replay) -> Request {
    Request::new(Method::GET, format!("{base}/rest/x"), replay).query("jql", "secret terms")
}

#[tokio::test]
async fn a_safe_call_is_repeated_through_5xx_until_it_is_answered() {
    let (base, count) = scripted(vec![(502, ""), (503, ""), (200, "")]).await;
    let answer = client(Duration::ZERO)
        .send(&get(&base, Replay::Safe))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json::<serde_json::Value>().unwrap()["n"], 2);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_safe_call_gives_up_after_the_policy_s_attempts_without_naming_its_query() {
    let (base, count) = scripted(vec![(500, "")]).await;
    let err = client(Duration::ZERO)
        .send(&get(&base, Replay::Safe))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::GaveUp { attempts: 3, .. }),
        "{err}"
    );
    assert_eq!(err.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn an_unsafe_call_is_never_repeated_after_a_5xx() {
    let (base, count) = scripted(vec![(500, ""), (200, "")]).await;
    let err = client(Duration::ZERO)
        .send(&get(&base, Replay::Unsafe))
        .await
        .unwrap_err();
    assert!(err.is_ambiguous(), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_connection_is_repeated_even_for_an_unsafe_call() {
    // A port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(Duration::ZERO)
        .send(&get(&base, Replay::Unsafe))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::GaveUp { attempts: 3, .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn a_short_rate_limit_is_waited_out_and_a_long_one_given_back_at_once() {
    let (base, count) = scripted(vec![(429, "retry-after: 0\r\n"), (200, "")]).await;
    let answer = client(Duration::from_secs(1))
        .send(&get(&base, Replay::Unsafe))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(count.load(Ordering::SeqCst), 2);

    let (base, count) = scripted(vec![(429, "retry-after: 120\r\n"), (200, "")]).await;
    let err = client(Duration::from_secs(1))
        .send(&get(&base, Replay::Safe))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(120)),
        "{err}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn without_a_rate_limit_wait_a_429_is_the_adapter_s_to_read() {
    let (base, count) = scripted(vec![(429, "retry-after: 0\r\n"), (200, "")]).await;
    let answer = client(Duration::ZERO)
        .send(&get(&base, Replay::Safe))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.header("retry-after"), Some("0"));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refusals_and_redirects_are_answers_for_the_adapter() {
    for status in [301, 400, 401, 404, 422] {
        let (base, count) = scripted(vec![(status, "location: /elsewhere\r\n")]).await;
        let answer = client(Duration::ZERO)
            .send(&get(&base, Replay::Safe))
            .await
            .unwrap();
        assert_eq!(answer.status.as_u16(), status);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn descriptions_keep_the_path_and_drop_the_query() {
    let request = Request::new(
        Method::POST,
        "https://jira.example/rest/api/3/search/jql?jql=secret".into(),
        Replay::Safe,
    );
    assert_eq!(request.describe(), "POST /rest/api/3/search/jql");
    assert_eq!(path_of("http://host"), "/");
    assert_eq!(path_of("http://host/a/b#frag"), "/a/b");
}

#[test]
fn authorization_headers_are_sensitive() {
    let request = Request::new(Method::GET, "http://h/".into(), Replay::Safe)
        .authorization(bearer("ghs_secret").unwrap());
    assert!(!format!("{request:?}").contains("ghs_secret"));
    let basic = basic("me@example.com", "token").unwrap();
    assert_eq!(basic, "Basic bWVAZXhhbXBsZS5jb206dG9rZW4=");
    assert!(bearer("bad\ntoken").is_none());
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let mut h = HeaderMap::new();
    h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
    assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    let later = chrono::Utc::now() + chrono::Duration::seconds(60);
    h.insert(
        RETRY_AFTER,
        HeaderValue::from_str(&later.to_rfc2822()).unwrap(),
    );
    let d = retry_after(&h).unwrap();
    assert!(
        d > Duration::from_secs(50) && d <= Duration::from_secs(60),
        "{d:?}"
    );
    h.insert(
        RETRY_AFTER,
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    assert_eq!(retry_after(&h), Some(Duration::ZERO));
    h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
    assert_eq!(retry_after(&h), None);
}

#[test]
fn backoff_grows_with_jitter_and_is_capped() {
    let policy = RetryPolicy {
        backoff_base: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        ..RetryPolicy::default()
    };
    for attempt in 1..=3 {
        let full = Duration::from_millis(100 * 2u64.pow(attempt - 1));
        let wait = policy.backoff(attempt);
        assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
    }
    assert!(policy.backoff(30) <= Duration::from_secs(1));
}

#[tokio::test]
async fn an_answer_longer_than_the_client_reads_is_refused_not_buffered() {
    let (base, _) = scripted(vec![(200, "")]).await;
    let mut settings = ClientSettings::new("test");
    settings.max_body = 4;
    let err = HttpClient::new(settings)
        .unwrap()
        .send(&get(&base, Replay::Safe))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::TooLarge(_)), "{err}");
}
