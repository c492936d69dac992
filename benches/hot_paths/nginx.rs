//! The baseline: nginx from Debian serving the very same bytes Depot served, from disk.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, Result};

use crate::procs::{free_port, log_tail, wait_ready, ChildGuard};

pub struct Nginx {
    pub guard: ChildGuard,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

/// `nginx` on `PATH` or at `/usr/sbin/nginx`.
fn find_nginx() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("nginx")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain([PathBuf::from("/usr/sbin/nginx")]).find(|p| p.is_file())
}

/// Serves `root` on a free loopback port. `sendfile` and `gzip_static` as a tuned static
/// server would; `master_process off` makes the process we start the one serving, so
/// killing it leaves no orphaned worker (a killed master does), and it never switches user,
/// so it can read our 0700 temp dir. One serving process: Depot's figure is compared with
/// one nginx worker on this 2-core machine, where the load generator needs the other core.
pub async fn start(root: &Path, scratch: &Path) -> Result<Nginx> {
    let nginx = find_nginx().context(
        "nginx is required as the baseline and was found neither on PATH nor at /usr/sbin/nginx \
         (Debian: apt-get install nginx-light wrk)",
    )?;
    std::fs::create_dir_all(scratch)?;
    let port = free_port()?;
    let conf = scratch.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {s}/nginx.pid;\n\
             error_log {s}/error.log;\nevents {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n\
             \x20 keepalive_timeout 120s;\n  gzip_static on;\n  etag on;\n\
             \x20 types {{ application/json json; application/xml xml; text/html html; }}\n\
             \x20 default_type application/octet-stream;\n\
             \x20 server {{\n    listen 127.0.0.1:{port} backlog=4096;\n    root {root};\n  }}\n}}\n",
            s = scratch.display(),
            root = root.display(),
        ),
    )?;
    std::fs::write(root.join("ready.json"), b"{}")?;
    let child = std::process::Command::new(&nginx)
        .arg("-p")
        .arg(scratch)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(scratch.join("error.log"))
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", nginx.display()))?;
    let mut guard = ChildGuard { name: "nginx", child };
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/ready.json"), &mut guard)
        .await
        .with_context(|| format!("nginx error.log:\n{}", log_tail(&scratch.join("error.log"), 20)))?;
    Ok(Nginx { guard, base })
}
