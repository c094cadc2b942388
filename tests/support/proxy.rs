//! A fault-injecting TCP proxy: hookpost connects to RabbitMQ or Redis through it, and a
//! test can cut every connection and refuse new ones, then restore service.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct FaultProxy {
    pub addr: SocketAddr,
    refusing: Arc<AtomicBool>,
    /// Cancelled to cut every open connection; replaced after each cut.
    cut: Arc<std::sync::Mutex<CancellationToken>>,
    stop: CancellationToken,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 and forwards to `target`.
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let proxy = FaultProxy {
            addr: listener.local_addr().expect("address"),
            refusing: Arc::default(),
            cut: Arc::new(std::sync::Mutex::new(CancellationToken::new())),
            stop: CancellationToken::new(),
        };
        let (refusing, cut, stop) = (
            proxy.refusing.clone(),
            proxy.cut.clone(),
            proxy.stop.clone(),
        );
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((mut client, _)) = accepted else {
                    continue;
                };
                if refusing.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let token = cut.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = copy_bidirectional(&mut client, &mut upstream) => {}
                    }
                });
            }
        });
        proxy
    }

    /// Cuts every open connection and refuses new ones until [`FaultProxy::restore`].
    pub fn break_all(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        let mut cut = self.cut.lock().unwrap();
        cut.cancel();
        *cut = CancellationToken::new();
    }

    pub fn restore(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.cut.lock().unwrap().cancel();
    }
}
