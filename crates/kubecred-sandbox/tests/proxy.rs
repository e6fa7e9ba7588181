//! The recording forward proxy: relays to loopback targets (absolute-form requests and CONNECT
//! tunnels), refuses any other target before connecting, and asks for its credentials.

use std::net::SocketAddr;

use kubecred_sandbox::proxy::{ForwardProxy, Relayed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A loopback HTTP server answering every request with `hello` and closing.
async fn origin() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
                )
                .await;
        }
    });
    Ok(address)
}

/// Sends `head` (a request line and headers) to the proxy; its whole answer.
async fn raw(proxy: &ForwardProxy, head: &str) -> std::io::Result<String> {
    let address = proxy.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(address).await?;
    stream.write_all(head.as_bytes()).await?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&answer);
        // A refusal or a CONNECT answer has no body: stop at the end of the head.
        if text.contains("\r\n\r\n") && !text.starts_with("HTTP/1.1 200 OK\r\ncontent-length: 5") {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn loopback_targets_are_relayed_and_recorded() -> TestResult {
    let origin = origin().await?;
    let proxy = ForwardProxy::start().await?;
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(proxy.url())?)
        .build()?;
    let answer = client
        .get(format!("http://{origin}/path?q=1"))
        .send()
        .await?;
    assert_eq!(answer.text().await?, "hello");
    assert_eq!(
        proxy.relayed(),
        vec![Relayed {
            method: "GET".into(),
            target: format!("http://{origin}/path?q=1"),
            refused: None,
        }]
    );
    Ok(())
}

#[tokio::test]
async fn other_targets_are_refused_before_any_connection() -> TestResult {
    let proxy = ForwardProxy::start().await?;
    // TEST-NET-1: refused by the proxy, so never contacted.
    let forwarded = raw(
        &proxy,
        "GET http://192.0.2.1/ HTTP/1.1\r\nhost: 192.0.2.1\r\n\r\n",
    )
    .await?;
    assert!(forwarded.starts_with("HTTP/1.1 403"), "{forwarded}");
    let tunnel = raw(
        &proxy,
        "CONNECT 192.0.2.1:443 HTTP/1.1\r\nhost: 192.0.2.1:443\r\n\r\n",
    )
    .await?;
    assert!(tunnel.starts_with("HTTP/1.1 403"), "{tunnel}");
    let refused: Vec<Option<u16>> = proxy.relayed().iter().map(|r| r.refused).collect();
    assert_eq!(refused, vec![Some(403), Some(403)]);
    Ok(())
}

#[tokio::test]
async fn credentials_are_required_when_set() -> TestResult {
    let origin = origin().await?;
    let proxy = ForwardProxy::start_with_basic_auth("user", "secret").await?;
    let target = format!("http://{origin}/");
    let without = raw(
        &proxy,
        &format!("GET {target} HTTP/1.1\r\nhost: {origin}\r\n\r\n"),
    )
    .await?;
    assert!(without.starts_with("HTTP/1.1 407"), "{without}");
    assert!(
        without
            .to_ascii_lowercase()
            .contains("proxy-authenticate: basic"),
        "{without}"
    );

    let proxied = reqwest::Proxy::http(proxy.url())?.basic_auth("user", "secret");
    let client = reqwest::Client::builder().proxy(proxied).build()?;
    assert_eq!(client.get(&target).send().await?.text().await?, "hello");
    let refused: Vec<Option<u16>> = proxy.relayed().iter().map(|r| r.refused).collect();
    assert_eq!(refused, vec![Some(407), None]);
    Ok(())
}

#[tokio::test]
async fn connect_tunnels_reach_loopback_targets() -> TestResult {
    let origin = origin().await?;
    let proxy = ForwardProxy::start().await?;
    let address = proxy.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(address).await?;
    stream
        .write_all(format!("CONNECT {origin} HTTP/1.1\r\nhost: {origin}\r\n\r\n").as_bytes())
        .await?;
    let mut head = [0u8; 256];
    let read = stream.read(&mut head).await?;
    let head = String::from_utf8_lossy(&head[..read]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Through the tunnel: a plain request to the origin.
    stream
        .write_all(format!("GET / HTTP/1.1\r\nhost: {origin}\r\n\r\n").as_bytes())
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    assert!(answer.ends_with("hello"), "{answer}");
    assert_eq!(proxy.relayed()[0].target, origin.to_string());
    Ok(())
}
