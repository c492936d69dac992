//! `<packaging>` (issue #11): a version is ingested with the main artifact its POM's
//! packaging names — a `war` version with its `.war`, a `pom` version with no main file —
//! instead of always proposing `<artifact>-<version>.jar`.

use super::get;
use crate::support::depot::TestDepot;
use crate::support::fake_maven::FakeMaven;

fn write(root: &std::path::Path, artifact: &str, packaging: &str, main: Option<(&str, &[u8])>) {
    let dir = root.join("com/example").join(artifact);
    std::fs::create_dir_all(dir.join("1.0")).unwrap();
    let pom = format!(
        "<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>{artifact}</artifactId>\
         <version>1.0</version><packaging>{packaging}</packaging></project>"
    );
    std::fs::write(dir.join(format!("1.0/{artifact}-1.0.pom")), pom).unwrap();
    if let Some((ext, bytes)) = main {
        std::fs::write(dir.join(format!("1.0/{artifact}-1.0.{ext}")), bytes).unwrap();
    }
    let meta = format!(
        "<metadata><groupId>com.example</groupId><artifactId>{artifact}</artifactId><versioning><versions>\
         <version>1.0</version></versions></versioning></metadata>"
    );
    std::fs::write(dir.join("maven-metadata.xml"), meta).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_artifact_follows_the_poms_packaging() {
    let root = tempfile::tempdir().unwrap();
    let war: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    write(root.path(), "webapp", "war", Some(("war", war)));
    write(root.path(), "parent", "pom", None);
    let fake = FakeMaven::start_with_root(root.path()).await;
    let depot = TestDepot::builder().maven_upstream(&fake.url()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:maven-central"))]).await;

    assert_eq!(get(&depot, "app", "com/example/webapp/1.0/webapp-1.0.pom", None).await.status(), 200);
    let assets = aws
        .ok(&[
            "list-package-version-assets",
            "--domain",
            "acme",
            "--repository",
            "app",
            "--format",
            "maven",
            "--namespace",
            "com.example",
            "--package",
            "webapp",
            "--package-version",
            "1.0",
        ])
        .await;
    let names: Vec<&str> = assets["assets"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["webapp-1.0.pom", "webapp-1.0.war"], "ingested with its war: {assets}");
    assert_eq!(fake.hits("com/example/webapp/1.0/webapp-1.0.jar"), 0, "no jar proposed for a war");
    let r = get(&depot, "app", "com/example/webapp/1.0/webapp-1.0.war", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), war);
    assert_eq!(fake.hits("com/example/webapp/1.0/webapp-1.0.war"), 1, "downloaded once, at ingestion");

    assert_eq!(get(&depot, "app", "com/example/parent/1.0/parent-1.0.pom", None).await.status(), 200);
    assert_eq!(fake.hits("com/example/parent/1.0/parent-1.0.jar"), 0, "a pom version has no main file");
}
