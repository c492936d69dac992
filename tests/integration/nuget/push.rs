//! `nuget push` through Depot: the real NuGet.exe 5.8 pushes packages built in the test and
//! installs them back (with credentials from `nuget sources add`, sent only after a 401), the
//! 409 / identical / publish-BLOCK / upstream rules as NuGet.exe shows them (the reason
//! phrase), `nuget delete` refused with the operations to use, and bad packages answered 400
//! with the reason and nothing stored. Raw requests replay NuGet.exe's exact push shape (PUT
//! `v2/package/`, chunked multipart with a quoted boundary, `X-NuGet-ApiKey`).

use std::io::{Cursor, Write};

use serde_json::Value;

use crate::support::clients::Aws;
use crate::support::depot::{DepotBuilder, TestDepot};
use crate::support::fake_nuget::FakeNuget;
use crate::support::nuget_client::{output_text, NuGet, Nupkg};

async fn start(configure: impl FnOnce(DepotBuilder) -> DepotBuilder) -> (TestDepot, Aws, String, String) {
    let depot = configure(TestDepot::builder()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &[], None)]).await;
    let token = aws.token("acme").await;
    let endpoint = depot.nuget_endpoint("acme", "app");
    (depot, aws, token, endpoint)
}

async fn versions(aws: &Aws, id: &str) -> Vec<(String, String)> {
    let args = ["list-package-versions", "--domain", "acme", "--repository", "app", "--format", "nuget"];
    let out = aws.run(&[&args[..], &["--package", id]].concat()).await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let list = v["versions"].as_array().cloned().unwrap_or_default();
    list.iter().map(|x| (x["version"].as_str().unwrap().into(), x["status"].as_str().unwrap().into())).collect()
}

/// NuGet.exe pushes two packages built here (one depending on the other), with the token
/// stored by `nuget sources add` and a placeholder API key, then installs the dependent one
/// back: both come down byte for byte. The nuspec's data reaches the package operations
/// (dependency range, readme). Pushing the same bytes again succeeds; different bytes under
/// that version fail with the reason NuGet.exe prints; `nuget delete` is refused naming the
/// operations that delete or unlist. On main there is no NuGet endpoint: the push fails.
#[tokio::test(flavor = "multi_thread")]
async fn nuget_exe_pushes_built_packages_and_installs_them_back() {
    let (depot, aws, token, endpoint) = start(|b| b).await;
    let nuget = NuGet::new(&endpoint);
    nuget.sources_add(&token).await;
    let dir = depot.scratch("pkgs");
    let core = Nupkg::new("Acme.Core", "1.0.0").readme("# Acme.Core\nThe core.");
    let app = Nupkg::new("Acme.App", "1.0").dependency(Some("netstandard2.0"), "Acme.Core", "1.0.0");
    let (core_file, app_file) = (core.write_to(&dir), app.write_to(&dir));
    for f in [&core_file, &app_file] {
        let out = nuget.push(f, "placeholder-key").await;
        let text = output_text(&out);
        assert!(out.status.success() && text.contains("Your package was pushed."), "{text}\n{}", depot.log_tail(30));
    }
    assert_eq!(versions(&aws, "Acme.Core").await, [("1.0.0".to_string(), "Published".to_string())]);
    // `1.0` in the nuspec is stored normalized.
    assert_eq!(versions(&aws, "acme.app").await, [("1.0.0".to_string(), "Published".to_string())]);

    let out_dir = depot.scratch("installed");
    let out = nuget.install("Acme.App", "1.0.0", &out_dir).await;
    assert!(out.status.success(), "{}\n{}", output_text(&out), depot.log_tail(30));
    for (name, file) in [("Acme.App.1.0", &app_file), ("Acme.Core.1.0.0", &core_file)] {
        let path = out_dir.join(name).join(format!("{name}.nupkg"));
        let listing = || walk(&out_dir);
        let got =
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; installed: {:?}", path.display(), listing()));
        assert_eq!(got, std::fs::read(file).unwrap(), "{name} came back with other bytes");
    }
    let pkg = ["--domain", "acme", "--repository", "app", "--format", "nuget", "--package-version", "1.0.0"];
    let deps = aws.ok(&[&["list-package-version-dependencies", "--package", "acme.app"][..], &pkg[..]].concat()).await;
    assert_eq!(deps["dependencies"][0]["package"], "Acme.Core", "{deps}");
    assert_eq!(deps["dependencies"][0]["versionRequirement"], "[1.0.0, )", "{deps}");
    let readme = aws.ok(&[&["get-package-version-readme", "--package", "acme.core"][..], &pkg[..]].concat()).await;
    assert_eq!(readme["readme"], "# Acme.Core\nThe core.", "{readme}");

    // The same bytes again: success. Other bytes under the version: 409, reason shown.
    assert!(nuget.push(&core_file, "k").await.status.success());
    let other = depot.scratch("other");
    let changed = Nupkg::new("Acme.Core", "1.0.0").description("another build").write_to(&other);
    let out = nuget.push(&changed, "k").await;
    let text = output_text(&out);
    assert!(!out.status.success() && text.contains("409 (") && text.contains("already exists"), "{text}");

    let text = nuget.err(&["delete", "Acme.Core", "1.0.0", "-Source", &nuget.source, "-ApiKey", "k"]).await;
    assert!(text.contains("405 (") && text.contains("DeletePackageVersions"), "{text}");
    assert!(text.contains("UpdatePackageVersionsStatus"), "{text}");
    assert_eq!(versions(&aws, "Acme.Core").await, [("1.0.0".to_string(), "Published".to_string())]);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        out.push(p.strip_prefix(dir).unwrap().display().to_string());
        if p.is_dir() {
            out.extend(walk(&p).into_iter().map(|s| format!("{}/{s}", e.file_name().to_string_lossy())));
        }
    }
    out
}

/// The multipart body NuGet.exe 5.8 sends (see docs/design/nuget.md, "What the clients send").
fn multipart(package: &[u8]) -> (String, Vec<u8>) {
    let boundary = "0f6c1d7e-5b0a-4f47-9a7e-2b7c61b3c9d1";
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; \
         filename=package.nupkg; filename*=utf-8''package.nupkg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(package);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary=\"{boundary}\""), body)
}

/// `PUT <endpoint>v2/package/` as NuGet.exe sends it (chunked), with Basic `aws:<token>`.
async fn put(endpoint: &str, token: Option<&str>, package: &[u8]) -> (u16, String, Option<String>) {
    let (ct, body) = multipart(package);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(1000).map(|c| Ok(c.to_vec())).collect();
    let mut req = reqwest::Client::new()
        .put(format!("{endpoint}v2/package/"))
        .header("Content-Type", ct)
        .header("X-NuGet-ApiKey", token.unwrap_or("some-key"))
        .header("X-NuGet-Client-Version", "5.8.0")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
    if let Some(t) = token {
        req = req.basic_auth("aws", Some(t));
    }
    let resp = req.send().await.unwrap();
    let challenge = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    (resp.status().as_u16(), resp.text().await.unwrap(), challenge)
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Every bad push is a 400 naming its reason, and nothing is stored: a non-zip, a zip without
/// a root .nuspec, two nuspecs, a nuspec that is not XML or lacks its version, a zip bomb
/// (80 MiB of zeros squeezed into ~80 KB), a body over `server.max_package_bytes`, a body
/// that is not multipart. Without a token the answer is the Basic challenge NuGet needs, even
/// when `X-NuGet-ApiKey` carries the token (the key is ignored). On main: no route (404).
#[tokio::test(flavor = "multi_thread")]
async fn bad_pushes_are_400_with_the_reason_and_store_nothing() {
    let (depot, aws, token, endpoint) = start(|b| b.env("DEPOT_MAX_PACKAGE_BYTES", "1048576")).await;
    let good = Nupkg::new("Bad.Pkg", "1.0.0");
    let (status, _, challenge) = put(&endpoint, None, &good.build()).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Basic realm=\"depot\"")));
    let nuspec = good.nuspec();
    let no_version = nuspec.replace("<version>1.0.0</version>", "");
    let zeros = vec![0u8; 80 * 1024 * 1024];
    let bomb = zip_of(&[("Bad.Pkg.nuspec", nuspec.as_bytes()), ("lib/zeros.bin", &zeros)]);
    drop(zeros);
    assert!(bomb.len() < 1024 * 1024, "the bomb must pass the size limit: {}", bomb.len());
    let big: Vec<u8> = (0..1_200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("non-zip", b"this is not a zip".to_vec(), "not a valid zip"),
        ("no nuspec", zip_of(&[("lib/a.dll", b"x")]), "no .nuspec"),
        ("two nuspecs", zip_of(&[("A.nuspec", nuspec.as_bytes()), ("B.nuspec", nuspec.as_bytes())]), "more than one"),
        ("bad XML", zip_of(&[("Bad.Pkg.nuspec", b"<package><metadata>")]), "not valid"),
        ("no version", zip_of(&[("Bad.Pkg.nuspec", no_version.as_bytes())]), "missing <version>"),
        ("bomb", bomb, "zip bomb"),
        ("oversized", big, "exceeds the limit"),
    ];
    for (what, bytes, reason) in cases {
        let (status, text, _) = put(&endpoint, Some(&token), &bytes).await;
        assert_eq!(status, 400, "{what}: {text}");
        assert!(text.contains(reason), "{what}: {text:?} should say {reason:?}");
    }
    let resp = reqwest::Client::new()
        .put(format!("{endpoint}v2/package"))
        .basic_auth("aws", Some(&token))
        .header("Content-Type", "application/octet-stream")
        .body(good.build())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.text().await.unwrap().contains("multipart/form-data"));
    let listed = aws.ok(&["list-packages", "--domain", "acme", "--repository", "app"]).await;
    assert_eq!(listed["packages"], serde_json::json!([]), "{listed}");
    // The good package itself goes through the same path (without the trailing slash too).
    let (status, text, _) = put(&endpoint, Some(&token), &good.build()).await;
    assert_eq!(status, 201, "{text}\n{}", depot.log_tail(20));
}

/// A version an upstream has (the fake NuGet feed of ../shared/fixtures/nuget behind a store
/// repository) cannot be pushed: 409 naming the external connection, as NuGet.exe shows it;
/// a new version of that package can. publish=BLOCK on a package refuses its push with 403.
/// On main: no NuGet endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn push_of_an_upstream_version_is_409_and_publish_block_is_403() {
    let fake = FakeNuget::start().await;
    // Both origin controls ALLOW (the guide's behaviour), so the upstream rule is what decides.
    let depot = TestDepot::builder().nuget_upstream(&fake.url()).open_origins().start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:nuget-org"))]).await;
    let token = aws.token("acme").await;
    let nuget = NuGet::new(&depot.nuget_endpoint("acme", "app"));
    nuget.sources_add(&token).await;
    let dir = depot.scratch("pkgs");
    let taken = Nupkg::new("Depot.Fixture.Core", "1.0.0").write_to(&dir);
    let out = nuget.push(&taken, "k").await;
    let text = output_text(&out);
    assert!(!out.status.success() && text.contains("409 (") && text.contains("public:nuget-org"), "{text}");
    let newer = Nupkg::new("Depot.Fixture.Core", "9.0.0").write_to(&dir);
    let out = nuget.push(&newer, "k").await;
    assert!(out.status.success(), "{}\n{}", output_text(&out), depot.log_tail(30));

    let args = ["put-package-origin-configuration", "--domain", "acme", "--repository", "app", "--format", "nuget"];
    aws.ok(&[&args[..], &["--package", "acme.blocked", "--restrictions", "publish=BLOCK,upstream=ALLOW"]].concat())
        .await;
    let blocked = Nupkg::new("Acme.Blocked", "1.0.0").write_to(&dir);
    let out = nuget.push(&blocked, "k").await;
    let text = output_text(&out);
    assert!(!out.status.success() && text.contains("403 ("), "{text}");
    assert!(versions(&aws, "acme.blocked").await.is_empty());
}

/// `aws codeartifact login --tool nuget` with NuGet.exe on PATH as `nuget` adds the
/// repository's service index with the token to the user's NuGet.Config; NuGet.exe then
/// pushes and installs with those credentials alone. On main: no NuGet endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn aws_login_tool_nuget_configures_nuget_exe() {
    let (depot, aws, _token, endpoint) = start(|b| b).await;
    let nuget = NuGet::with_home(&endpoint, &aws.home);
    let out = aws
        .with_path(&nuget.bin_dir())
        .run(&["login", "--tool", "nuget", "--domain", "acme", "--repository", "app"])
        .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let config = std::fs::read_to_string(&nuget.config).unwrap();
    assert!(config.contains(&format!("value=\"{endpoint}v3/index.json\"")) && config.contains("acme/app"), "{config}");
    let file = Nupkg::new("Acme.Login", "2.0.0").write_to(&depot.scratch("pkgs"));
    let out = nuget.push(&file, "k").await;
    assert!(out.status.success(), "{}", output_text(&out));
    let dir = depot.scratch("installed");
    let out = nuget.install("Acme.Login", "2.0.0", &dir).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(dir.join("Acme.Login.2.0.0/Acme.Login.2.0.0.nupkg").exists());
}

/// NuGet.exe writes the whole package before it reads the 401 that makes it send its stored
/// credentials: Depot reads that body (bounded) before answering, so a 24 MB package goes
/// through the challenge. Without the drain NuGet.exe fails with "Error while copying
/// content to a stream" (checked against a server that answers 401 unread).
#[tokio::test(flavor = "multi_thread")]
async fn nuget_exe_pushes_a_large_package_through_the_basic_challenge() {
    let (depot, aws, token, endpoint) = start(|b| b).await;
    let nuget = NuGet::new(&endpoint);
    nuget.sources_add(&token).await;
    let noise = crate::support::noise(24 * 1024 * 1024);
    let file = Nupkg::new("Acme.Large", "1.0.0").file("content/noise.bin", noise).write_to(&depot.scratch("pkgs"));
    let out = nuget.push(&file, "k").await;
    assert!(out.status.success(), "{}\n{}", output_text(&out), depot.log_tail(20));
    assert_eq!(versions(&aws, "acme.large").await, [("1.0.0".to_string(), "Published".to_string())]);
}
