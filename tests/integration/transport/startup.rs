//! Start-up order (bind before creating anything), `localhost:PORT`, and private data on disk.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use crate::support::app_and_store;
use crate::support::depot::{TestDepot, AKID, SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_port_leaves_no_data_directory() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_depot"))
        .arg("serve")
        .env("DEPOT_LISTEN", busy.local_addr().unwrap().to_string())
        .env("DEPOT_DATA_DIR", &data)
        .env("DEPOT_ADMIN_ACCESS_KEY_ID", AKID)
        .env("DEPOT_ADMIN_SECRET_ACCESS_KEY", SECRET)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run).await.expect("depot exits").unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("binding"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!data.exists(), "a failed start left {} behind", data.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_listen_serves_and_counts_as_loopback() {
    let (_fake, depot, _aws) = app_and_store(|b| b.listen_host("localhost")).await;
    // No token: anonymous reads are on because localhost is loopback.
    let r = reqwest::get(format!("{}ms", depot.npm_endpoint("acme", "app"))).await.unwrap();
    assert_eq!(r.status(), 200);
}

fn modes(dir: &Path, out: &mut Vec<(String, bool, u32)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = e.metadata().unwrap();
        out.push((e.path().display().to_string(), meta.is_dir(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            modes(&e.path(), out);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_on_disk_is_private() {
    let (_fake, depot, aws) = app_and_store(|b| b.shell("umask 022")).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    // An npm ingestion…
    let r = reqwest::get(format!("{endpoint}ms/-/ms-2.1.3.tgz")).await.unwrap();
    assert_eq!(r.status(), 200);
    // …and a publish.
    use base64::Engine as _;
    let tgz = crate::support::fake_npm::make_tarball("private-pkg", "1.0.0", &[]);
    let body = serde_json::json!({
        "name": "private-pkg", "versions": {"1.0.0": {"name": "private-pkg", "version": "1.0.0", "dist": {}}},
        "_attachments": {"private-pkg-1.0.0.tgz": {"data": base64::engine::general_purpose::STANDARD.encode(&tgz), "length": tgz.len()}}
    });
    let token = aws.token("acme").await;
    let r = reqwest::Client::new().put(format!("{endpoint}private-pkg")).bearer_auth(token).json(&body).send().await;
    assert_eq!(r.unwrap().status(), 201);

    let data = depot.data_dir().to_path_buf();
    let mut all =
        vec![(data.display().to_string(), true, std::fs::metadata(&data).unwrap().permissions().mode() & 0o777)];
    modes(&data, &mut all);
    assert!(all.iter().filter(|(_, dir, _)| !dir).count() >= 4, "blobs, meta.redb, token-secret: {all:?}");
    for (path, dir, mode) in &all {
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{path} is {mode:o}, want {want:o}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_open_data_directory_is_tightened() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let depot = TestDepot::builder().env("DEPOT_DATA_DIR", data.to_str().unwrap()).start().await;
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(depot.log().contains("tightened permissions"), "{}", depot.log_tail(20));
}
