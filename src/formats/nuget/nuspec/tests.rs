use std::io::{Cursor, Write};
use std::path::PathBuf;

use serde_json::{json, Value};
use zip::write::SimpleFileOptions;

use super::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/nuget")
}

fn read(bytes: Vec<u8>) -> Result<Nuspec, NuspecError> {
    read_nupkg(&mut Cursor::new(bytes))
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, SimpleFileOptions::default()).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn nuspec(id: &str, version: &str, extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{id}</id>
    <version>{version}</version>
    <authors>Someone</authors>
    <description>A &amp; B</description>
    {extra}
  </metadata>
</package>"#
    )
}

#[test]
fn every_fixture_package_matches_the_corpus_index() {
    let index: Vec<Value> = serde_json::from_slice(&std::fs::read(fixtures().join("index.json")).unwrap()).unwrap();
    assert_eq!(index.len(), 7);
    for entry in index {
        let bytes = std::fs::read(fixtures().join(entry["file"].as_str().unwrap())).unwrap();
        let spec = read(bytes).unwrap_or_else(|e| panic!("{}: {e}", entry["file"]));
        assert_eq!(spec.id, entry["id"]);
        assert_eq!(spec.version, entry["version"]);
        assert_eq!(spec.normalized_version, entry["normalized_version"]);
        assert_eq!(spec.nuspec_file, entry["nuspec_file"]);
        assert_eq!(spec.authors.as_deref(), entry["authors"].as_str());
        assert_eq!(spec.description.as_deref(), entry["description"].as_str());
        assert_eq!(spec.title.as_deref(), entry["title"].as_str());
        assert_eq!(spec.tags.as_deref(), entry["tags"].as_str());
        let groups: Vec<Value> = spec
            .dependency_groups
            .iter()
            .map(|g| {
                json!({"target_framework": g.target_framework, "dependencies":
                    g.dependencies.iter().map(|d| json!({"id": d.id, "range": d.range})).collect::<Vec<_>>()})
            })
            .collect();
        let want: Vec<Value> = entry["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                json!({"target_framework": g["target_framework"], "dependencies":
                    g["dependencies"].as_array().unwrap().iter()
                        .map(|d| json!({"id": d["id"], "range": d["range"]})).collect::<Vec<_>>()})
            })
            .collect();
        assert_eq!(groups, want, "{}", entry["id"]);
        assert!(std::str::from_utf8(&spec.nuspec_bytes).unwrap().contains("<metadata"));
    }
}

#[test]
fn metadata_is_catalog_entry_shaped() {
    let bytes = std::fs::read(fixtures().join("packages/depot.fixture.client.1.0.0.nupkg")).unwrap();
    let m = read(bytes).unwrap().to_metadata();
    assert_eq!(m["id"], "Depot.Fixture.Client");
    assert_eq!(m["version"], "1.0.0");
    assert_eq!(m["licenseExpression"], "MIT");
    assert_eq!(m["tags"], json!(["depot", "fixture", "synthetic"]));
    assert_eq!(
        m["dependencyGroups"],
        json!([{"targetFramework": ".NETStandard2.0", "dependencies": [{"id": "Depot.Fixture.Core", "range": "[1.0.0, )"}]}])
    );
    let bytes = std::fs::read(fixtures().join("packages/nunit.mocks.2.6.4.nupkg")).unwrap();
    let m = read(bytes).unwrap().to_metadata();
    assert_eq!(m["dependencyGroups"], json!([{"dependencies": [{"id": "NUnit", "range": "(, )"}]}]));
}

#[test]
fn fields_readme_and_namespaces() {
    let extra = r#"<title>T</title><license type="expression">Apache-2.0</license>
        <projectUrl>https://example.invalid/p</projectUrl><repository type="git" url="https://example.invalid/r.git"/>
        <tags>a b</tags><readme>docs\README.md</readme>
        <dependencies>
          <group targetFramework="net45"><dependency id="X" version="1.0"/><dependency id="Y" version="[2.0.0.0, 3)"/></group>
          <group targetFramework="netstandard2.0"/>
        </dependencies>"#;
    let spec = nuspec("My.Pkg", "1.0.0.0-Beta+meta", extra);
    let bytes = zip_of(&[("My.Pkg.nuspec", spec.as_bytes()), ("docs/README.md", b"# Hello")]);
    let s = read(bytes).unwrap();
    assert_eq!((s.id.as_str(), s.normalized_version.as_str()), ("My.Pkg", "1.0.0-beta"));
    assert_eq!(s.description.as_deref(), Some("A & B"));
    assert_eq!(s.readme.as_deref(), Some("# Hello"));
    let m = s.to_metadata();
    assert_eq!(m["licenseExpression"], "Apache-2.0");
    assert_eq!(m["repositoryUrl"], "https://example.invalid/r.git");
    assert_eq!(m["readme"], "# Hello");
    assert_eq!(
        m["dependencyGroups"],
        json!([
            {"targetFramework": "net45", "dependencies": [{"id": "X", "range": "[1.0.0, )"}, {"id": "Y", "range": "[2.0.0, 3.0.0)"}]},
            {"targetFramework": "netstandard2.0", "dependencies": []}
        ])
    );
    // A prefixed namespace, no namespace, and a UTF-8 BOM all read the same.
    let prefixed = "\u{feff}<?xml version=\"1.0\"?><n:package xmlns:n=\"urn:x\"><n:metadata><n:id>A</n:id>\
        <n:version>2.0</n:version><n:licenseUrl>https://example.invalid/l</n:licenseUrl></n:metadata></n:package>";
    let s = read(zip_of(&[("A.nuspec", prefixed.as_bytes())])).unwrap();
    assert_eq!((s.id.as_str(), s.normalized_version.as_str()), ("A", "2.0.0"));
    assert_eq!(s.license_url.as_deref(), Some("https://example.invalid/l"));
    assert!(s.to_metadata().get("licenseExpression").is_none());
}

#[test]
fn bad_archives_are_refused_with_their_reason() {
    let good = nuspec("P", "1.0.0", "");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not a zip at all".to_vec(), "not a valid zip"),
        (Vec::new(), "not a valid zip"),
        (zip_of(&[("lib/a.dll", b"x")]), "no .nuspec"),
        (zip_of(&[("sub/P.nuspec", good.as_bytes())]), "no .nuspec"),
        (zip_of(&[("P.nuspec", good.as_bytes()), ("Q.NUSPEC", good.as_bytes())]), "more than one .nuspec"),
        (zip_of(&[("P.nuspec", b"<package><metadata><id>P</id>")]), "not valid"),
        (zip_of(&[("P.nuspec", b"<nope/>")]), "expected <package>"),
        (zip_of(&[("P.nuspec", b"<package><metadata><id>P</id></metadata></package>")]), "missing <version>"),
        (zip_of(&[("P.nuspec", b"<package><metadata><version>1.0</version></metadata></package>")]), "missing <id>"),
        (zip_of(&[("P.nuspec", nuspec("bad id!", "1.0", "").as_bytes())]), "not a valid NuGet package id"),
        (zip_of(&[("P.nuspec", nuspec("P", "1.0.x", "").as_bytes())]), "not a valid NuGet version"),
        (zip_of(&[("P.nuspec", nuspec("P", "1.0", "<readme>README.md</readme>").as_bytes())]), "readme"),
        (zip_of(&[("P.nuspec", nuspec("P", "1.0", "<x>&custom;</x>").as_bytes())]), "not valid"),
    ];
    for (bytes, want) in cases {
        let err = read(bytes).expect_err(want).to_string();
        assert!(err.contains(want), "{err:?} should mention {want:?}");
    }
}

#[test]
fn oversized_nuspec_and_readme_are_refused() {
    let small = Limits { max_nuspec: 300, max_readme: 10, ..Limits::default() };
    let padded = nuspec("P", "1.0", &"<!-- pad -->".repeat(40));
    let err = read_nupkg_with(&mut Cursor::new(zip_of(&[("P.nuspec", padded.as_bytes())])), &small).unwrap_err();
    assert!(matches!(err, NuspecError::TooLarge(_)), "{err}");
    let with_readme = nuspec("P", "1.0", "<readme>r.md</readme>");
    let limits = Limits { max_readme: 10, ..Limits::default() };
    let bytes = zip_of(&[("P.nuspec", with_readme.as_bytes()), ("r.md", &[b'x'; 11])]);
    let err = read_nupkg_with(&mut Cursor::new(bytes), &limits).unwrap_err();
    assert!(err.to_string().contains("the readme is 11 bytes"), "{err}");
    let many: Vec<(String, Vec<u8>)> = (0..5).map(|i| (format!("f{i}"), Vec::new())).collect();
    let mut files: Vec<(&str, &[u8])> = many.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    files.push(("P.nuspec", with_readme.as_bytes()));
    let limits = Limits { max_entries: 4, ..Limits::default() };
    let err = read_nupkg_with(&mut Cursor::new(zip_of(&files)), &limits).unwrap_err();
    assert!(err.to_string().contains("6 entries"), "{err}");
}

#[test]
fn zip_bombs_are_refused() {
    let spec = nuspec("P", "1.0", "");
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let bytes = zip_of(&[("P.nuspec", spec.as_bytes()), ("lib/zeros.bin", &zeros)]);
    assert!(bytes.len() < 64 * 1024, "deflate squeezes zeros: {}", bytes.len());
    let limits = Limits { ratio_floor: 1024 * 1024, ..Limits::default() };
    let err = read_nupkg_with(&mut Cursor::new(bytes.clone()), &limits).unwrap_err();
    assert!(matches!(err, NuspecError::Bomb(_)) && err.to_string().contains("more than 100x"), "{err}");
    let limits = Limits { max_total_uncompressed: 1024 * 1024, ..Limits::default() };
    let err = read_nupkg_with(&mut Cursor::new(bytes.clone()), &limits).unwrap_err();
    assert!(err.to_string().contains("expand to"), "{err}");
    // Under the default floor the same package is an ordinary one.
    read(bytes).unwrap();
    let err = read(overlapping_zip(spec.as_bytes())).unwrap_err();
    assert!(matches!(err, NuspecError::Bomb(_)), "{err}");
}

/// A stored-method zip whose central directory lists the same local entry under several
/// names: the "overlapping files" bomb shape (each entry looks ordinary).
fn overlapping_zip(nuspec: &[u8]) -> Vec<u8> {
    fn local(name: &str, data: &[u8], crc: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&0x04034b50u32.to_le_bytes());
        h.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        h.extend_from_slice(data);
        h
    }
    fn central(name: &str, len: usize, crc: u32, offset: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&0x02014b50u32.to_le_bytes());
        h.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&(len as u32).to_le_bytes());
        h.extend_from_slice(&(len as u32).to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&[0; 4]);
        h.extend_from_slice(&offset.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        h
    }
    let crc = |d: &[u8]| {
        let mut c = flate2::Crc::new();
        c.update(d);
        c.sum()
    };
    let blob = vec![7u8; 1000];
    let mut out = local("P.nuspec", nuspec, crc(nuspec));
    let blob_at = out.len() as u32;
    out.extend(local("lib/a.bin", &blob, crc(&blob)));
    let cd_at = out.len();
    let mut cd = central("P.nuspec", nuspec.len(), crc(nuspec), 0);
    for i in 0..3 {
        cd.extend(central(&format!("lib/{i}.bin"), blob.len(), crc(&blob), blob_at));
    }
    out.extend_from_slice(&cd);
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&(cd_at as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[test]
fn ids_follow_nuget_rules() {
    for ok in ["A", "Newtonsoft.Json", "my-pkg_2", "Ünïcode.Pkg"] {
        assert!(valid_id(ok), "{ok}");
    }
    for bad in ["", ".a", "a.", "a..b", "a b", "a/b", "a+b", &"x".repeat(101)] {
        assert!(!valid_id(bad), "{bad}");
    }
}
