//! ListPackages over 2,500 npm packages (and three PyPI projects).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::{args, keys, publish_all, publish_latest, unchecked, upload_pypi};
use crate::support::depot::TestDepot;

/// Every key in key order: format, then namespace (none first), then name.
fn sorted(mut v: Vec<(String, String, String)>) -> Vec<String> {
    v.sort();
    v.into_iter().map(|(f, ns, n)| format!("{f}:{ns}/{n}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_packages_pages_walks_and_filters_2500_packages() {
    let depot = TestDepot::builder().start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &[], None)]).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let token = aws.token("acme").await;

    let mut all = Vec::new();
    let mut names: Vec<String> = (0..2480).map(|i| format!("pkg-{i:04}")).collect();
    all.extend(names.iter().map(|n| ("npm".to_string(), String::new(), n.clone())));
    for (ns, count) in [("alpha", 10), ("alpine", 5), ("beta", 5)] {
        for i in 0..count {
            names.push(format!("@{ns}/lib-{i}"));
            all.push(("npm".into(), ns.into(), format!("lib-{i}")));
        }
    }
    assert_eq!(names.len(), 2500);
    let started = Instant::now();
    publish_all(&endpoint, &token, names, 16).await;
    let seeding = started.elapsed();
    let pypi = depot.pypi_endpoint("acme", "app");
    for (name, stored) in
        [("Listing_One", "listing-one"), ("listing.two", "listing-two"), ("other-thing", "other-thing")]
    {
        let status = upload_pypi(&pypi, &token, name, "1.0").await;
        assert!((200..300).contains(&status), "upload {name}: {status}");
        all.push(("pypi".into(), String::new(), stored.into()));
    }
    let expected = sorted(all);
    eprintln!("seeded 2,500 npm packages over HTTP in {seeding:.2?}");

    // One page: 100 by default, 1000 at most, in key order, with a token.
    let page = aws.ok(&args("list-packages", &["--no-paginate"])).await;
    assert_eq!(keys(&page), expected[..100], "default page size is 100");
    assert!(page["nextToken"].is_string(), "{}", page["nextToken"]);
    let page = aws.ok(&args("list-packages", &["--max-results", "1000"])).await;
    assert_eq!(keys(&page), expected[..1000]);
    let token_1000 = page["nextToken"].as_str().unwrap().to_string();
    let page = aws.ok(&args("list-packages", &["--max-results", "1000", "--next-token", &token_1000])).await;
    assert_eq!(keys(&page), expected[1000..2000]);

    // The CLI's own pagination: the whole repository, each package once, in order.
    let started = Instant::now();
    let walk = aws.ok(&args("list-packages", &[])).await;
    let walk_time = started.elapsed();
    assert_eq!(keys(&walk), expected, "a full walk returns each package exactly once");
    assert!(walk.get("nextToken").is_none() && walk.get("NextToken").is_none());
    eprintln!("walked {} packages (CLI pagination, pages of 100) in {walk_time:.2?}", expected.len());
    // --max-items / --starting-token resume across calls.
    let mut resumed = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut a = args("list-packages", &["--max-items", "700", "--page-size", "300"]);
        if let Some(s) = &start {
            a.extend(["--starting-token", s.as_str()]);
        }
        let v = aws.ok(&a).await;
        resumed.extend(keys(&v));
        match v["NextToken"].as_str() {
            Some(t) => start = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(resumed, expected, "--max-items pages");

    // Filters, alone and together; namespace is a prefix (as the API reference says).
    let only = |pred: &dyn Fn(&str) -> bool| expected.iter().filter(|k| pred(k)).cloned().collect::<Vec<_>>();
    let cases: Vec<(Vec<&str>, Vec<String>)> = vec![
        (vec!["--format", "pypi"], only(&|k| k.starts_with("pypi:"))),
        (vec!["--format", "npm"], only(&|k| k.starts_with("npm:"))),
        (vec!["--format", "npm", "--namespace", "alp"], only(&|k| k.starts_with("npm:alp"))),
        (vec!["--format", "npm", "--namespace", "alpha"], only(&|k| k.starts_with("npm:alpha/"))),
        (vec!["--format", "npm", "--namespace", "alpha", "--package-prefix", "lib-1"], vec!["npm:alpha/lib-1".into()]),
        (vec!["--format", "npm", "--package-prefix", "pkg-01"], only(&|k| k.starts_with("npm:/pkg-01"))),
        (vec!["--package-prefix", "lib-"], only(&|k| k.contains("/lib-"))),
        (vec!["--package-prefix", "pkg-247"], only(&|k| k.starts_with("npm:/pkg-247"))),
        // PyPI names are stored normalised; so is the prefix.
        (vec!["--format", "pypi", "--package-prefix", "Listing_"], only(&|k| k.starts_with("pypi:/listing-"))),
        (vec!["--format", "pypi", "--namespace", "alpha"], vec![]),
    ];
    for (filter, want) in cases {
        let v = aws.ok(&args("list-packages", &filter)).await;
        assert_eq!(keys(&v), want, "{filter:?}");
    }
    assert_eq!(expected.iter().filter(|k| k.starts_with("npm:alp")).count(), 15);

    // Namespace without format, and page sizes out of range, are ValidationExceptions.
    let err = aws.err(&args("list-packages", &["--namespace", "alpha"])).await;
    assert!(err.contains("ValidationException"), "{err}");
    let err = aws.err(&args("list-packages", &["--max-results", "1001"])).await;
    assert!(err.contains("ValidationException"), "{err}");
    let err = unchecked(&depot).err(&args("list-packages", &["--max-results", "0"])).await;
    assert!(err.contains("ValidationException"), "{err}");
    let err = aws.err(&args("list-packages", &["--next-token", "bm90IGEgdG9rZW4"])).await;
    assert!(err.contains("ValidationException"), "{err}");

    concurrent_walk(&depot, &endpoint, &token, &expected).await;
}

/// Raw `nextToken` pages of `--format npm` while a publisher adds packages before and after
/// the cursor, the cursor's own package is deleted, and a package ahead of it is deleted.
async fn concurrent_walk(depot: &TestDepot, endpoint: &str, token: &str, expected: &[String]) {
    let aws = depot.aws();
    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicUsize::new(0));
    // A few publishes per page, racing each page request: unbounded, the walk would chase
    // the names added after its cursor for ever.
    let page_done = Arc::new(tokio::sync::Notify::new());
    let publisher = {
        let (stop, published, page_done) = (stop.clone(), published.clone(), page_done.clone());
        let (endpoint, token) = (endpoint.to_string(), token.to_string());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..3 {
                    for prefix in ["aaa-live", "zzz-live"] {
                        let name = format!("{prefix}-{n}");
                        assert_eq!(publish_latest(&client, &endpoint, &token, &name, "1.0.0").await, 201);
                    }
                    n += 1;
                    published.store(2 * n, Ordering::Relaxed);
                }
                page_done.notified().await;
            }
        })
    };
    let client = reqwest::Client::new();
    let npm: Vec<&String> = expected.iter().filter(|k| k.starts_with("npm:")).collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut order = Vec::new();
    let mut deleted_ahead = BTreeSet::new();
    let mut after_cursor = BTreeSet::new();
    let mut before_cursor = BTreeSet::new();
    let mut next: Option<String> = None;
    let started = Instant::now();
    for page_no in 0.. {
        let mut a = args("list-packages", &["--format", "npm", "--max-results", "100"]);
        if let Some(t) = &next {
            a.extend(["--next-token", t.as_str()]);
        }
        let page: Value = aws.ok(&a).await;
        let ks = keys(&page);
        for k in &ks {
            *seen.entry(k.clone()).or_default() += 1;
        }
        order.extend(ks.iter().cloned());
        page_done.notify_one();
        let Some(t) = page["nextToken"].as_str() else { break };
        next = Some(t.to_string());
        let last = ks.last().unwrap().clone();
        let (ns, name) = last.trim_start_matches("npm:").split_once('/').unwrap();
        if ns.is_empty() && name.starts_with("pkg-") {
            // Right before and right after the cursor, in key order.
            let before = format!("{}-new", &name[..name.len() - 1]);
            for n in [before.clone(), format!("{name}-new")] {
                assert_eq!(publish_latest(&client, endpoint, token, &n, "1.0.0").await, 201);
            }
            before_cursor.insert(format!("npm:/{before}"));
            after_cursor.insert(format!("npm:/{name}-new"));
            let i: usize = name[4..].parse().unwrap();
            if page_no % 4 == 1 && i + 50 < 2480 {
                // The cursor's own package, and one the walk has not reached yet.
                aws.ok(&args("delete-package", &["--format", "npm", "--package", name])).await;
                let ahead = format!("pkg-{:04}", i + 50);
                aws.ok(&args("delete-package", &["--format", "npm", "--package", &ahead])).await;
                deleted_ahead.insert(format!("npm:/{ahead}"));
            }
        }
    }
    let walk_time = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    page_done.notify_one();
    publisher.await.unwrap();
    for k in &npm {
        let want = usize::from(!deleted_ahead.contains(*k));
        assert_eq!(seen.get(*k).copied().unwrap_or(0), want, "{k} (deleted ahead: {})", deleted_ahead.contains(*k));
    }
    for k in &after_cursor {
        assert_eq!(seen.get(k), Some(&1), "{k}, added right after the cursor, is listed once");
    }
    for k in &before_cursor {
        assert_eq!(seen.get(k), None, "{k}, added right before the cursor, is not listed");
    }
    assert!(seen.values().all(|n| *n == 1), "no package listed twice");
    assert!(!deleted_ahead.is_empty() && after_cursor.len() > 10);
    let mut sorted_order = order.clone();
    sorted_order.sort_by(|a, b| {
        let split = |k: &str| {
            let (ns, n) = k.trim_start_matches("npm:").split_once('/').unwrap();
            (ns.to_string(), n.to_string())
        };
        split(a).cmp(&split(b))
    });
    assert_eq!(order, sorted_order, "pages stay in key order");
    eprintln!(
        "walked {} npm packages in raw pages of 100 in {walk_time:.2?} while {} packages were published and {} deleted",
        order.len(),
        published.load(Ordering::Relaxed),
        2 * deleted_ahead.len()
    );
}
