//! A fault-injecting TCP proxy: hookpost connects to RabbitMQ or Redis through it, and a
//! test can cut every connection, refuse new ones, stall or slow the bytes in flight,
//! then restore service. The servers behind it are never touched.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// One fault, as a scenario lists them.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Every open connection cut; reconnecting works at once.
    Cut,
    /// Connections cut and new ones refused for a while (the server unreachable).
    Down(Duration),
    /// Bytes held, connections open, for a while (a frozen server or network).
    Stall(Duration),
    /// Every chunk delayed by the first duration, for the second.
    Slow(Duration, Duration),
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    faults: Arc<Faults>,
    stop: CancellationToken,
}

struct Faults {
    refusing: AtomicBool,
    /// New connections are taken and held open, silent, until cut.
    holding_new: AtomicBool,
    /// Bytes are held (connections stay open) while this is true.
    stalled: watch::Sender<bool>,
    /// Added before every chunk is passed on.
    delay_ms: AtomicU64,
    /// Cancelled to cut every open connection; replaced after each cut.
    cut: Mutex<CancellationToken>,
    /// Cancelled to freeze every open connection for good; replaced after each freeze.
    freeze: Mutex<CancellationToken>,
    /// Connections accepted so far (to see that hookpost came back through the proxy).
    accepted: AtomicU64,
}

impl Faults {
    /// Waits as long as the current faults say before a chunk may pass.
    async fn pass(&self) {
        let mut stalled = self.stalled.subscribe();
        let _ = stalled.wait_for(|s| !*s).await;
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }
}

impl FaultProxy {
    /// A proxy in front of the server of `url` (`amqp://…` or `redis://…`).
    pub async fn before(url: &str) -> FaultProxy {
        let url = reqwest::Url::parse(url).expect("a server URL");
        let addr = url
            .socket_addrs(|| match url.scheme() {
                "amqp" => Some(5672),
                "redis" => Some(6379),
                _ => None,
            })
            .expect("a server address")[0];
        FaultProxy::start(addr).await
    }

    /// Listens on 127.0.0.1 and forwards to `target`.
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let proxy = FaultProxy {
            addr: listener.local_addr().expect("address"),
            faults: Arc::new(Faults {
                refusing: AtomicBool::new(false),
                holding_new: AtomicBool::new(false),
                stalled: watch::channel(false).0,
                delay_ms: AtomicU64::new(0),
                cut: Mutex::new(CancellationToken::new()),
                freeze: Mutex::new(CancellationToken::new()),
                accepted: AtomicU64::new(0),
            }),
            stop: CancellationToken::new(),
        };
        let (faults, stop) = (proxy.faults.clone(), proxy.stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((client, _)) = accepted else {
                    continue;
                };
                if faults.refusing.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                faults.accepted.fetch_add(1, Ordering::SeqCst);
                let token = faults.cut.lock().unwrap().clone();
                if faults.holding_new.load(Ordering::SeqCst) {
                    tokio::spawn(async move {
                        token.cancelled().await;
                        drop(client);
                    });
                    continue;
                }
                let frozen = faults.freeze.lock().unwrap().clone();
                let faults = faults.clone();
                tokio::spawn(async move {
                    let Ok(upstream) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = upstream.set_nodelay(true);
                    let (client_r, client_w) = client.into_split();
                    let (up_r, up_w) = upstream.into_split();
                    let pumps = async {
                        tokio::join!(pump(client_r, up_w, &faults), pump(up_r, client_w, &faults))
                    };
                    tokio::pin!(pumps);
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = &mut pumps => {}
                        // Open, and silent both ways, until cut: the pumps are kept, not
                        // polled.
                        _ = frozen.cancelled() => token.cancelled().await,
                    }
                });
            }
        });
        proxy
    }

    /// Cuts every open connection; new ones are taken at once.
    pub fn cut(&self) {
        let mut cut = self.faults.cut.lock().unwrap();
        cut.cancel();
        *cut = CancellationToken::new();
    }

    /// Cuts every open connection and refuses new ones until [`FaultProxy::restore`].
    pub fn break_all(&self) {
        self.faults.refusing.store(true, Ordering::SeqCst);
        self.cut();
    }

    /// Holds every byte in flight, connections open, until [`FaultProxy::restore`].
    pub fn stall(&self) {
        self.faults.stalled.send_replace(true);
    }

    /// Freezes every open connection for good, as a half-open one: it stays open and
    /// nothing passes either way, with no error, until cut. New connections work.
    pub fn freeze_open(&self) {
        let mut freeze = self.faults.freeze.lock().unwrap();
        freeze.cancel();
        *freeze = CancellationToken::new();
    }

    /// Takes new connections but passes nothing on them, ever (they stay open and silent
    /// until cut), while the open ones go on working: until [`FaultProxy::restore`].
    pub fn hold_new(&self) {
        self.faults.holding_new.store(true, Ordering::SeqCst);
    }

    /// Delays every chunk passed on by `delay` (a slow network), until restored.
    pub fn delay(&self, delay: Duration) {
        self.faults
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Takes new connections and passes bytes at full speed again.
    pub fn restore(&self) {
        self.faults.refusing.store(false, Ordering::SeqCst);
        self.faults.holding_new.store(false, Ordering::SeqCst);
        self.faults.delay_ms.store(0, Ordering::SeqCst);
        self.faults.stalled.send_replace(false);
    }

    /// Applies `fault`, waits out its duration and restores service.
    pub async fn inject(&self, fault: Fault) {
        let lasts = match fault {
            Fault::Cut => {
                self.cut();
                return;
            }
            Fault::Down(lasts) => {
                self.break_all();
                lasts
            }
            Fault::Stall(lasts) => {
                self.stall();
                lasts
            }
            Fault::Slow(delay, lasts) => {
                self.delay(delay);
                lasts
            }
        };
        tokio::time::sleep(lasts).await;
        self.restore();
    }

    /// How many connections the proxy has accepted.
    pub fn connections(&self) -> u64 {
        self.faults.accepted.load(Ordering::SeqCst)
    }

    /// URLs of the broker and of Redis through this proxy.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.addr)
    }

    pub fn redis_url(&self) -> String {
        format!("redis://{}/", self.addr)
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    faults: &Faults,
) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        faults.pass().await;
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.faults.cut.lock().unwrap().cancel();
        self.faults.stalled.send_replace(false);
    }
}
