//! Configuration layering, validation and masking.
use super::*;

#[test]
fn embedded_defaults_are_valid() {
    let c = Config::load(None, &MapEnv::default()).unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:8080");
    assert_eq!(c.account.id, "000000000000");
    assert_eq!(c.account.region, "us-east-1");
    assert_eq!(c.ingestion.wait_secs, 40.0);
    assert_eq!(c.cache.max_age(PackageFormat::Pypi), Duration::from_secs(10800));
    assert_eq!(c.cache.max_age(PackageFormat::Npm), Duration::from_secs(600));
    assert!(c.connection_url("public:npmjs").is_none());
    assert_eq!(c.connections.len(), CONNECTIONS.len());
}

#[test]
fn env_names() {
    assert_eq!(upstream_env_var("public:npmjs"), "DEPOT_UPSTREAM_PUBLIC_NPMJS");
    assert_eq!(upstream_env_var("public:maven-central"), "DEPOT_UPSTREAM_PUBLIC_MAVEN_CENTRAL");
    let env = MapEnv::from([
        ("DEPOT_LISTEN", "127.0.0.1:0"),
        ("DEPOT_UPSTREAM_PUBLIC_NPMJS", "http://127.0.0.1:9/"),
        ("DEPOT_METADATA_MAX_AGE_NPM_SECS", "5"),
        ("DEPOT_INGESTION_WAIT_SECS", "2"),
        ("DEPOT_ADMIN_ACCESS_KEY_ID", "AKID"),
        ("DEPOT_ADMIN_SECRET_ACCESS_KEY", "SECRET"),
    ]);
    let c = Config::load(None, &env).unwrap();
    assert_eq!(c.connection_url("public:npmjs"), Some("http://127.0.0.1:9/"));
    assert_eq!(c.cache.npm_max_age_secs, 5);
    assert_eq!(c.ingestion.wait_secs, 2.0);
    assert_eq!(c.auth.admin_keys.len(), 1);
}

#[test]
fn bad_values_name_the_key() {
    let e = Config::load(Some("[server]\nlisten = \"nope\""), &MapEnv::default()).unwrap_err();
    assert_eq!(e.key, "server.listen");
    let e = Config::load(None, &MapEnv::from([("DEPOT_ACCOUNT_ID", "12")])).unwrap_err();
    assert_eq!(e.key, "DEPOT_ACCOUNT_ID");
    let e = Config::load(Some("[connections.\"public:nope\"]\nurl = \"\""), &MapEnv::default()).unwrap_err();
    assert!(e.key.contains("public:nope"));
}

#[test]
fn upstream_credentials_never_show() {
    let env = MapEnv::from([
        ("DEPOT_UPSTREAM_PUBLIC_NPMJS", "http://mirror:hunter2@127.0.0.1:9/npm/"),
        ("DEPOT_UPSTREAM_PUBLIC_PYPI_USERNAME", "bot"),
        ("DEPOT_UPSTREAM_PUBLIC_PYPI_PASSWORD", "tr0ub4dor"),
    ]);
    let c = Config::load(None, &env).unwrap();
    assert_eq!(c.connections["public:pypi"].username, "bot");
    assert_eq!(c.connections["public:pypi"].password, "tr0ub4dor");
    let shown = c.show();
    assert!(!shown.contains("hunter2") && !shown.contains("tr0ub4dor"), "{shown}");
    assert!(shown.contains("http://mirror:REDACTED@127.0.0.1:9/npm/"), "{shown}");
    let e = Config::load(None, &MapEnv::from([("DEPOT_UPSTREAM_PUBLIC_PYPI_PASSWORD", "x")])).unwrap_err();
    assert!(e.key.contains("username"), "{e}");
    assert_eq!(redact_url("https://a:b@h/x"), "https://a:REDACTED@h/x");
    assert_eq!(redact_url("https://h/x"), "https://h/x");
}

#[test]
fn max_package_bytes() {
    let c = Config::load(None, &MapEnv::default()).unwrap();
    assert_eq!(c.server.max_package_bytes, 256 * 1024 * 1024);
    let c = Config::load(None, &MapEnv::from([("DEPOT_MAX_PACKAGE_BYTES", "1048576")])).unwrap();
    assert_eq!(c.server.max_package_bytes, 1024 * 1024);
    let e = Config::load(Some("[server]\nmax_package_bytes = 0"), &MapEnv::default()).unwrap_err();
    assert_eq!(e.key, "server.max_package_bytes");
    let e = Config::load(None, &MapEnv::from([("DEPOT_MAX_PACKAGE_BYTES", "lots")])).unwrap_err();
    assert_eq!(e.key, "DEPOT_MAX_PACKAGE_BYTES");
}

#[test]
fn file_layer_overrides_only_what_it_sets() {
    let c = Config::load(Some("[ingestion]\nwait_secs = 3"), &MapEnv::default()).unwrap();
    assert_eq!(c.ingestion.wait_secs, 3.0);
    assert_eq!(c.ingestion.workers, 16);
}

#[test]
fn webhooks_are_validated_and_their_secrets_masked() {
    let ok = "[events.webhooks.ci]\nurl = \"http://127.0.0.1:9000/hook\"\nsecret = \"0123456789abcdef\"\n";
    let c = Config::load(Some(ok), &MapEnv::default()).unwrap();
    assert_eq!(c.events.webhooks["ci"].url, "http://127.0.0.1:9000/hook");
    assert_eq!(c.events.batch_size, 10);
    assert!(!c.show().contains("0123456789abcdef"));
    for (bad, key) in [
        ("[events.webhooks.ci]\nurl = \"ftp://x/\"\nsecret = \"0123456789abcdef\"\n", "events.webhooks.ci.url"),
        ("[events.webhooks.ci]\nurl = \"http://x/\"\nsecret = \"short\"\n", "events.webhooks.ci.secret"),
        ("[events.webhooks.\"a b\"]\nurl = \"http://x/\"\nsecret = \"0123456789abcdef\"\n", "events.webhooks.a b"),
        ("[events]\nretry_base_secs = 5.0\nretry_max_secs = 1.0\n", "events.retry_max_secs"),
        ("[events]\nbatch_size = 0\n", "events.batch_size"),
    ] {
        let e = Config::load(Some(bad), &MapEnv::default()).unwrap_err();
        assert_eq!(e.key, key, "{bad}: {e:?}");
    }
}

#[test]
fn origin_defaults() {
    let c = Config::load(None, &MapEnv::default()).unwrap();
    assert_eq!(c.packages.origin_defaults(), OriginDefaults::FirstOrigin);
    let c = Config::load(Some("[packages]\norigin_defaults = \"open\""), &MapEnv::default()).unwrap();
    assert_eq!(c.packages.origin_defaults(), OriginDefaults::Open);
    let env = MapEnv::from([("DEPOT_PACKAGES_ORIGIN_DEFAULTS", "first-origin")]);
    let c = Config::load(Some("[packages]\norigin_defaults = \"open\""), &env).unwrap();
    assert_eq!(c.packages.origin_defaults(), OriginDefaults::FirstOrigin);
    let e = Config::load(Some("[packages]\norigin_defaults = \"closed\""), &MapEnv::default()).unwrap_err();
    assert_eq!(e.key, "packages.origin_defaults");
    let e = Config::load(None, &MapEnv::from([("DEPOT_PACKAGES_ORIGIN_DEFAULTS", "x")])).unwrap_err();
    assert_eq!(e.key, "DEPOT_PACKAGES_ORIGIN_DEFAULTS");
}
