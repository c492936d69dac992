//! Gradle through Depot (issue #11): Debian's Gradle 4.4.1 resolving plugins from the Gradle
//! plugin portal (`public:maven-gradleplugins`, a fake serving `../shared/fixtures/gradle-plugins`)
//! and a build resolving Maven dependencies, Gradle's `maven-publish` replayed request by
//! request (Gradle 4.4.1 cannot publish on this JDK, see CLARIFICATIONS), and group-level
//! plugin-prefix metadata passed through from the connection.
//!
//! Gradle runs are slow here (a JVM per run, ~10 s): each test runs Gradle once and checks
//! everything against that run. The tests fail when `gradle` is missing, like the mvn tests.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha1::Digest as _;

use super::{get, maven_versions};
use crate::support::depot::TestDepot;
use crate::support::fake_maven::FakeMaven;
use crate::support::{eventually, fixtures};

/// Depot logs every answer (method, path, status) at this level (`server/front.rs`); the
/// tests read them back.
const ACCESS_LOG: &str = "info,depot=debug";

/// `gradle --no-daemon -g <fresh home> --stacktrace <args>` in `project`, with the token in
/// `CODEARTIFACT_AUTH_TOKEN` as the guide has it. Panics with Gradle's and Depot's output on
/// failure; returns how long the run took.
async fn gradle(depot: &TestDepot, project: &Path, token: &str, args: &[&str]) -> Duration {
    let home = depot.scratch("gradle-home");
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new("gradle");
    cmd.current_dir(project)
        .args(["--no-daemon", "--stacktrace", "-g"])
        .arg(&home)
        .args(args)
        .env("CODEARTIFACT_AUTH_TOKEN", token)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("gradle timed out")
        .expect("run gradle (Debian's `gradle` package; .ci/run installs it)");
    assert!(
        out.status.success(),
        "gradle {args:?} failed:\n{}\n{}\n--- depot log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        depot.log_tail(60)
    );
    started.elapsed()
}

/// The `(method, path below the endpoint, status)` of every request Depot answered under
/// `repo`'s Maven endpoint, in order (from its access log, `ACCESS_LOG`).
fn answered(depot: &TestDepot, repo: &str) -> Vec<(String, String, u16)> {
    let prefix = format!("/acme-{}/maven/{repo}/", depot.account);
    let field = |line: &str, name: &str, end: char| -> Option<String> {
        let start = line.find(name)? + name.len();
        Some(line[start..].split(end).next()?.to_string())
    };
    strip_ansi(&depot.log())
        .lines()
        .filter(|l| l.contains("finished processing request"))
        .filter_map(|l| {
            let path = field(l, " path=", '}')?;
            let rest = path.strip_prefix(&prefix)?.to_string();
            Some((field(l, " method=", ' ')?, rest, field(l, " status=", ' ')?.trim().parse().ok()?))
        })
        .collect()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The guide's `credentials` block.
const CREDENTIALS: &str =
    "credentials {\n            username 'aws'\n            password System.env.CODEARTIFACT_AUTH_TOKEN\n        }";

/// The guide's `pluginManagement` block (settings.gradle) resolving `net.ltgt.apt` 0.10 (no
/// dependencies) and `jflex` 0.0.2 (jflex → cup_runtime, ant) through `app`, whose upstreams
/// are `plugins-store` (`public:maven-gradleplugins`) and `store` (`public:maven-central`): one
/// connection per repository, as CodeArtifact requires. Anonymous reads are off, so Gradle's
/// first request meets the 401 Basic challenge and it retries with the token. Then: markers and
/// implementations are stored in `plugins-store` and retained in `app`, a marker holds its POM
/// only, Gradle's probe for a marker jar (HEAD) answered 404 and did not break the build, and
/// every other request ended 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gradle_resolves_plugins_through_the_plugin_portal_connection() {
    let plugins = FakeMaven::start_gradle_plugins().await;
    let central = FakeMaven::start().await;
    let depot = TestDepot::builder()
        .gradle_plugins_upstream(&plugins.url())
        .maven_upstream(&central.url())
        .env("DEPOT_ANONYMOUS_READS", "false")
        .env("RUST_LOG", ACCESS_LOG)
        .start()
        .await;
    let aws = depot.aws();
    aws.setup(
        "acme",
        &[
            ("app", &["plugins-store", "store"], None),
            ("plugins-store", &[], Some("public:maven-gradleplugins")),
            ("store", &[], Some("public:maven-central")),
        ],
    )
    .await;
    let token = aws.token("acme").await;
    let project = depot.scratch("plugins");
    let endpoint = depot.maven_endpoint("acme", "app");
    write(
        &project,
        "settings.gradle",
        &format!(
            "pluginManagement {{\n  repositories {{\n    maven {{\n        url '{endpoint}'\n        {CREDENTIALS}\n    }}\n  }}\n}}\nrootProject.name = 'plugins'\n"
        ),
    );
    write(
        &project,
        "build.gradle",
        "plugins {\n    id 'net.ltgt.apt' version '0.10'\n    id 'jflex' version '0.0.2'\n}\n",
    );
    let took = gradle(&depot, &project, &token, &["help"]).await;
    eprintln!("gradle help resolving two plugins through Depot took {took:?}");

    for (group, artifact, version) in [
        ("net.ltgt.apt", "net.ltgt.apt.gradle.plugin", "0.10"),
        ("net.ltgt.gradle", "gradle-apt-plugin", "0.10"),
        ("jflex", "jflex.gradle.plugin", "0.0.2"),
        ("co.tomlee.gradle.plugins", "gradle-jflex-plugin", "0.0.2"),
        ("de.jflex", "jflex", "1.7.0"),
        ("de.jflex", "cup_runtime", "0.11b"),
    ] {
        for repo in ["plugins-store", "app"] {
            eventually(Duration::from_secs(20), &format!("{group}:{artifact} {version} in {repo}"), || {
                let aws = aws.clone();
                async move { maven_versions(&aws, repo, group, artifact).await.contains(&version.to_string()) }
            })
            .await;
        }
    }
    let assets = aws
        .ok(&[
            "list-package-version-assets",
            "--domain",
            "acme",
            "--repository",
            "plugins-store",
            "--format",
            "maven",
            "--namespace",
            "net.ltgt.apt",
            "--package",
            "net.ltgt.apt.gradle.plugin",
            "--package-version",
            "0.10",
        ])
        .await;
    let names: Vec<&str> = assets["assets"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["net.ltgt.apt.gradle.plugin-0.10.pom"], "a marker is a POM: {assets}");

    let log = answered(&depot, "app");
    let marker_jar = "net/ltgt/apt/net.ltgt.apt.gradle.plugin/0.10/net.ltgt.apt.gradle.plugin-0.10.jar";
    assert!(log.iter().any(|(m, p, s)| m == "HEAD" && p == marker_jar && *s == 404), "no marker-jar probe: {log:?}");
    assert!(log.iter().any(|(_, _, s)| *s == 401), "the Basic challenge was never answered: {log:?}");
    let jar = "co/tomlee/gradle/plugins/gradle-jflex-plugin/0.0.2/gradle-jflex-plugin-0.0.2.jar";
    assert!(log.iter().any(|(m, p, s)| m == "GET" && p == jar && *s == 200), "{log:?}");
    for (m, p, s) in &log {
        let probe = m == "HEAD" && p.ends_with(".jar") && p.contains(".gradle.plugin/");
        // A 401 is the challenge Gradle answers with credentials; the request then succeeds.
        let retried = *s == 401 && log.iter().any(|(m2, p2, s2)| m2 == m && p2 == p && *s2 == 200);
        assert!(*s == 200 || retried || (probe && *s == 404), "{m} {p} answered {s}: {log:?}");
    }
    eprintln!(
        "Gradle sent {} requests to Depot; upstream requests: plugin portal {}",
        log.len(),
        plugins.requests().len()
    );
}

/// A jar with one class, `com.example.greeter.Greeter.greet(String)`, built with the JDK.
async fn greeter_jar(dir: &Path) -> PathBuf {
    write(
        dir,
        "src/com/example/greeter/Greeter.java",
        "package com.example.greeter;\npublic class Greeter {\n    public static String greet(String who) { return \"Hello, \" + who; }\n}\n",
    );
    let run = |prog: &str, args: &[&str]| {
        let mut c = tokio::process::Command::new(prog);
        c.current_dir(dir).args(args).kill_on_drop(true);
        c
    };
    let out = run("javac", &["-d", "classes", "src/com/example/greeter/Greeter.java"]).output().await.unwrap();
    assert!(out.status.success(), "javac: {}", String::from_utf8_lossy(&out.stderr));
    let out = run("jar", &["cf", "greeter-1.0.jar", "-C", "classes", "."]).output().await.unwrap();
    assert!(out.status.success(), "jar: {}", String::from_utf8_lossy(&out.stderr));
    dir.join("greeter-1.0.jar")
}

/// What Gradle 4.x's `maven-publish` writes for `com.example:greeter:1.0` (its POM lists the
/// `compile` dependencies with scope `runtime`).
const GREETER_POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd" xmlns="http://maven.apache.org/POM/4.0.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>greeter</artifactId>
  <version>1.0</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.commons</groupId>
      <artifactId>commons-lang3</artifactId>
      <version>3.12.0</version>
      <scope>runtime</scope>
    </dependency>
  </dependencies>
</project>
"#;

const GREETER_METADATA: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>com.example</groupId>\n  <artifactId>greeter</artifactId>\n  <versioning>\n    <release>1.0</release>\n    <versions>\n      <version>1.0</version>\n    </versions>\n    <lastUpdated>20261206120000</lastUpdated>\n  </versioning>\n</metadata>\n";

async fn put(depot: &TestDepot, path: &str, token: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut req = reqwest::Client::new().put(format!("{}{path}", depot.maven_endpoint("acme", "app"))).body(body);
    if let Some(t) = token {
        req = req.basic_auth("aws", Some(t));
    }
    req.send().await.unwrap()
}

/// The status of `com.example:greeter` 1.0 in `app` (`None` while it does not exist).
async fn greeter_status(depot: &TestDepot) -> Option<String> {
    let args = ["--format", "maven", "--namespace", "com.example", "--package", "greeter", "--package-version", "1.0"];
    let mut all = vec!["describe-package-version", "--domain", "acme", "--repository", "app"];
    all.extend(args);
    let out = depot.aws().run(&all).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["packageVersion"]["status"].as_str().map(str::to_string)
}

/// Gradle `maven-publish`, replayed (Gradle 4.4.1 cannot publish here): after a GET of
/// `maven-metadata.xml` (404: nothing published yet), a PUT without credentials meets the Basic
/// challenge, then with them the jar, its `.sha1`/`.md5`, the POM, its `.sha1`/`.md5` leave 1.0
/// Unfinished, and `maven-metadata.xml` (+ side files) makes it Published. A HEAD of the
/// rendered metadata reports its real length. Then one Gradle build (`apply plugin: 'java'`,
/// Depot as its only repository) compiles a class using the published `greeter:1.+` (a dynamic
/// version: Gradle reads Depot's metadata) and commons-lang3 from `public:maven-central`; every
/// request Gradle sent ended 200 (after the 401 challenges).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gradle_publish_replayed_then_a_gradle_build_resolves_it_with_maven_central() {
    let central = FakeMaven::start().await;
    let depot = TestDepot::builder()
        .maven_upstream(&central.url())
        .env("DEPOT_ANONYMOUS_READS", "false")
        .env("RUST_LOG", ACCESS_LOG)
        .start()
        .await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:maven-central"))]).await;
    let token = aws.token("acme").await;
    let t = Some(token.as_str());
    let jar = std::fs::read(greeter_jar(&depot.scratch("greeter")).await).unwrap();

    let dir = "com/example/greeter";
    assert_eq!(get(&depot, "app", &format!("{dir}/maven-metadata.xml"), t).await.status(), 404);
    let jar_path = format!("{dir}/1.0/greeter-1.0.jar");
    let challenged = put(&depot, &jar_path, None, jar.clone()).await;
    assert_eq!(challenged.status(), 401);
    assert!(challenged.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic "));
    let pom_path = format!("{dir}/1.0/greeter-1.0.pom");
    for (path, body) in [(&jar_path, jar.clone()), (&pom_path, GREETER_POM.as_bytes().to_vec())] {
        assert_eq!(put(&depot, path, t, body.clone()).await.status(), 201, "{path}: {}", depot.log_tail(20));
        let sha1 = hex::encode(sha1::Sha1::digest(&body));
        let md5 = hex::encode(md5::Md5::digest(&body));
        assert_eq!(put(&depot, &format!("{path}.sha1"), t, sha1.into_bytes()).await.status(), 201);
        assert_eq!(put(&depot, &format!("{path}.md5"), t, md5.into_bytes()).await.status(), 201);
    }
    assert_eq!(greeter_status(&depot).await.as_deref(), Some("Unfinished"));
    let meta_path = format!("{dir}/maven-metadata.xml");
    let meta = GREETER_METADATA.as_bytes();
    assert_eq!(put(&depot, &meta_path, t, meta.to_vec()).await.status(), 201);
    assert_eq!(greeter_status(&depot).await.as_deref(), Some("Published"));
    let sha1 = hex::encode(sha1::Sha1::digest(meta)).into_bytes();
    assert_eq!(put(&depot, &format!("{meta_path}.sha1"), t, sha1).await.status(), 201);
    let md5 = hex::encode(md5::Md5::digest(meta)).into_bytes();
    assert_eq!(put(&depot, &format!("{meta_path}.md5"), t, md5).await.status(), 201);

    // Depot's own metadata: a HEAD says the GET's length (Gradle reads it as the resource's).
    let served = get(&depot, "app", &meta_path, t).await.bytes().await.unwrap();
    assert!(String::from_utf8_lossy(&served).contains("<version>1.0</version>"));
    let url = format!("{}{meta_path}", depot.maven_endpoint("acme", "app"));
    let head = reqwest::Client::new()
        .head(url)
        .basic_auth("aws", t)
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["content-length"].to_str().unwrap(), served.len().to_string(), "HEAD length");

    let project = depot.scratch("app");
    let endpoint = depot.maven_endpoint("acme", "app");
    write(&project, "settings.gradle", "rootProject.name = 'app'\n");
    write(
        &project,
        "build.gradle",
        &format!(
            "apply plugin: 'java'\nrepositories {{\n    maven {{\n        url '{endpoint}'\n        {CREDENTIALS}\n    }}\n}}\n\
             dependencies {{\n    compile 'org.apache.commons:commons-lang3:3.12.0'\n    compile 'com.example:greeter:1.+'\n}}\n"
        ),
    );
    write(
        &project,
        "src/main/java/app/Main.java",
        "package app;\nimport org.apache.commons.lang3.StringUtils;\nimport com.example.greeter.Greeter;\n\
         public class Main {\n    public static void main(String[] a) { System.out.println(StringUtils.upperCase(Greeter.greet(\"gradle\"))); }\n}\n",
    );
    let before = answered(&depot, "app").len();
    let took = gradle(&depot, &project, &token, &["build", "-x", "test"]).await;
    eprintln!("gradle build -x test through Depot took {took:?}");
    assert!(project.join("build/classes/java/main/app/Main.class").exists());
    assert!(project.join("build/libs/app.jar").exists());

    let log = answered(&depot, "app").split_off(before);
    for p in [meta_path.clone(), jar_path, "org/apache/commons/commons-parent/56/commons-parent-56.pom".into()] {
        assert!(log.iter().any(|(m, q, s)| m == "GET" && *q == p && *s == 200), "{p}: {log:?}");
    }
    for (m, p, s) in &log {
        // A 401 is the challenge Gradle answers with credentials; the request then succeeds.
        let retried = *s == 401 && log.iter().any(|(m2, p2, s2)| m2 == m && p2 == p && *s2 == 200);
        assert!(*s == 200 || retried, "{m} {p} answered {s}: {log:?}");
    }
    eprintln!("Gradle sent {} requests to Depot", log.len());
}

/// Group-level plugin-prefix metadata (`org/apache/maven/plugins/maven-metadata.xml`, a
/// `<plugins>` list with no `<versioning>`) is the connection's document byte for byte, with
/// matching side files and HEAD length; an artifact-level document one level down is still
/// Depot's own. The group document is cached like other upstream metadata (one upstream
/// request for two GETs) and refreshed after the configured max age; no package is made of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_level_plugin_metadata_is_passed_through_and_cached() {
    let (fake, depot, aws) =
        crate::support::maven_app_and_store(|b| b.env("DEPOT_METADATA_MAX_AGE_MAVEN_SECS", "5")).await;
    let token = aws.token("acme").await;
    let t = Some(token.as_str());
    let group = "org/apache/maven/plugins/maven-metadata.xml";
    let upstream = std::fs::read(fixtures().join("maven/repo").join(group)).unwrap();
    let r = get(&depot, "app", group, t).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), upstream.as_slice(), "not the connection's document");
    let sha1 = std::fs::read_to_string(fixtures().join("maven/repo").join(format!("{group}.sha1"))).unwrap();
    assert_eq!(get(&depot, "app", &format!("{group}.sha1"), t).await.text().await.unwrap(), sha1.trim());
    let url = format!("{}{group}", depot.maven_endpoint("acme", "app"));
    let head = reqwest::Client::new()
        .head(url)
        .basic_auth("aws", t)
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["content-length"].to_str().unwrap(), upstream.len().to_string());
    assert_eq!(fake.hits(group), 1, "cached: {:?}", fake.requests());

    let artifact = get(&depot, "app", "org/apache/maven/plugins/maven-plugins/maven-metadata.xml", t).await;
    let artifact = artifact.text().await.unwrap();
    assert!(artifact.contains("<versioning>") && artifact.contains("<version>35</version>"), "{artifact}");
    assert!(maven_versions(&aws, "store", "org.apache.maven", "plugins").await.is_empty());

    // A new plugin upstream shows once the cached document is older than the max age.
    let newer = String::from_utf8(upstream).unwrap().replace(
        "<plugins>",
        "<plugins>\n    <plugin>\n      <name>Extra</name>\n      <prefix>extra</prefix>\n      <artifactId>extra-maven-plugin</artifactId>\n    </plugin>",
    );
    fake.corrupt(group, newer.as_bytes());
    eventually(Duration::from_secs(30), "the refreshed group metadata", || async {
        get(&depot, "app", group, t).await.text().await.unwrap() == newer
    })
    .await;
}
