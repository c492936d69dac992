//! pip installs and downloads through Depot: the fixture project, exact bytes, and installs
//! served from the store alone while the upstream is down.

use std::time::Duration;

use super::{declared_sha256, depot_index, requirements, sha256_hex, BUILD_DEPS, PINNED};
use crate::support::eventually;
use crate::support::fake_pypi::normalize;
use crate::support::pypi_app_and_store;
use crate::support::python::Venv;

/// `pip install -r requirements.txt` through `app` (credentials in the index URL): wheels,
/// docopt's sdist built with setuptools/wheel/packaging fetched through the same index, the
/// cp311 charset-normalizer wheel. Afterwards `list-package-versions --format pypi` shows the
/// six pins in `store` and `app`, the build dependencies in `store`, and `list-packages`
/// names are PEP 503-normalised. A second venv with `--require-hashes` accepts Depot's bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_installs_the_fixture_project_through_an_upstream_repository() {
    let (fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let index = depot_index(&depot, &aws, "app").await;
    let venv = Venv::create(&depot.scratch("pip"), "venv").await;
    venv.pip_ok(&["install", "--index-url", &index, "-r", &requirements("requirements.txt")]).await;
    let v = venv.python_ok("import requests, docopt, charset_normalizer; print(requests.__version__)").await;
    assert_eq!(v.trim(), "2.34.2");
    let installed = venv.installed().await;
    for (name, version) in PINNED {
        assert!(installed.contains(&format!("{name}=={version}")), "{name} {version} not in {installed:?}");
    }
    assert!(fake.hits("/files/docopt-0.6.2.tar.gz") >= 1, "Depot fetched the sdist upstream");

    for repo in ["store", "app"] {
        for (name, version) in PINNED {
            eventually(Duration::from_secs(30), &format!("{name} {version} listed in {repo}"), || {
                let aws = aws.clone();
                async move { aws.pypi_versions("acme", repo, name).await.contains(&version.to_string()) }
            })
            .await;
        }
    }
    for (name, version) in BUILD_DEPS {
        assert!(
            aws.pypi_versions("acme", "store", name).await.contains(&version.to_string()),
            "the isolated build's {name} {version} went through Depot"
        );
    }
    let names = aws.pypi_package_names("acme", "store").await;
    let mut expected: Vec<&str> = PINNED.iter().chain(BUILD_DEPS.iter()).map(|(n, _)| *n).collect();
    expected.sort();
    assert_eq!(names, expected, "normalised names only (charset-normalizer, not charset_normalizer)");
    for name in aws.pypi_package_names("acme", "app").await {
        assert_eq!(name, normalize(&name));
    }

    let venv = Venv::create(&depot.scratch("pip"), "hashes").await;
    venv.pip_ok(&[
        "install",
        "--index-url",
        &index,
        "--require-hashes",
        "-r",
        &requirements("requirements-hashes.txt"),
    ])
    .await;
    venv.python_ok("import requests, docopt").await;
}

/// `pip download --no-deps` of a wheel and (with `--no-binary :all:`) of an sdist through
/// Depot: the files on disk are byte-for-byte the upstream's (SHA-256 = `index.json`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_download_gets_the_upstream_bytes() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let index = depot_index(&depot, &aws, "app").await;
    let venv = Venv::create(&depot.scratch("pip"), "venv").await;
    let dest = depot.scratch("downloads");
    let d = dest.to_str().unwrap();
    venv.pip_ok(&["download", "--no-deps", "--index-url", &index, "-d", d, "requests==2.34.2"]).await;
    venv.pip_ok(&["download", "--no-deps", "--no-binary", "docopt", "--index-url", &index, "-d", d, "docopt==0.6.2"])
        .await;
    for file in ["requests-2.34.2-py3-none-any.whl", "docopt-0.6.2.tar.gz"] {
        let bytes = std::fs::read(dest.join(file)).unwrap_or_else(|e| panic!("{file} not downloaded: {e}"));
        assert_eq!(sha256_hex(&bytes), declared_sha256(file), "{file}");
    }
}

/// After one install, the upstream goes away (port closed): a fresh venv installs the same
/// set from Depot alone (stored files, cached pages), and again after Depot restarts during
/// the outage (pages and files persisted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_keep_working_while_the_upstream_is_down() {
    let (fake, mut depot, aws) = pypi_app_and_store(|b| b).await;
    let index = depot_index(&depot, &aws, "app").await;
    let req = requirements("requirements.txt");
    let venv = Venv::create(&depot.scratch("pip"), "first").await;
    venv.pip_ok(&["install", "--index-url", &index, "-r", &req]).await;
    let first = venv.installed().await;

    fake.stop();
    let venv = Venv::create(&depot.scratch("pip"), "outage").await;
    venv.pip_ok(&["install", "--index-url", &index, "-r", &req]).await;
    venv.python_ok("import requests, docopt").await;
    assert_eq!(venv.installed().await, first);

    depot.restart().await;
    let venv = Venv::create(&depot.scratch("pip"), "restarted").await;
    venv.pip_ok(&["install", "--index-url", &index, "-r", &req]).await;
    venv.python_ok("import requests, docopt").await;
    assert_eq!(venv.installed().await, first);
}
