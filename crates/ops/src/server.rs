//! The HTTP server every role runs (the API, the metrics address), with the limits a
//! server facing untrusted clients needs (issue 22, slowloris):
//!
//! - a header-read timeout: a client that trickles its request line and headers, or
//!   holds a connection idle between requests, is disconnected after it;
//! - a whole-request timeout: a request not answered in time (a body sent byte by byte,
//!   a handler stuck on a slow receiver) is cut with a 503;
//! - a connection cap: no more connections are accepted while the cap is reached, so the
//!   ones above it wait in the kernel's listen backlog, unread, until one closes (or the
//!   client gives up).
//!
//! On cancel it stops accepting, lets in-flight requests finish and closes idle
//! connections, as `axum::serve` did.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// The limits of one HTTP server (`HOOKPOST_HTTP_*`).
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
}

impl HttpLimits {
    pub fn of(config: &hookpost_core::Config) -> HttpLimits {
        HttpLimits {
            header_timeout: config.http_header_timeout,
            request_timeout: config.http_request_timeout,
            max_connections: config.http_max_connections,
        }
    }
}

/// Serves `router` on `listener` within `limits` until `cancel` fires. Each request
/// carries `ConnectInfo<SocketAddr>` (the client's address), as with
/// `into_make_service_with_connect_info`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let limit = limits.request_timeout;
    let router = router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| answer_within(limit, req, next),
    ));
    // HTTP/1 only, as before (axum's `http2` feature is off); no version sniffing, so a
    // silent connection is in hyper's header-read timeout from its first byte on.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        // A free slot first, then accept: above the cap, connections stay in the backlog.
        let slot = tokio::select! {
            _ = cancel.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, remote) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e, &cancel).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(remote));
            tower_service::Service::call(&mut router.clone(), req)
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %remote, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Answers 503 for a request that took longer than `limit` (dropping its handler).
async fn answer_within(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!("the request was not answered within {limit:?}; it was cut");
            let body =
                serde_json::json!({ "error": { "code": "request_timeout", "message": message } });
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

/// A client that went away before it was accepted is nothing; anything else (out of file
/// descriptors, say) is logged and retried after a pause, as `axum::serve` does.
async fn accept_failed(e: std::io::Error, cancel: &CancellationToken) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "could not accept a connection");
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn limits(request_timeout: Duration) -> HttpLimits {
        HttpLimits {
            header_timeout: Duration::from_secs(5),
            request_timeout,
            max_connections: 8,
        }
    }

    async fn start(router: Router, limits: HttpLimits) -> (SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cancel = CancellationToken::new();
        tokio::spawn(serve(listener, router, limits, cancel.clone()));
        (addr, cancel)
    }

    /// One `GET path` on a connection of its own; the whole answer.
    async fn get_text(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn a_handler_slower_than_the_request_timeout_is_cut_with_a_503() {
        let router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                }),
            )
            .route("/fast", get(|| async { "fast" }));
        let (addr, _cancel) = start(router, limits(Duration::from_millis(300))).await;
        let started = std::time::Instant::now();
        let answer = get_text(addr, "/slow").await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(get_text(addr, "/fast").await.ends_with("fast"));
    }

    #[tokio::test]
    async fn every_request_carries_the_clients_address() {
        let router = Router::new().route(
            "/me",
            get(|ConnectInfo(addr): ConnectInfo<SocketAddr>| async move { addr.ip().to_string() }),
        );
        let (addr, _cancel) = start(router, limits(Duration::from_secs(5))).await;
        assert!(get_text(addr, "/me").await.ends_with("127.0.0.1"));
    }

    #[tokio::test]
    async fn a_request_in_flight_finishes_when_the_server_is_cancelled() {
        let router = Router::new().route(
            "/work",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "done"
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let server = tokio::spawn(serve(
            listener,
            router,
            limits(Duration::from_secs(5)),
            cancel.clone(),
        ));
        let request = tokio::spawn(get_text(addr, "/work"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
        assert!(request.await.unwrap().ends_with("done"));
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
