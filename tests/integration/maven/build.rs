//! Real `mvn package` through Depot.

use std::time::Duration;

use super::{maven_versions, mvn, prepare_project};
use crate::support::{eventually, maven_app_and_store};

/// The guide's `settings.xml` (a `mirrorOf *` mirror at `app`'s Maven endpoint, server `aws` /
/// token) and an empty local repository build the sample project: every plugin, dependency and
/// parent POM comes through `app` → `store` → `public:maven-central`. Afterwards the versions
/// are stored in `store` and retained in `app` (list-package-versions), `list-packages` in
/// `store` shows the build's packages under their groupId, and nothing was prefetched (every
/// POM fetched upstream is one mvn asked for). With the upstream then stopped, a second build
/// from another empty local repository succeeds from the store alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mvn_package_builds_the_sample_project_through_depot() {
    let (fake, depot, aws) = maven_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let dir = depot.scratch("mvn");
    let project = prepare_project(&dir, &depot.maven_endpoint("acme", "app"), &token);
    let started = std::time::Instant::now();
    let out = mvn(&project, &dir.join("m2"), &["package"]).await;
    assert!(
        out.status.success(),
        "mvn package failed:\n{}\n{}\n--- depot log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        depot.log_tail(60)
    );
    eprintln!("mvn package through Depot took {:?}", started.elapsed());
    assert!(project.join("target/sample-1.0.0.jar").exists());
    assert!(fake.hits("junit/junit/4.13.2/junit-4.13.2.jar") == 1, "fetched upstream once");

    for (group, artifact, version) in [
        ("commons-io", "commons-io", "2.11.0"),
        ("junit", "junit", "4.13.2"),
        ("org.apache.maven.plugins", "maven-compiler-plugin", "3.10.1"),
        ("org.apache.commons", "commons-parent", "56"),
    ] {
        for repo in ["store", "app"] {
            eventually(Duration::from_secs(20), &format!("{group}:{artifact} {version} in {repo}"), || {
                let aws = aws.clone();
                async move { maven_versions(&aws, repo, group, artifact).await.contains(&version.to_string()) }
            })
            .await;
        }
    }
    let listed = aws.ok(&["list-packages", "--domain", "acme", "--repository", "store", "--format", "maven"]).await;
    let pkgs = listed["packages"].as_array().unwrap();
    assert!(
        pkgs.iter().any(|p| p["namespace"] == "junit" && p["package"] == "junit" && p["format"] == "maven"),
        "{listed}"
    );
    // No dependency prefetch for Maven: every POM Depot fetched upstream is one mvn asked for
    // (it is in the local repository); a prefetch would have fetched POMs nothing asked for.
    let m2 = dir.join("m2");
    let fetched: Vec<String> = fake.requests().into_iter().filter(|p| p.ends_with(".pom")).collect();
    assert!(fetched.len() > 20, "{fetched:?}");
    for pom in fetched {
        assert!(m2.join(&pom).exists(), "{pom} was fetched upstream but mvn never asked for it");
    }

    // Upstream down: a second build with another empty local repository comes from the store.
    fake.stop();
    let started = std::time::Instant::now();
    let out = mvn(&project, &dir.join("m2-outage"), &["package"]).await;
    assert!(
        out.status.success(),
        "mvn package during the outage failed:\n{}\n--- depot log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        depot.log_tail(40)
    );
    eprintln!("mvn package from the store (upstream down) took {:?}", started.elapsed());
}
