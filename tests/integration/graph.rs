//! The upstream graph: priority order (depth-first, as the guide's complex example) and
//! retention on a four-repository chain.

use crate::support::depot::TestDepot;
use crate::support::fake_npm::{make_tarball, FakeNpm};

async fn publish(endpoint: &str, token: &str, name: &str, version: &str, content: &str) -> reqwest::StatusCode {
    use base64::Engine as _;
    let tgz = make_tarball(name, version, &[("package/index.js", content.as_bytes())]);
    let file = format!("{}-{version}.tgz", name.rsplit('/').next().unwrap());
    let body = serde_json::json!({
        "name": name, "versions": {version: {"name": name, "version": version, "dist": {}}},
        "dist-tags": {"latest": version},
        "_attachments": {file: {"data": base64::engine::general_purpose::STANDARD.encode(&tgz), "length": tgz.len()}}
    });
    let url = format!("{endpoint}{}", name.replace('/', "%2f"));
    reqwest::Client::new().put(url).bearer_auth(token).json(&body).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_repository_chain_retention() {
    let fake = FakeNpm::start().await;
    // Written for the guide's behaviour (both origin controls ALLOW): the 409 rule below.
    let depot = TestDepot::builder().npm_upstream(&fake.url()).open_origins().start().await;
    let aws = depot.aws();
    // repo-a → repo-b → repo-c → repo-d (external connection)
    aws.setup(
        "acme",
        &[
            ("repo-a", &["repo-b"], None),
            ("repo-b", &["repo-c"], None),
            ("repo-c", &["repo-d"], None),
            ("repo-d", &[], Some("public:npmjs")),
        ],
    )
    .await;
    let token = aws.token("acme").await;
    // From the external connection: kept in the most-downstream repository and in the one
    // with the connection, not in the intermediates.
    let r = reqwest::get(format!("{}ms/-/ms-2.1.3.tgz", depot.npm_endpoint("acme", "repo-a"))).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(aws.versions("acme", "repo-a", "ms").await, ["2.1.3"]);
    assert!(aws.versions("acme", "repo-b", "ms").await.is_empty());
    assert!(aws.versions("acme", "repo-c", "ms").await.is_empty());
    assert_eq!(aws.versions("acme", "repo-d", "ms").await, ["2.1.3"]);

    // From an upstream repository: a reference in the requesting repository only.
    assert_eq!(publish(&depot.npm_endpoint("acme", "repo-c"), &token, "@acme/lib", "1.0.0", "c").await, 201);
    let r = reqwest::get(format!("{}@acme/lib/-/lib-1.0.0.tgz", depot.npm_endpoint("acme", "repo-a"))).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(aws.versions("acme", "repo-a", "@acme/lib").await, ["1.0.0"]);
    assert!(aws.versions("acme", "repo-b", "@acme/lib").await.is_empty());

    // Kept references survive deleting the upstream and disconnecting it.
    aws.ok(&["update-repository", "--domain", "acme", "--repository", "repo-a", "--upstreams"]).await;
    aws.ok(&["delete-repository", "--domain", "acme", "--repository", "repo-c"]).await;
    for path in ["ms/-/ms-2.1.3.tgz", "@acme/lib/-/lib-1.0.0.tgz"] {
        let r = reqwest::get(format!("{}{path}", depot.npm_endpoint("acme", "repo-a"))).await.unwrap();
        assert_eq!(r.status(), 200, "{path} still served by repo-a");
    }
    // A publish to repo-b of a version repo-d's connection has is refused (409), even
    // through the graph; a version only in a deleted repository is not.
    aws.ok(&[
        "update-repository",
        "--domain",
        "acme",
        "--repository",
        "repo-b",
        "--upstreams",
        "repositoryName=repo-d",
    ])
    .await;
    assert_eq!(publish(&depot.npm_endpoint("acme", "repo-b"), &token, "ms", "2.1.3", "x").await, 409);
    assert_eq!(publish(&depot.npm_endpoint("acme", "repo-b"), &token, "@acme/lib", "1.0.0", "b").await, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_order_is_depth_first() {
    let fake = FakeNpm::start().await;
    let depot = TestDepot::builder().npm_upstream(&fake.url()).start().await;
    let aws = depot.aws();
    // The guide's complex example: my_repo → [A, B]; A → [C, D]; D → [E].
    aws.setup(
        "acme",
        &[
            ("my_repo", &["repo-a", "repo-b"], None),
            ("repo-a", &["repo-c", "repo-d"], None),
            ("repo-b", &[], None),
            ("repo-c", &[], None),
            ("repo-d", &["repo-e"], None),
            ("repo-e", &[], None),
        ],
    )
    .await;
    let token = aws.token("acme").await;
    // The same version with different content in E and B: E comes first (my_repo, A, C, D, E, B).
    assert_eq!(publish(&depot.npm_endpoint("acme", "repo-e"), &token, "prio", "1.0.0", "from-e").await, 201);
    assert_eq!(publish(&depot.npm_endpoint("acme", "repo-b"), &token, "prio", "1.0.0", "from-b").await, 201);
    // And 2.0.0 in B and C: C comes first.
    assert_eq!(publish(&depot.npm_endpoint("acme", "repo-b"), &token, "prio", "2.0.0", "from-b").await, 201);
    assert_eq!(publish(&depot.npm_endpoint("acme", "repo-c"), &token, "prio", "2.0.0", "from-c").await, 201);
    let expect = [("1.0.0", "from-e"), ("2.0.0", "from-c")];
    for (v, want) in expect {
        let bytes = reqwest::get(format!("{}prio/-/prio-{v}.tgz", depot.npm_endpoint("acme", "my_repo")))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let want_tgz = make_tarball("prio", v, &[("package/index.js", want.as_bytes())]);
        assert_eq!(bytes.as_ref(), want_tgz.as_slice(), "version {v} comes from the right repository");
    }
    let r = aws.ok(&["describe-repository", "--domain", "acme", "--repository", "my_repo"]).await;
    assert_eq!(r["repository"]["upstreams"][0]["repositoryName"], "repo-a");
    assert_eq!(r["repository"]["upstreams"][1]["repositoryName"], "repo-b");
}
