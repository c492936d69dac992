//! The real package clients the cold-install benchmark times: `npm ci` of the fixture
//! `express-app` and `pip install -r` of the fixture `requests-app`, each with a fresh cache,
//! a fresh HOME and no user configuration, so every file comes from the registry under test.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};
use tokio::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
}

fn fresh_dir(p: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(p);
    std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))
}

fn check(what: &str, out: &Output) -> Result<()> {
    ensure!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Runs `npm ci` of `express-app` in `<scratch>/project` with its lockfile pointing at
/// `registry` (a base URL without the trailing slash); returns how long npm took.
pub async fn npm_ci(scratch: &Path, registry: &str) -> Result<Duration> {
    let src = fixtures().join("npm/projects/express-app");
    let (project, home, cache) = (scratch.join("project"), scratch.join("home"), scratch.join("cache"));
    for d in [&project, &home, &cache] {
        fresh_dir(d)?;
    }
    std::fs::copy(src.join("package.json"), project.join("package.json"))?;
    let lock = std::fs::read_to_string(src.join("package-lock.json"))?;
    std::fs::write(project.join("package-lock.json"), lock.replace("{{UPSTREAM}}", registry))?;
    let userconfig = home.join(".npmrc");
    std::fs::write(&userconfig, "")?;
    let started = Instant::now();
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .arg(format!("--registry={registry}/"))
        .arg(format!("--cache={}", cache.display()))
        .arg(format!("--userconfig={}", userconfig.display()))
        .env("HOME", &home)
        .env("npm_config_update_notifier", "false")
        .current_dir(&project)
        .kill_on_drop(true)
        .output()
        .await
        .context("running npm (is Node's npm installed?)")?;
    let took = started.elapsed();
    check("npm ci", &out)?;
    ensure!(project.join("node_modules/express/package.json").is_file(), "npm ci left no node_modules/express");
    Ok(took)
}

/// The interpreter venvs are made from (`$DEPOT_TEST_PYTHON`'s base, else `python3`'s).
async fn base_python() -> Result<PathBuf> {
    let py = std::env::var("DEPOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&py)
        .args(["-c", "import sys; print(getattr(sys, '_base_executable', sys.executable))"])
        .output()
        .await
        .with_context(|| format!("running {py}"))?;
    check(&py, &out)?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// A fresh venv in `<scratch>/venv` (not timed); then `pip install -r requirements.txt` of
/// `requests-app` from `index` (a `…/simple/` URL) with a fresh cache dir, timed.
pub async fn pip_install(scratch: &Path, index: &str) -> Result<Duration> {
    let (venv, home, cache) = (scratch.join("venv"), scratch.join("pip-home"), scratch.join("pip-cache"));
    for d in [&home, &cache] {
        fresh_dir(d)?;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let py = base_python().await?;
    let out = Command::new(&py).args(["-m", "venv"]).arg(&venv).env("HOME", &home).output().await?;
    check("python -m venv", &out)?;
    let requirements = fixtures().join("pypi/projects/requests-app/requirements.txt");
    // The venv's bin first, as activation does, so the sdist build's subprocesses find it.
    let path = format!("{}:{}", venv.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let started = Instant::now();
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "--disable-pip-version-check", "--no-input", "--index-url", index, "-r"])
        .arg(&requirements)
        .arg("--cache-dir")
        .arg(&cache)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&home)
        .kill_on_drop(true)
        .output()
        .await
        .context("running pip")?;
    let took = started.elapsed();
    check("pip install", &out)?;
    Ok(took)
}
