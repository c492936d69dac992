//! Maven through Depot (issue #11, read path), with the real `mvn` (Debian's Maven 3.8) and
//! the fake Maven repository (`support/fake_maven.rs`) serving `../shared/fixtures/maven/repo`.
//! Domain `acme`, repository `app` with upstream `store`, `store` with `public:maven-central`
//! (`support::maven_app_and_store`).

mod bad_input;
mod build;
mod deploy;
mod freshness;
mod gradle;
mod http;
mod package_ops;
mod packaging;
mod parents;
mod publish;
mod snapshots;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::depot::TestDepot;

/// The fixture project `mvn package` builds.
fn sample_project() -> PathBuf {
    crate::support::fixtures().join("maven/projects/sample")
}

/// A copy of the sample project with the guide's `settings.xml` filled in (mirror URL, token).
fn prepare_project(dir: &Path, mirror: &str, token: &str) -> PathBuf {
    let project = dir.join("sample");
    copy_dir(&sample_project(), &project);
    let settings = std::fs::read_to_string(sample_project().join("settings.xml"))
        .unwrap()
        .replace("{{MIRROR_URL}}", mirror)
        .replace("{{TOKEN}}", token);
    std::fs::write(project.join("settings.xml"), settings).unwrap();
    project
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Runs `mvn -B -q -s settings.xml -Dmaven.repo.local=<repo> <args>` in `project`.
async fn mvn(project: &Path, local_repo: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new("mvn");
    cmd.current_dir(project)
        .args(["-B", "-q", "-s", "settings.xml"])
        .arg(format!("-Dmaven.repo.local={}", local_repo.display()))
        .args(args)
        .env("MAVEN_OPTS", "-Xmx512m")
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(300), cmd.output()).await.expect("mvn timed out").expect("run mvn")
}

/// A GET of a path under a repository's Maven endpoint with the token (Basic `aws:<token>`).
async fn get(depot: &TestDepot, repo: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let url = format!("{}{path}", depot.maven_endpoint("acme", repo));
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.basic_auth("aws", Some(t));
    }
    req.send().await.unwrap()
}

/// `list-package-versions --format maven` of `group:artifact` in `repo` (with `--status` when
/// given), in the API's order; `Err(stderr)` when the command fails (no such package).
async fn list_maven_versions(
    aws: &crate::support::clients::Aws,
    repo: &str,
    group: &str,
    artifact: &str,
    status: Option<&str>,
) -> Result<Vec<String>, String> {
    let mut args = vec![
        "list-package-versions",
        "--domain",
        "acme",
        "--repository",
        repo,
        "--format",
        "maven",
        "--namespace",
        group,
        "--package",
        artifact,
    ];
    if let Some(s) = status {
        args.extend(["--status", s]);
    }
    let out = aws.run(&args).await;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Ok(v["versions"].as_array().unwrap().iter().map(|x| x["version"].as_str().unwrap().to_string()).collect())
}

/// `list-package-versions --format maven` of `group:artifact`, sorted (empty when there is none).
async fn maven_versions(aws: &crate::support::clients::Aws, repo: &str, group: &str, artifact: &str) -> Vec<String> {
    let mut vs = list_maven_versions(aws, repo, group, artifact, None).await.unwrap_or_default();
    vs.sort();
    vs
}
