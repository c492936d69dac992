//! Parent POMs (issue #11): DescribePackageVersion and ListPackageVersionDependencies show
//! what a version inherits from its parents stored in the repository's search order (Maven's
//! rules: licenses, url, scm, description inherited; name not), dependency versions from the
//! parents' dependencyManagement and `${…}` properties resolved; a parent that is not stored
//! is not fetched by a describe. The fixture corpus' POMs are Debian's, which carry no
//! licenses, url or scm, so the chain here is written for the test: child → mid → top.

use super::{get, maven_versions};
use crate::support::clients::Aws;
use crate::support::depot::TestDepot;
use crate::support::fake_maven::FakeMaven;

const TOP: &str = r#"<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>com.example</groupId><artifactId>top</artifactId><version>3</version><packaging>pom</packaging>
<name>Top</name><description>Top description</description><url>https://top.example.com</url>
<licenses><license><name>Apache-2.0</name><url>https://www.apache.org/licenses/LICENSE-2.0</url></license></licenses>
<scm><url>https://scm.example.com/top</url></scm>
<properties><base>4</base><lib.version>${base}.1</lib.version></properties>
<dependencyManagement><dependencies>
<dependency><groupId>${project.groupId}</groupId><artifactId>managed</artifactId><version>9.9</version><scope>test</scope></dependency>
</dependencies></dependencyManagement></project>"#;

const MID: &str = r#"<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<parent><groupId>com.example</groupId><artifactId>top</artifactId><version>3</version></parent>
<artifactId>mid</artifactId><version>2</version><packaging>pom</packaging><name>Mid</name>
<description>Mid description</description><properties><base>5</base></properties></project>"#;

const CHILD: &str = r#"<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<parent><groupId>com.example</groupId><artifactId>mid</artifactId><version>2</version></parent>
<artifactId>child</artifactId><version>1.0</version><name>Child</name>
<dependencies>
<dependency><groupId>com.example</groupId><artifactId>managed</artifactId></dependency>
<dependency><groupId>com.example</groupId><artifactId>sibling</artifactId><version>${project.version}</version></dependency>
<dependency><groupId>com.example</groupId><artifactId>lib</artifactId><version>${lib.version}</version></dependency>
<dependency><groupId>com.example</groupId><artifactId>odd</artifactId><version>${unknown.version}</version></dependency>
</dependencies></project>"#;

/// A POM whose parent is itself: the chain stops, the describe still answers.
const LOOP: &str = r#"<project><parent><groupId>com.example</groupId><artifactId>loop</artifactId><version>1</version></parent>
<artifactId>loop</artifactId><version>1</version><packaging>pom</packaging></project>"#;

fn write_artifact(root: &std::path::Path, artifact: &str, version: &str, pom: &str) {
    let dir = root.join("com/example").join(artifact);
    std::fs::create_dir_all(dir.join(version)).unwrap();
    std::fs::write(dir.join(version).join(format!("{artifact}-{version}.pom")), pom).unwrap();
    let meta = format!(
        "<metadata><groupId>com.example</groupId><artifactId>{artifact}</artifactId><versioning><versions>\
         <version>{version}</version></versions></versioning></metadata>"
    );
    std::fs::write(dir.join("maven-metadata.xml"), meta).unwrap();
}

async fn op(aws: &Aws, op: &str, artifact: &str, version: &str) -> serde_json::Value {
    aws.ok(&[
        op,
        "--domain",
        "acme",
        "--repository",
        "app",
        "--format",
        "maven",
        "--namespace",
        "com.example",
        "--package",
        artifact,
        "--package-version",
        version,
    ])
    .await
}

fn dep_version(deps: &serde_json::Value, package: &str) -> String {
    let d = deps["dependencies"].as_array().unwrap().iter().find(|d| d["package"] == package);
    let d = d.unwrap_or_else(|| panic!("{package} in {deps}"));
    format!("{} {}", d["versionRequirement"].as_str().unwrap_or("-"), d["dependencyType"].as_str().unwrap_or("-"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_what_a_pom_inherits_from_stored_parents() {
    let root = tempfile::tempdir().unwrap();
    for (a, v, pom) in [("top", "3", TOP), ("mid", "2", MID), ("child", "1.0", CHILD), ("loop", "1", LOOP)] {
        write_artifact(root.path(), a, v, pom);
    }
    let fake = FakeMaven::start_with_root(root.path()).await;
    let depot: TestDepot = TestDepot::builder().maven_upstream(&fake.url()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:maven-central"))]).await;
    let pom = |a: &str, v: &str| format!("com/example/{a}/{v}/{a}-{v}.pom");

    // Parents not stored yet: the child shows only its own fields, and the describe fetches nothing.
    assert_eq!(get(&depot, "app", &pom("child", "1.0"), None).await.status(), 200, "{}", depot.log_tail(20));
    let d = op(&aws, "describe-package-version", "child", "1.0").await;
    assert_eq!(d["packageVersion"]["licenses"].as_array().map_or(0, Vec::len), 0, "{d}");
    assert_eq!(
        dep_version(&op(&aws, "list-package-version-dependencies", "child", "1.0").await, "lib"),
        "${lib.version} compile"
    );
    assert!(maven_versions(&aws, "store", "com.example", "mid").await.is_empty(), "a describe ingests no parent");
    assert_eq!(fake.hits(&pom("mid", "2")), 0);

    // With mid and top stored (as a build would fetch them), the child inherits.
    for (a, v) in [("mid", "2"), ("top", "3")] {
        assert_eq!(get(&depot, "app", &pom(a, v), None).await.status(), 200);
    }
    let d = op(&aws, "describe-package-version", "child", "1.0").await;
    let v = &d["packageVersion"];
    assert_eq!(v["displayName"], "Child", "{d}");
    assert_eq!(v["summary"], "Mid description", "description is inherited from the closest parent: {d}");
    assert_eq!(v["homePage"], "https://top.example.com", "{d}");
    assert_eq!(v["sourceCodeRepository"], "https://scm.example.com/top", "{d}");
    assert_eq!(v["licenses"][0]["name"], "Apache-2.0", "{d}");
    assert_eq!(v["licenses"][0]["url"], "https://www.apache.org/licenses/LICENSE-2.0", "{d}");
    let d = op(&aws, "describe-package-version", "mid", "2").await;
    assert_eq!(d["packageVersion"]["displayName"], "Mid", "name is not inherited: {d}");
    let deps = op(&aws, "list-package-version-dependencies", "child", "1.0").await;
    assert_eq!(dep_version(&deps, "managed"), "9.9 test", "from top's dependencyManagement: {deps}");
    assert_eq!(dep_version(&deps, "sibling"), "1.0 compile", "{deps}");
    assert_eq!(dep_version(&deps, "lib"), "5.1 compile", "top's ${{base}}.1 with mid's base: {deps}");
    assert_eq!(dep_version(&deps, "odd"), "${unknown.version} compile", "left as written: {deps}");

    // A POM that names itself as its parent: the chain stops.
    assert_eq!(get(&depot, "app", &pom("loop", "1"), None).await.status(), 200);
    let d = op(&aws, "describe-package-version", "loop", "1").await;
    assert_eq!(d["packageVersion"]["version"], "1", "{d}");
}
