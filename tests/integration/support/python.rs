//! A real `pip` (the one `python3 -m venv` bundles: 23.2.1 with CPython 3.11; never
//! upgraded) in a fresh virtual environment with an isolated environment: the variables are
//! cleared, `HOME` is a scratch directory, no cache, no version check and no configuration
//! file unless the test writes one.

use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

/// The interpreter venvs are made from: the base of `$DEPOT_TEST_PYTHON` (itself often a
/// venv) or of `python3`, resolved once with the caller's environment because `python3` may
/// be a shim that needs it (pyenv).
async fn base_python() -> PathBuf {
    let py = std::env::var("DEPOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&py)
        .args(["-c", "import sys; print(getattr(sys, '_base_executable', sys.executable))"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {py} (install python3, or set DEPOT_TEST_PYTHON): {e}"));
    assert!(out.status.success(), "{py} failed: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A fresh virtual environment and the isolated environment its `pip` runs in.
pub struct Venv {
    /// The venv directory (`bin/pip`, `bin/python`).
    pub dir: PathBuf,
    /// `HOME` for pip (`~/.config/pip/pip.conf` lives here if a test writes one).
    pub home: PathBuf,
    /// `PIP_CONFIG_FILE`; `/dev/null` (no configuration) unless [`Venv::with_config`].
    config: PathBuf,
    extra_env: Vec<(String, String)>,
}

impl Venv {
    /// `python3 -m venv <base>/<name>` (replacing an earlier one), with HOME `<base>/<name>-home`.
    pub async fn create(base: &Path, name: &str) -> Venv {
        let dir = base.join(name);
        let home = base.join(format!("{name}-home"));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        let py = base_python().await;
        let out = Command::new(&py)
            .args(["-m", "venv"])
            .arg(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .output()
            .await
            .expect("run python -m venv");
        assert!(out.status.success(), "python -m venv failed:\n{}", String::from_utf8_lossy(&out.stderr));
        Venv { dir, home, config: PathBuf::from("/dev/null"), extra_env: Vec::new() }
    }

    /// pip reads this configuration file (`PIP_CONFIG_FILE`) instead of none.
    pub fn with_config(mut self, path: &Path) -> Self {
        self.config = path.to_path_buf();
        self
    }

    /// Adds a variable to pip's otherwise cleared environment (e.g. `PIP_INDEX_URL`).
    pub fn with_env(mut self, k: &str, v: &str) -> Self {
        self.extra_env.push((k.to_string(), v.to_string()));
        self
    }

    /// `<venv>/bin/<name>`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        // The venv's bin first, as activation does, so an sdist build's subprocesses find it.
        let path = format!("{}:{}", self.dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
        cmd.env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("PIP_NO_CACHE_DIR", "1")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_INPUT", "1")
            .env("PIP_CONFIG_FILE", &self.config)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(&self.home);
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `<venv>/bin/pip <args>`.
    pub async fn pip(&self, args: &[&str]) -> Output {
        self.command(&self.bin("pip")).args(args).output().await.expect("run pip")
    }

    /// Runs pip and asserts success (showing its output otherwise); returns stdout + stderr.
    pub async fn pip_ok(&self, args: &[&str]) -> String {
        let out = self.pip(args).await;
        let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "pip {args:?} failed:\n{text}");
        text
    }

    /// Runs `<venv>/bin/python -c <code>` and asserts success; returns stdout.
    pub async fn python_ok(&self, code: &str) -> String {
        let out = self.command(&self.bin("python")).args(["-c", code]).output().await.expect("run python");
        assert!(
            out.status.success(),
            "python -c {code:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `name==version` of every installed distribution (`pip freeze --all`), names normalised.
    pub async fn installed(&self) -> Vec<String> {
        let text = self.pip_ok(&["freeze", "--all"]).await;
        let mut v: Vec<String> = text
            .lines()
            .filter_map(|l| l.split_once("=="))
            .map(|(n, ver)| format!("{}=={}", super::fake_pypi::normalize(n.trim()), ver.trim()))
            .collect();
        v.sort();
        v
    }
}

/// The fixture project `requests-app` (its requirement files).
pub fn requests_app() -> PathBuf {
    super::fixtures().join("pypi/projects/requests-app")
}

/// An index URL with `aws:<token>` credentials, as `aws codeartifact login --tool pip` writes it.
pub fn index_url_with_token(simple_url: &str, token: &str) -> String {
    match simple_url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://aws:{token}@{rest}"),
        None => simple_url.to_string(),
    }
}
