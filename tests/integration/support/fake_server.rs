//! Start/stop scaffolding for in-process fake upstreams: bind `127.0.0.1:0`, serve a router on
//! a listener whose connections all die on `stop` (so Depot sees a real outage), and serve
//! again on the same port on `restart`. `fake_maven` uses it; `fake_npm` and `fake_pypi` carry
//! their own copy from before it existed and can move onto it.

use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::killable::killable_listener;

struct Running {
    task: JoinHandle<()>,
    kill: watch::Sender<bool>,
}

impl Running {
    fn shutdown(self) {
        self.task.abort();
        let _ = self.kill.send(true);
    }
}

/// A fake upstream's HTTP server.
pub struct FakeServer {
    addr: std::net::SocketAddr,
    app: Router,
    running: Mutex<Option<Running>>,
}

fn spawn(listener: TcpListener, app: Router) -> Running {
    let (kill, kill_rx) = watch::channel(false);
    let listener = killable_listener(listener, kill_rx);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Running { task, kill }
}

impl FakeServer {
    /// Serves `app` on an ephemeral loopback port.
    pub async fn start(app: Router) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake upstream");
        let addr = listener.local_addr().expect("fake upstream local_addr");
        let running = spawn(listener, app.clone());
        FakeServer { addr, app, running: Mutex::new(Some(running)) }
    }

    /// Root URL without trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes the port and every open connection.
    pub fn stop(&self) {
        if let Some(r) = self.running.lock().unwrap_or_else(|e| e.into_inner()).take() {
            r.shutdown();
        }
    }

    /// Serves again on the same port (no-op while running).
    pub async fn restart(&self) {
        if self.running.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return;
        }
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                // The aborted task drops its listener on its next poll, not at once.
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("re-bind fake upstream port {}: {e}", self.addr),
            }
        };
        let r = spawn(listener, self.app.clone());
        if let Some(old) = self.running.lock().unwrap_or_else(|e| e.into_inner()).replace(r) {
            old.shutdown();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop();
    }
}
