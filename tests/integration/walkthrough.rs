//! The getting-started walk-through (`../shared/seeds/getting-started-cli.txt`) with the real
//! `aws` CLI and `npm`, on the guide's account and region, with `express` for `lodash`.

use crate::support::clients::{fresh_home, npm_ok};
use crate::support::depot::TestDepot;
use crate::support::fake_npm::FakeNpm;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getting_started_walkthrough() {
    let fake = FakeNpm::start().await;
    let depot = TestDepot::builder()
        .npm_upstream(&fake.url())
        .env("DEPOT_ACCOUNT_ID", "326213389784")
        .env("DEPOT_REGION", "us-west-2")
        .start()
        .await;
    let aws = depot.aws();
    let d = aws.ok(&["create-domain", "--domain", "my-domain"]).await;
    assert_eq!(d["domain"]["arn"], "arn:aws:codeartifact:us-west-2:326213389784:domain/my-domain");
    aws.ok(&[
        "create-repository",
        "--domain",
        "my-domain",
        "--domain-owner",
        "326213389784",
        "--repository",
        "my-repo",
    ])
    .await;
    aws.ok(&[
        "create-repository",
        "--domain",
        "my-domain",
        "--domain-owner",
        "326213389784",
        "--repository",
        "npm-store",
    ])
    .await;
    let r = aws
        .ok(&[
            "associate-external-connection",
            "--domain",
            "my-domain",
            "--domain-owner",
            "326213389784",
            "--repository",
            "npm-store",
            "--external-connection",
            "public:npmjs",
        ])
        .await;
    assert_eq!(r["repository"]["externalConnections"][0]["packageFormat"], "npm");
    let r = aws
        .ok(&[
            "update-repository",
            "--repository",
            "my-repo",
            "--domain",
            "my-domain",
            "--domain-owner",
            "326213389784",
            "--upstreams",
            "repositoryName=npm-store",
        ])
        .await;
    assert_eq!(r["repository"]["upstreams"][0]["repositoryName"], "npm-store");
    // `login` writes the registry and token into ~/.npmrc of the CLI's HOME.
    aws.ok(&[
        "login",
        "--tool",
        "npm",
        "--repository",
        "my-repo",
        "--domain",
        "my-domain",
        "--domain-owner",
        "326213389784",
    ])
    .await;
    let npmrc = std::fs::read_to_string(aws.home.join(".npmrc")).unwrap();
    let endpoint = depot.npm_endpoint("my-domain", "my-repo");
    assert!(npmrc.contains(&format!("registry={endpoint}")), "{npmrc}");
    assert!(npmrc.contains(":_authToken="), "{npmrc}");

    let project = fresh_home(&depot.scratch("walk"), "project");
    std::fs::write(project.join("package.json"), r#"{"name":"walk","version":"1.0.0","private":true}"#).unwrap();
    npm_ok(&project, &aws.home, &["install", "--save-dev", "express@4"]).await;
    assert!(project.join("node_modules/express/package.json").exists());

    let pkgs = aws.package_names("my-domain", "my-repo").await;
    assert!(pkgs.contains(&"express".to_string()), "{pkgs:?}");
    let v = aws
        .ok(&[
            "list-package-versions",
            "--domain",
            "my-domain",
            "--repository",
            "my-repo",
            "--format",
            "npm",
            "--package",
            "express",
        ])
        .await;
    assert_eq!(v["versions"][0]["version"], "4.22.3");
    assert_eq!(v["versions"][0]["status"], "Published");
    assert_eq!(v["versions"][0]["origin"]["originType"], "EXTERNAL");
    assert_eq!(v["defaultDisplayVersion"], "4.22.3");
}
