//! Uploads with the real twine (PyPI's legacy upload API) of an sdist and a wheel built in the
//! test by uv through Depot itself, the 409 rules, bad uploads refused whole, uv as an
//! installer, and pip search's clear refusal.

use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

use super::{depot_index, json_page, requirements, sha256_hex};
use crate::support::pypi_app_and_store;
use crate::support::python::Venv;

/// twine and uv live in a venv of their own (`DEPOT_TEST_PYCLIENTS`, its `bin`), apart from the
/// aws CLI's, whose pinned dependencies twine's do not fit.
fn pyclient(name: &str) -> PathBuf {
    let dir = std::env::var("DEPOT_TEST_PYCLIENTS").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/depot-test-pyclients/bin")
    });
    dir.join(name)
}

async fn run(program: &Path, args: &[&str], home: &Path, dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("UV_NO_CONFIG", "1")
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env("UV_CACHE_DIR", home.join("uv-cache"))
        .env("TWINE_NON_INTERACTIVE", "1")
        .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {}: {e} (scripts/test installs twine and uv)", program.display()))
}

fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Builds a tiny setuptools project with uv, fetching its build backend through Depot's
/// `index`; returns (sdist, wheel).
async fn build(base: &Path, venv: &Venv, name: &str, version: &str, value: &str, index: &str) -> (PathBuf, PathBuf) {
    let dir = base.join(format!("{name}-{version}-{value}"));
    let module = name.replace('-', "_");
    std::fs::create_dir_all(dir.join("src").join(&module)).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"{name}\"\nversion = \"{version}\"\ndescription = \"A tiny package\"\n\
             requires-python = \">=3.8\"\ndependencies = [\"idna\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src").join(&module).join("__init__.py"), format!("VALUE = {value:?}\n")).unwrap();
    let python = venv.bin("python");
    let out =
        run(&pyclient("uv"), &["build", "--python", python.to_str().unwrap(), "--index-url", index], &venv.home, &dir)
            .await;
    assert!(out.status.success(), "uv build failed:\n{}", text(&out));
    let file = |suffix: &str| {
        std::fs::read_dir(dir.join("dist"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix} built"))
    };
    (file(".tar.gz"), file(".whl"))
}

async fn twine(home: &Path, endpoint: &str, token: &str, file: &Path) -> Output {
    let args = ["upload", "--disable-progress-bar", "--repository-url", endpoint, "-u", "aws", "-p", token];
    let mut all: Vec<&str> = args.to_vec();
    all.push(file.to_str().unwrap());
    run(&pyclient("twine"), &all, home, home).await
}

async fn revision(aws: &crate::support::clients::Aws, repo: &str, pkg: &str) -> String {
    let v = aws
        .ok(&["list-package-versions", "--domain", "acme", "--repository", repo, "--format", "pypi", "--package", pkg])
        .await;
    v["versions"][0]["revision"].as_str().unwrap().to_string()
}

/// twine uploads an sdist, then a wheel of the same version (a new revision), an identical file
/// again (success), a different file under a name already there (409); pip installs it back
/// and reads its core metadata (PEP 658) from the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twine_uploads_files_and_pip_installs_them_back() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let token = aws.token("acme").await;
    let index = depot_index(&depot, &aws, "app").await;
    let venv = Venv::create(&depot.scratch("upload"), "venv").await;
    let base = depot.scratch("build");
    let (sdist, wheel) = build(&base, &venv, "tiny-pkg", "1.0.0", "first", &index).await;

    let out = twine(&venv.home, &endpoint, &token, &sdist).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(aws.pypi_versions("acme", "app", "tiny-pkg").await, ["1.0.0"]);
    let r1 = revision(&aws, "app", "tiny-pkg").await;
    let out = twine(&venv.home, &endpoint, &token, &wheel).await;
    assert!(out.status.success(), "{}", text(&out));
    let r2 = revision(&aws, "app", "tiny-pkg").await;
    assert_ne!(r1, r2, "adding a file makes a new revision");
    let out = twine(&venv.home, &endpoint, &token, &wheel).await;
    assert!(out.status.success(), "an identical file again succeeds: {}", text(&out));
    assert_eq!(revision(&aws, "app", "tiny-pkg").await, r2);
    let (_, other_wheel) = build(&base, &venv, "tiny-pkg", "1.0.0", "second", &index).await;
    let out = twine(&venv.home, &endpoint, &token, &other_wheel).await;
    assert!(!out.status.success() && text(&out).contains("409"), "{}", text(&out));

    let page = json_page(&endpoint, "tiny-pkg").await;
    let names: Vec<&str> = page["files"].as_array().unwrap().iter().map(|f| f["filename"].as_str().unwrap()).collect();
    assert_eq!(names, ["tiny_pkg-1.0.0-py3-none-any.whl", "tiny_pkg-1.0.0.tar.gz"]);
    let whl = &page["files"][0];
    assert_eq!(whl["hashes"]["sha256"], sha256_hex(&std::fs::read(&wheel).unwrap()));
    let advertised = whl["core-metadata"]["sha256"].as_str().expect("core metadata advertised").to_string();
    let url = format!("{}.metadata", super::file_url(&endpoint, "tiny-pkg", &page, "tiny_pkg-1.0.0-py3-none-any.whl"));
    let metadata = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(sha256_hex(&metadata), advertised);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(std::fs::read(&wheel).unwrap())).unwrap();
    let mut inside = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("tiny_pkg-1.0.0.dist-info/METADATA").unwrap(), &mut inside).unwrap();
    assert_eq!(metadata.as_ref(), inside.as_slice(), "the wheel's own METADATA");

    let venv = Venv::create(&depot.scratch("install"), "venv").await;
    venv.pip_ok(&["install", "--index-url", &index, "tiny-pkg==1.0.0"]).await;
    assert_eq!(venv.python_ok("import tiny_pkg; print(tiny_pkg.VALUE)").await.trim(), "first");
}

/// A version an external connection or an upstream repository has cannot be uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_of_versions_an_upstream_has_are_refused() {
    // The 409 rule applies where the package's origin controls allow upstream versions.
    let (_fake, depot, aws) = pypi_app_and_store(|b| b.open_origins()).await;
    let token = aws.token("acme").await;
    let index = depot_index(&depot, &aws, "app").await;
    let venv = Venv::create(&depot.scratch("upload"), "venv").await;
    let base = depot.scratch("build");
    let app = depot.pypi_endpoint("acme", "app");

    let (_, wheel) = build(&base, &venv, "requests", "2.34.2", "ours", &index).await;
    let out = twine(&venv.home, &app, &token, &wheel).await;
    assert!(!out.status.success() && text(&out).contains("409"), "{}", text(&out));
    assert!(aws.pypi_versions("acme", "app", "requests").await.is_empty());

    let (sdist, _) = build(&base, &venv, "tiny-pkg", "2.0.0", "store", &index).await;
    let out = twine(&venv.home, &depot.pypi_endpoint("acme", "store"), &token, &sdist).await;
    assert!(out.status.success(), "{}", text(&out));
    let (sdist, _) = build(&base, &venv, "tiny-pkg", "2.0.0", "app", &index).await;
    let out = twine(&venv.home, &app, &token, &sdist).await;
    assert!(!out.status.success() && text(&out).contains("409"), "{}", text(&out));
    assert!(aws.pypi_versions("acme", "app", "tiny-pkg").await.is_empty());
}

fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "depot-test-boundary-1234";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Bad uploads get 400 with the reason (401 with a Basic challenge without a token) and store
/// nothing; pip search gets CodeArtifact's refusal in pip's own words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_and_store_nothing() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b.env("DEPOT_MAX_PACKAGE_BYTES", "100000")).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let token = aws.token("acme").await;
    let client = reqwest::Client::new();
    let fields = |name: &str, digest: &str| -> Vec<(String, String)> {
        vec![
            (":action".into(), "file_upload".into()),
            ("protocol_version".into(), "1".into()),
            ("name".into(), name.into()),
            ("version".into(), "1.0.0".into()),
            ("filetype".into(), "bdist_wheel".into()),
            ("sha256_digest".into(), digest.into()),
        ]
    };
    let post = |fields: Vec<(String, String)>, file: Option<(&'static str, Vec<u8>)>, auth: bool| {
        let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (ct, body) = multipart(&f, file.as_ref().map(|(n, b)| (*n, b.as_slice())));
        let mut req = client.post(&endpoint).header("content-type", ct).body(body);
        if auth {
            req = req.basic_auth("aws", Some(&token));
        }
        async move {
            let r = req.send().await.unwrap();
            let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), r.text().await.unwrap(), challenge)
        }
    };
    let junk = b"this is not a zip archive".to_vec();
    let junk_sha = sha256_hex(&junk);
    let file = "tiny_pkg-1.0.0-py3-none-any.whl";

    let (status, _, challenge) = post(fields("tiny-pkg", &junk_sha), Some((file, junk.clone())), false).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Basic realm=\"depot\"")));
    let r = client.post(&endpoint).basic_auth("aws", Some(&token)).body("name=x").send().await.unwrap();
    assert_eq!(r.status(), 400, "not multipart");
    let cases = [
        (fields("tiny-pkg", &junk_sha), "not a valid zip"),
        (fields("tiny-pkg", &"0".repeat(64)), "sha256_digest"),
        (fields("other-pkg", &junk_sha), "does not match"),
    ];
    for (f, expect) in cases {
        let (status, body, _) = post(f, Some((file, junk.clone())), true).await;
        assert_eq!(status, 400, "{expect}: {body}");
        assert!(body.contains(expect), "{expect}: {body}");
    }
    // A wheel that is a zip but has no METADATA.
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("tiny_pkg/__init__.py", zip::write::SimpleFileOptions::default()).unwrap();
    let no_metadata = w.finish().unwrap().into_inner();
    let (status, body, _) = post(fields("tiny-pkg", &sha256_hex(&no_metadata)), Some((file, no_metadata)), true).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("has no METADATA"), "{body}");
    // A multipart body cut off before its closing boundary.
    let (ct, mut cut) = multipart(&[(":action", "file_upload")], Some((file, b"partial")));
    cut.truncate(cut.len() - 30);
    let r = client.post(&endpoint).basic_auth("aws", Some(&token)).header("content-type", ct).body(cut);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("malformed multipart body"));
    let (status, body, _) = post(fields("tiny-pkg", &junk_sha), None, true).await;
    assert_eq!(status, 400, "{body}");
    let big = vec![7u8; 200_000];
    let (status, body, _) = post(fields("tiny-pkg", &sha256_hex(&big)), Some((file, big)), true).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("limit"), "{body}");
    assert!(aws.pypi_versions("acme", "app", "tiny-pkg").await.is_empty(), "nothing stored");
    let tmp = std::fs::read_dir(depot.data_dir().join("blobs/tmp")).unwrap().count();
    assert_eq!(tmp, 0, "no staged file left behind");

    let venv = Venv::create(&depot.scratch("search"), "venv").await;
    let out = venv.pip(&["search", "--index", &endpoint, "requests"]).await;
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && said.contains("search is not supported"), "{said}");
}

/// uv installs the fixture project through Depot as pip does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uv_installs_the_fixture_project() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let index = depot_index(&depot, &aws, "app").await;
    let venv = Venv::create(&depot.scratch("uv"), "venv").await;
    let python = venv.bin("python");
    let args = ["pip", "install", "--python", python.to_str().unwrap(), "--index-url", &index, "-r"];
    let mut all: Vec<&str> = args.to_vec();
    let reqs = requirements("requirements.txt");
    all.push(&reqs);
    let out = run(&pyclient("uv"), &all, &venv.home, &venv.home).await;
    assert!(out.status.success(), "uv pip install failed:\n{}", text(&out));
    let v = venv.python_ok("import requests, docopt; print(requests.__version__)").await;
    assert_eq!(v.trim(), "2.34.2");
}

/// `aws codeartifact login --tool pip` and `--tool twine` configure the real clients: pip
/// installs and twine uploads with nothing else set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_configures_pip_and_twine() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let venv = Venv::create(&depot.scratch("login"), "venv").await;
    let aws = aws.with_path(&venv.dir.join("bin"));
    aws.ok(&["login", "--tool", "pip", "--domain", "acme", "--repository", "app"]).await;
    let conf = aws.home.join(".config/pip/pip.conf");
    let written = std::fs::read_to_string(&conf).unwrap_or_else(|e| panic!("{}: {e}", conf.display()));
    let endpoint = depot.pypi_endpoint("acme", "app");
    let host_path = endpoint.trim_start_matches("http://");
    assert!(
        written.contains("index-url = http://aws:") && written.contains(&format!("@{host_path}simple/")),
        "{written}"
    );
    let venv = venv.with_config(&conf);
    venv.pip_ok(&["install", "requests==2.34.2"]).await;
    venv.python_ok("import requests").await;

    aws.ok(&["login", "--tool", "twine", "--domain", "acme", "--repository", "app"]).await;
    let pypirc = aws.home.join(".pypirc");
    let written = std::fs::read_to_string(&pypirc).unwrap();
    assert!(
        written.contains(&format!("repository = {endpoint}")) || written.contains(&format!("repository: {endpoint}")),
        "{written}"
    );
    let index = depot_index(&depot, &aws, "app").await;
    let (sdist, _) = build(&depot.scratch("build"), &venv, "tiny-pkg", "3.0.0", "login", &index).await;
    let args = [
        "upload",
        "--disable-progress-bar",
        "--config-file",
        pypirc.to_str().unwrap(),
        "--repository",
        "codeartifact",
        sdist.to_str().unwrap(),
    ];
    let out = run(&pyclient("twine"), &args, &venv.home, &venv.home).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(aws.pypi_versions("acme", "app", "tiny-pkg").await, ["3.0.0"]);
}
