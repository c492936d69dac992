//! A real `depot serve` process on an ephemeral loopback port with its own data directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::clients::Aws;

/// The admin key every test Depot accepts.
pub const AKID: &str = "AKIDDEPOTTEST0001";
/// Its secret.
pub const SECRET: &str = "depot-test-secret-key";

/// Builds a [`TestDepot`].
pub struct DepotBuilder {
    env: BTreeMap<String, String>,
    config: Option<String>,
    listen_host: String,
    shell: Option<String>,
}

/// A running Depot.
pub struct TestDepot {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    /// The account id it runs as.
    pub account: String,
    /// The region it reports.
    pub region: String,
    env: BTreeMap<String, String>,
    config: Option<PathBuf>,
    child: Option<Child>,
    log: PathBuf,
    tmp: Arc<tempfile::TempDir>,
    shell: Option<String>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl TestDepot {
    /// A builder with hermetic defaults: every external connection points at a dead loopback
    /// port until a test sets it.
    pub fn builder() -> DepotBuilder {
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("DEPOT_ADMIN_ACCESS_KEY_ID", AKID),
            ("DEPOT_ADMIN_SECRET_ACCESS_KEY", SECRET),
            ("DEPOT_UPSTREAM_PUBLIC_NPMJS", ""),
            ("DEPOT_UPSTREAM_PUBLIC_PYPI", ""),
            ("DEPOT_UPSTREAM_PUBLIC_MAVEN_CENTRAL", "http://127.0.0.1:9/maven2"),
            ("DEPOT_UPSTREAM_PUBLIC_MAVEN_GOOGLEANDROID", "http://127.0.0.1:9/google"),
            ("DEPOT_UPSTREAM_PUBLIC_MAVEN_GRADLEPLUGINS", "http://127.0.0.1:9/gradle"),
            ("DEPOT_UPSTREAM_PUBLIC_MAVEN_COMMONSWARE", "http://127.0.0.1:9/commonsware"),
            ("DEPOT_UPSTREAM_PUBLIC_NUGET_ORG", "http://127.0.0.1:9/nuget/v3/index.json"),
            ("RUST_LOG", "info,depot=debug"),
        ] {
            env.insert(k.to_string(), v.to_string());
        }
        DepotBuilder { env, config: None, listen_host: "127.0.0.1".into(), shell: None }
    }

    /// The npm endpoint of a repository, ending in `/`.
    pub fn npm_endpoint(&self, domain: &str, repo: &str) -> String {
        format!("{}/{domain}-{}/npm/{repo}/", self.url, self.account)
    }

    /// The PyPI endpoint of a repository, ending in `/` (pip's index is `<endpoint>simple/`).
    pub fn pypi_endpoint(&self, domain: &str, repo: &str) -> String {
        format!("{}/{domain}-{}/pypi/{repo}/", self.url, self.account)
    }

    /// The Maven endpoint of a repository, ending in `/`.
    pub fn maven_endpoint(&self, domain: &str, repo: &str) -> String {
        format!("{}/{domain}-{}/maven/{repo}/", self.url, self.account)
    }

    /// The NuGet endpoint of a repository, ending in `/` (the service index is
    /// `<endpoint>v3/index.json`).
    pub fn nuget_endpoint(&self, domain: &str, repo: &str) -> String {
        format!("{}/{domain}-{}/nuget/{repo}/", self.url, self.account)
    }

    /// An `aws` runner pointed at this Depot with its admin key.
    pub fn aws(&self) -> Aws {
        Aws::new(&self.url, &self.region, AKID, SECRET)
    }

    /// A scratch directory that lives as long as this Depot.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.tmp.path().join("scratch").join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// The last lines of Depot's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut cmd = match &self.shell {
            // `sh -c '<prefix>; exec "$0" "$@"' depot serve`: the prefix sets umask, ulimit, ….
            Some(prefix) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("{prefix}; exec \"$0\" \"$@\"")).arg(env!("CARGO_BIN_EXE_depot"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_depot")),
        };
        cmd.arg("serve");
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.envs(&self.env).stdout(Stdio::from(log.try_clone().unwrap())).stderr(Stdio::from(log)).kill_on_drop(true);
        for k in ["DEPOT_LISTEN", "DEPOT_DATA_DIR"] {
            assert!(self.env.contains_key(k));
        }
        self.child = Some(cmd.spawn().expect("spawn depot"));
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", self.url)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("depot exited at start ({status}):\n{}", self.log_tail(40));
            }
            assert!(Instant::now() < deadline, "depot did not start:\n{}", self.log_tail(40));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process at once (a crash, as far as the store is concerned).
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// Kills and starts again on the same data directory and port.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        Path::new(self.env.get("DEPOT_DATA_DIR").unwrap())
    }

    /// The process id of the running Depot (to read `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(|c| c.id()).expect("depot is running")
    }
}

impl DepotBuilder {
    /// Sets an environment variable for the Depot process.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.to_string(), v.to_string());
        self
    }

    /// Removes a variable the builder set by default.
    pub fn without(mut self, k: &str) -> Self {
        self.env.remove(k);
        self
    }

    /// A configuration file (TOML) layered over the defaults, under the environment.
    pub fn config(mut self, toml: &str) -> Self {
        self.config = Some(toml.to_string());
        self
    }

    /// Points `public:npmjs` at a (fake) upstream.
    pub fn npm_upstream(self, url: &str) -> Self {
        self.env("DEPOT_UPSTREAM_PUBLIC_NPMJS", url)
    }

    /// Points `public:pypi` at a (fake) upstream: its root or its `…/simple/` URL.
    pub fn pypi_upstream(self, url: &str) -> Self {
        self.env("DEPOT_UPSTREAM_PUBLIC_PYPI", url)
    }

    /// Points `public:maven-central` at a (fake) Maven repository.
    pub fn maven_upstream(self, url: &str) -> Self {
        self.env("DEPOT_UPSTREAM_PUBLIC_MAVEN_CENTRAL", url)
    }

    /// Points `public:maven-gradleplugins` (the Gradle plugin portal) at a (fake) Maven repository.
    pub fn gradle_plugins_upstream(self, url: &str) -> Self {
        self.env("DEPOT_UPSTREAM_PUBLIC_MAVEN_GRADLEPLUGINS", url)
    }

    /// Points `public:nuget-org` at a (fake) NuGet V3 feed's service index.
    pub fn nuget_upstream(self, url: &str) -> Self {
        self.env("DEPOT_UPSTREAM_PUBLIC_NUGET_ORG", url)
    }

    /// Listens on `host:<port>` (e.g. `localhost`) instead of `127.0.0.1:<port>`.
    pub fn listen_host(mut self, host: &str) -> Self {
        self.listen_host = host.to_string();
        self
    }

    /// Runs Depot through `sh -c '<prefix>; exec depot serve'` (e.g. `umask 022`, `ulimit -n 256`).
    pub fn shell(mut self, prefix: &str) -> Self {
        self.shell = Some(prefix.to_string());
        self
    }

    /// `[packages] origin_defaults = "open"`: new packages get both origin controls ALLOW,
    /// the guide's behaviour before origin controls, which older scenarios are written for.
    pub fn open_origins(self) -> Self {
        self.env("DEPOT_PACKAGES_ORIGIN_DEFAULTS", "open")
    }

    /// Starts Depot and waits until it answers.
    pub async fn start(mut self) -> TestDepot {
        let tmp = Arc::new(tempfile::tempdir().unwrap());
        let port = free_port();
        self.env.insert("DEPOT_LISTEN".into(), format!("{}:{port}", self.listen_host));
        self.env.entry("DEPOT_DATA_DIR".into()).or_insert_with(|| tmp.path().join("data").display().to_string());
        let account = self.env.get("DEPOT_ACCOUNT_ID").cloned().unwrap_or_else(|| "000000000000".into());
        let region = self.env.get("DEPOT_REGION").cloned().unwrap_or_else(|| "us-east-1".into());
        let config = self.config.map(|text| {
            let p = tmp.path().join("depot.toml");
            std::fs::write(&p, text).unwrap();
            p
        });
        let mut d = TestDepot {
            config,
            url: format!("http://127.0.0.1:{port}"),
            account,
            region,
            log: tmp.path().join("depot.log"),
            env: self.env,
            child: None,
            tmp,
            shell: self.shell,
        };
        d.spawn().await;
        d
    }
}
