//! A pull stops reading once the FHIR server has sent more than the pull's
//! limit, whether the server says how much it will send or not, and even
//! when it never stops: the record is refused, not buffered.

use std::time::Duration;

use kith_smart::{SmartClient, SmartConfig, SmartError, Tokens};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PATIENT: &str = r#"{"resourceType":"Patient","id":"p1"}"#;

/// How the server answers `$everything`.
#[derive(Clone, Copy)]
enum Everything {
    /// A small Bundle: the pull succeeds.
    Small,
    /// A Bundle declared (Content-Length) larger than the limit.
    Declared,
    /// Chunks without end, no length given.
    Endless,
}

/// A plain HTTP/1.1 FHIR server on a real socket, one request per connection.
async fn serve(everything: Everything) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                let json = |body: &str| {
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                };
                if path.ends_with("/Patient/p1") {
                    let _ = sock.write_all(json(PATIENT).as_bytes()).await;
                } else if path.ends_with("/$everything") {
                    match everything {
                        Everything::Small => {
                            let bundle = format!(
                                r#"{{"resourceType":"Bundle","type":"searchset","entry":[{{"resource":{PATIENT}}},{{"resource":{{"resourceType":"Condition","id":"c1","subject":{{"reference":"Patient/p1"}}}}}}]}}"#
                            );
                            let _ = sock.write_all(json(&bundle).as_bytes()).await;
                        }
                        Everything::Declared => {
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: 1073741824\r\nconnection: close\r\n\r\n";
                            let _ = sock.write_all(head.as_bytes()).await;
                            let _ = sock.write_all(br#"{"resourceType":"Bundle""#).await;
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                        Everything::Endless => {
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
                            if sock.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
                            // Until the client hangs up.
                            while sock.write_all(chunk.as_bytes()).await.is_ok() {}
                        }
                    }
                } else {
                    let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                }
            });
        }
    });
    format!("http://{addr}/fhir")
}

fn client(base: &str) -> SmartClient {
    let config = SmartConfig {
        name: "Test FHIR".into(),
        kind: "hospital".into(),
        fhir_base: base.into(),
        client_id: "kith".into(),
        client_secret: None,
        authorize_url: Some(format!("{base}/authorize")),
        token_url: Some(format!("{base}/token")),
        scopes: vec![],
    };
    SmartClient::new(config).unwrap().with_max_pull_bytes(1024 * 1024)
}

fn tokens() -> Tokens {
    Tokens { access: "t".into(), refresh: None, expires_at_ms: None, patient: "p1".into() }
}

#[tokio::test]
async fn a_record_within_the_limit_is_pulled() {
    let base = serve(Everything::Small).await;
    let pulled = client(&base).pull(&tokens()).await.unwrap();
    assert_eq!(pulled.resources, 2, "the Patient once, and the Condition");
}

#[tokio::test]
async fn a_response_declared_too_large_is_refused_before_it_is_read() {
    let base = serve(Everything::Declared).await;
    let outcome = tokio::time::timeout(Duration::from_secs(10), client(&base).pull(&tokens())).await.expect("refused at once, not read");
    assert!(matches!(&outcome, Err(SmartError::Refused(_, m)) if m.contains("larger than 1 MB")), "{:?}", outcome.err());
}

#[tokio::test]
async fn a_server_that_never_stops_sending_is_cut_off_at_the_limit() {
    let base = serve(Everything::Endless).await;
    let outcome = tokio::time::timeout(Duration::from_secs(20), client(&base).pull(&tokens())).await.expect("the pull stopped reading");
    assert!(matches!(&outcome, Err(SmartError::Refused(_, m)) if m.contains("larger than 1 MB")), "{:?}", outcome.err());
}
