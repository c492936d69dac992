//! The real `aws` and `npm` clients, each with an isolated HOME.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use tokio::process::Command;

fn aws_bin() -> String {
    std::env::var("DEPOT_TEST_AWS").unwrap_or_else(|_| "aws".into())
}

/// Runs `aws codeartifact …` against a Depot.
#[derive(Clone)]
pub struct Aws {
    endpoint: String,
    region: String,
    key: String,
    secret: String,
    /// The HOME the CLI (and `login`'s npm config) uses.
    pub home: PathBuf,
    /// Searched before PATH (`login` runs the `pip` it finds there).
    path_prefix: Option<PathBuf>,
    _tmp: std::sync::Arc<tempfile::TempDir>,
}

impl Aws {
    /// A runner with its own HOME.
    pub fn new(endpoint: &str, region: &str, key: &str, secret: &str) -> Self {
        let tmp = std::sync::Arc::new(tempfile::tempdir().unwrap());
        Self {
            endpoint: endpoint.into(),
            region: region.into(),
            key: key.into(),
            secret: secret.into(),
            home: tmp.path().to_path_buf(),
            path_prefix: None,
            _tmp: tmp,
        }
    }

    /// The same runner with other credentials.
    pub fn with_keys(&self, key: &str, secret: &str) -> Self {
        Self { key: key.into(), secret: secret.into(), ..self.clone() }
    }

    /// The same runner signing for another region.
    pub fn with_region(&self, region: &str) -> Self {
        Self { region: region.into(), ..self.clone() }
    }

    /// The same runner with `dir` searched first for programs (`login --tool pip` runs `pip`).
    pub fn with_path(&self, dir: &Path) -> Self {
        Self { path_prefix: Some(dir.to_path_buf()), ..self.clone() }
    }

    /// Runs `aws codeartifact <args> --endpoint-url <depot>`.
    pub async fn run(&self, args: &[&str]) -> Output {
        let path = std::env::var("PATH").unwrap_or_default();
        let path = match &self.path_prefix {
            Some(p) => format!("{}:{path}", p.display()),
            None => path,
        };
        Command::new(aws_bin())
            .arg("codeartifact")
            .args(args)
            .args(["--endpoint-url", &self.endpoint, "--output", "json"])
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_DEFAULT_REGION", &self.region)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("npm_config_cache", self.home.join("npm-cache"))
            .env("npm_config_update_notifier", "false")
            .output()
            .await
            .expect("run aws (install awscli, or set DEPOT_TEST_AWS)")
    }

    /// Runs and expects success; returns the parsed JSON output (Null when empty).
    pub async fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "aws codeartifact {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// Runs and expects failure; returns stderr.
    pub async fn err(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            !out.status.success(),
            "aws codeartifact {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// A token for a domain.
    pub async fn token(&self, domain: &str) -> String {
        let v = self.ok(&["get-authorization-token", "--domain", domain]).await;
        v["authorizationToken"].as_str().unwrap().to_string()
    }

    /// Creates a domain and repositories: `(name, upstreams, external connection)`.
    pub async fn setup(&self, domain: &str, repos: &[(&str, &[&str], Option<&str>)]) {
        self.ok(&["create-domain", "--domain", domain]).await;
        for (name, _, conn) in repos {
            self.ok(&["create-repository", "--domain", domain, "--repository", name]).await;
            if let Some(c) = conn {
                self.ok(&[
                    "associate-external-connection",
                    "--domain",
                    domain,
                    "--repository",
                    name,
                    "--external-connection",
                    c,
                ])
                .await;
            }
        }
        for (name, ups, _) in repos {
            if !ups.is_empty() {
                let mut args = vec!["update-repository", "--domain", domain, "--repository", name, "--upstreams"];
                let specs: Vec<String> = ups.iter().map(|u| format!("repositoryName={u}")).collect();
                args.extend(specs.iter().map(String::as_str));
                self.ok(&args).await;
            }
        }
    }

    /// `list-packages` names (`@scope/name` for scoped npm packages), sorted.
    pub async fn package_names(&self, domain: &str, repo: &str) -> Vec<String> {
        let mut names = Vec::new();
        let v = self.ok(&["list-packages", "--domain", domain, "--repository", repo]).await;
        for p in v["packages"].as_array().unwrap() {
            let name = p["package"].as_str().unwrap();
            names.push(match p["namespace"].as_str() {
                Some(ns) => format!("@{ns}/{name}"),
                None => name.to_string(),
            });
        }
        names.sort();
        names
    }

    /// `list-package-versions` for an npm package (`@scope/name` accepted).
    pub async fn versions(&self, domain: &str, repo: &str, pkg: &str) -> Vec<String> {
        let mut args = vec!["list-package-versions", "--domain", domain, "--repository", repo, "--format", "npm"];
        let (ns, name) = match pkg.strip_prefix('@').and_then(|p| p.split_once('/')) {
            Some((ns, n)) => (Some(ns), n),
            None => (None, pkg),
        };
        if let Some(ns) = ns {
            args.extend(["--namespace", ns]);
        }
        args.extend(["--package", name]);
        let out = self.run(&args).await;
        if !out.status.success() {
            return vec![];
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut vs: Vec<String> =
            v["versions"].as_array().unwrap().iter().map(|x| x["version"].as_str().unwrap().to_string()).collect();
        vs.sort();
        vs
    }
}

/// Runs the real `npm` with an isolated HOME (its `.npmrc`) and cache.
pub async fn npm(dir: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new("npm")
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("npm_config_userconfig", home.join(".npmrc"))
        .env("npm_config_cache", home.join("npm-cache"))
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false")
        .env("npm_config_fetch_retries", "0")
        .env_remove("npm_config_registry")
        .output()
        .await
        .expect("run npm")
}

/// Runs npm and asserts success, showing its output otherwise.
pub async fn npm_ok(dir: &Path, home: &Path, args: &[&str]) -> String {
    let out = npm(dir, home, args).await;
    assert!(
        out.status.success(),
        "npm {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes `~/.npmrc` for a registry endpoint and token, as `aws codeartifact login` does.
pub fn write_npmrc(home: &Path, endpoint: &str, token: &str) {
    let host_path = endpoint.split_once("://").map(|(_, r)| r).unwrap_or(endpoint);
    std::fs::write(home.join(".npmrc"), format!("registry={endpoint}\n//{host_path}:_authToken={token}\n")).unwrap();
}

/// A fresh HOME for npm (no cache).
pub fn fresh_home(base: &Path, name: &str) -> PathBuf {
    let p = base.join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

impl Aws {
    /// `list-package-versions --format pypi` (sorted as text; empty when the package is absent).
    pub async fn pypi_versions(&self, domain: &str, repo: &str, pkg: &str) -> Vec<String> {
        let args =
            ["list-package-versions", "--domain", domain, "--repository", repo, "--format", "pypi", "--package", pkg];
        let out = self.run(&args).await;
        if !out.status.success() {
            // Only "no such package" means "no versions"; any other failure (an API that
            // refuses the format, say) must not pass for an empty store.
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("ResourceNotFoundException"), "list-package-versions {pkg} failed: {err}");
            return vec![];
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let mut vs: Vec<String> = v["versions"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["version"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        vs.sort();
        vs
    }

    /// `list-packages --format pypi` names, sorted.
    pub async fn pypi_package_names(&self, domain: &str, repo: &str) -> Vec<String> {
        let v = self.ok(&["list-packages", "--domain", domain, "--repository", repo, "--format", "pypi"]).await;
        let mut names: Vec<String> = v["packages"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["package"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}
