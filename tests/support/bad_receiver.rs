//! Receivers that misbehave at the TCP level, written by hand because no well-behaved
//! HTTP server can: they hang, trickle, flood, hang up, redirect or fail the TLS handshake.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Reads the request and never answers.
    Hang,
    /// Answers 200 with a 1,000-byte body, one byte every 100 ms.
    Trickle,
    /// Answers 500 with a 100 MiB body, as fast as the client reads.
    HugeBody,
    /// Hangs up after the first bytes of the request.
    CloseMidRequest,
    /// Answers 302 to `location`.
    Redirect,
    /// Answers the TLS ClientHello with a fatal `handshake_failure` alert.
    TlsFailure,
}

pub const HUGE_BODY_BYTES: u64 = 100 << 20;

pub struct BadReceiver {
    pub url: String,
    /// Body bytes written to clients so far (for [`Misbehaviour::HugeBody`]).
    pub written: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl BadReceiver {
    /// Starts one on 127.0.0.1; `location` is where [`Misbehaviour::Redirect`] points.
    pub async fn start(how: Misbehaviour, location: &str) -> BadReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let scheme = if how == Misbehaviour::TlsFailure {
            "https"
        } else {
            "http"
        };
        let r = BadReceiver {
            url: format!("{scheme}://{addr}/hook"),
            written: Arc::default(),
            stop: CancellationToken::new(),
        };
        let (written, stop, location) = (r.written.clone(), r.stop.clone(), location.to_owned());
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    _ = stop.cancelled() => return,
                    c = listener.accept() => c,
                };
                let Ok((stream, _)) = conn else { continue };
                let (written, stop, location) = (written.clone(), stop.clone(), location.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = serve(how, stream, &written, &location) => {}
                    }
                });
            }
        });
        r
    }
}

impl Drop for BadReceiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(how: Misbehaviour, mut s: TcpStream, written: &AtomicU64, location: &str) {
    match how {
        Misbehaviour::CloseMidRequest => {
            let mut first = [0u8; 16];
            let _ = s.read(&mut first).await;
        }
        Misbehaviour::TlsFailure => {
            let mut hello = [0u8; 512];
            let _ = s.read(&mut hello).await;
            // TLS 1.2 record: alert, fatal (2), handshake_failure (40).
            let _ = s
                .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
                .await;
        }
        Misbehaviour::Hang => {
            read_request(&mut s).await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Misbehaviour::Trickle => {
            read_request(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
                .await;
            for _ in 0..1000 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if s.write_all(b"x").await.is_err() {
                    return;
                }
            }
        }
        Misbehaviour::HugeBody => {
            read_request(&mut s).await;
            let head = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {HUGE_BODY_BYTES}\r\n\r\n"
            );
            let _ = s.write_all(head.as_bytes()).await;
            let chunk = vec![b'z'; 64 << 10];
            let mut sent = 0;
            while sent < HUGE_BODY_BYTES {
                if s.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len() as u64;
                written.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        }
        Misbehaviour::Redirect => {
            read_request(&mut s).await;
            let answer =
                format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n");
            let _ = s.write_all(answer.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    }
}

/// Reads one request: the head, then `content-length` bytes of body.
async fn read_request(s: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
