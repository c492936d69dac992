//! `mvn deploy` of a whole project (issue #11): the fixture sample project with a
//! `distributionManagement` repository at Depot's Maven endpoint, deployed by real `mvn` with
//! the guide's `settings.xml` and an empty local repository; then the version is Published
//! with its jar and POM, DescribePackageVersion shows the POM's data, and a second project
//! compiles against it from another empty local repository.

use super::{mvn, prepare_project};
use crate::support::maven_app_and_store;

/// What README shows: the repository `mvn deploy` publishes to (its id matches the
/// `settings.xml` server holding the token).
fn distribution_management(endpoint: &str) -> String {
    format!(
        "<distributionManagement>\n    <repository>\n      <id>depot</id>\n      <name>Depot</name>\n      \
         <url>{endpoint}</url>\n    </repository>\n  </distributionManagement>\n"
    )
}

/// A project that uses the sample's `Words` class.
const CONSUMER_POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example.consumer</groupId>
  <artifactId>consumer</artifactId>
  <version>1.0.0</version>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <maven.compiler.source>17</maven.compiler.source>
    <maven.compiler.target>17</maven.compiler.target>
  </properties>
  <dependencies>
    <dependency><groupId>com.example.sample</groupId><artifactId>sample</artifactId><version>1.0.0</version></dependency>
  </dependencies>
  <build><pluginManagement><plugins>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.0</version></plugin>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>
  </plugins></pluginManagement></build>
</project>
"#;

const CONSUMER_JAVA: &str = "package com.example.consumer;\n\npublic final class Count {\n    \
    public static int of(String s) throws java.io.IOException { return com.example.sample.Words.count(s); }\n}\n";

fn assert_ok(what: &str, out: &std::process::Output, log: String) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}\n--- depot log ---\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mvn_deploy_publishes_the_sample_project_and_another_project_builds_on_it() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let endpoint = depot.maven_endpoint("acme", "app");
    let dir = depot.scratch("mvn-deploy-project");
    let project = prepare_project(&dir, &endpoint, &token);
    let pom = std::fs::read_to_string(project.join("pom.xml")).unwrap();
    let pom = pom.replacen("</project>", &format!("  {}</project>", distribution_management(&endpoint)), 1);
    std::fs::write(project.join("pom.xml"), pom).unwrap();

    let started = std::time::Instant::now();
    let out = mvn(&project, &dir.join("m2"), &["deploy"]).await;
    assert_ok("mvn deploy", &out, depot.log_tail(60));
    eprintln!("mvn deploy of the sample project through Depot took {:?}", started.elapsed());

    let coords = |op: &'static str| {
        vec![
            op,
            "--domain",
            "acme",
            "--repository",
            "app",
            "--format",
            "maven",
            "--namespace",
            "com.example.sample",
            "--package",
            "sample",
        ]
    };
    let mut args = coords("list-package-versions");
    args.extend(["--status", "Published"]);
    let listed = aws.ok(&args).await;
    let versions: Vec<&str> =
        listed["versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["1.0.0"], "{listed}");
    let mut args = coords("list-package-version-assets");
    args.extend(["--package-version", "1.0.0"]);
    let assets = aws.ok(&args).await;
    let mut names: Vec<&str> =
        assets["assets"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["sample-1.0.0.jar", "sample-1.0.0.pom"], "{assets}");
    let mut args = coords("describe-package-version");
    args.extend(["--package-version", "1.0.0"]);
    let d = aws.ok(&args).await;
    assert_eq!(d["packageVersion"]["displayName"], "sample", "{d}");
    assert_eq!(d["packageVersion"]["summary"], "Sample project for Depot's Maven tests", "{d}");
    assert_eq!(d["packageVersion"]["status"], "Published", "{d}");
    let mut args = coords("list-package-version-dependencies");
    args.extend(["--package-version", "1.0.0"]);
    let deps = aws.ok(&args).await;
    let deps = deps["dependencies"].as_array().unwrap();
    assert!(deps.iter().any(|x| x["package"] == "commons-io" && x["versionRequirement"] == "2.11.0"), "{deps:?}");

    // A second project compiles against the deployed jar, from an empty local repository.
    let consumer = dir.join("consumer");
    std::fs::create_dir_all(consumer.join("src/main/java/com/example/consumer")).unwrap();
    std::fs::write(consumer.join("pom.xml"), CONSUMER_POM).unwrap();
    std::fs::write(consumer.join("src/main/java/com/example/consumer/Count.java"), CONSUMER_JAVA).unwrap();
    std::fs::copy(project.join("settings.xml"), consumer.join("settings.xml")).unwrap();
    let out = mvn(&consumer, &dir.join("m2-consumer"), &["compile"]).await;
    assert_ok("mvn compile of the consumer", &out, depot.log_tail(60));
    assert!(consumer.join("target/classes/com/example/consumer/Count.class").exists());
    let jar = std::fs::read(dir.join("m2-consumer/com/example/sample/sample/1.0.0/sample-1.0.0.jar")).unwrap();
    assert_eq!(jar, std::fs::read(project.join("target/sample-1.0.0.jar")).unwrap(), "the deployed bytes");
}
