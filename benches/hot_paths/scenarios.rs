//! The warm-path scenarios of every format: Depot's cache is warmed through repository `main`
//! (fake upstreams behind it), the bytes Depot then serves are written under nginx's root, and
//! each scenario names the Depot request and the nginx request that answer the same bytes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use bytes::Bytes;
use reqwest::header::HeaderMap;

use crate::procs::Depot;

pub const ABBREVIATED: &str = "application/vnd.npm.install-v1+json";
pub const PYPI_JSON: &str = "application/vnd.pypi.simple.v1+json";

/// Which of the targets a scenario is held to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// A package file: ≥ 0.8× nginx req/s, p99 at 256 connections ≤ 1.5× nginx's.
    Asset,
    /// A metadata document (or its 304): ≥ 0.9× nginx req/s.
    Metadata,
    /// The 20 MB packument: ≥ 1.0× nginx req/s.
    Large,
}

/// One side of a scenario: the request and the answer it must get.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub status: u16,
    pub body_len: usize,
    /// Headers the answer must carry (with this value when given).
    pub expect: Vec<(&'static str, Option<String>)>,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub kind: Kind,
    pub depot: Target,
    pub nginx: Target,
}

pub fn hdrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// One request; fails unless status, body length and the expected headers are right.
pub async fn check(client: &reqwest::Client, t: &Target) -> Result<()> {
    let mut req = client.get(&t.url);
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.with_context(|| t.url.clone())?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?;
    ensure!(status == t.status, "{}: status {status}, expected {}", t.url, t.status);
    ensure!(body.len() == t.body_len, "{}: body of {} bytes, expected {}", t.url, body.len(), t.body_len);
    for (name, want) in &t.expect {
        let got = headers.get(*name).and_then(|v| v.to_str().ok());
        match (got, want) {
            (None, _) => bail!("{}: no {name} header", t.url),
            (Some(g), Some(w)) if g != w => bail!("{}: {name} is {g:?}, expected {w:?}", t.url),
            _ => {}
        }
    }
    Ok(())
}

/// GETs `url` until it answers 200 (a cold Depot fetches and ingests on the first requests).
pub async fn warm(client: &reqwest::Client, url: &str, headers: &[(String, String)]) -> Result<(Bytes, HeaderMap)> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = String::new();
    while Instant::now() < deadline {
        let mut req = client.get(url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(r) if r.status() == 200 => {
                let h = r.headers().clone();
                return Ok((r.bytes().await?, h));
            }
            Ok(r) => last = format!("status {}: {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{url} never answered 200 (last: {last})")
}

/// Builds scenarios: warms Depot and writes what it served under `root` for nginx.
pub struct Builder<'a> {
    pub client: reqwest::Client,
    pub root: &'a Path,
    pub nginx_base: String,
    pub out: Vec<Scenario>,
}

impl Builder<'_> {
    /// A plain GET scenario: Depot's 200 body at `url` (with `headers`) against the same bytes
    /// at nginx's `/<file>`.
    pub async fn plain(
        &mut self,
        name: &str,
        kind: Kind,
        url: &str,
        headers: &[(&str, &str)],
        file: &str,
    ) -> Result<Bytes> {
        let headers = hdrs(headers);
        let (body, h) = warm(&self.client, url, &headers).await?;
        ensure!(h.get("content-encoding").is_none(), "{url}: answered with a content-encoding");
        write(self.root, file, &body)?;
        let expect = if kind == Kind::Asset { vec![] } else { vec![("etag", None)] };
        self.out.push(Scenario {
            name: name.to_string(),
            kind,
            depot: Target { url: url.to_string(), headers, status: 200, body_len: body.len(), expect },
            nginx: Target {
                url: format!("{}/{file}", self.nginx_base),
                headers: vec![],
                status: 200,
                body_len: body.len(),
                expect: vec![],
            },
        });
        Ok(body)
    }

    /// Depot's gzip of `url` against nginx's `gzip_static` of the same bytes beside `file`.
    pub async fn gzip(&mut self, name: &str, kind: Kind, url: &str, accept: &str, file: &str) -> Result<()> {
        let headers = hdrs(&[("accept", accept), ("accept-encoding", "gzip")]);
        let (gz, h) = warm(&self.client, url, &headers).await?;
        let enc = h.get("content-encoding").and_then(|v| v.to_str().ok());
        ensure!(enc == Some("gzip"), "{url}: Accept-Encoding gzip answered with content-encoding {enc:?}");
        write(self.root, &format!("{file}.gz"), &gz)?;
        let expect = vec![("content-encoding", Some("gzip".to_string()))];
        self.out.push(Scenario {
            name: name.to_string(),
            kind,
            depot: Target { url: url.to_string(), headers, status: 200, body_len: gz.len(), expect: expect.clone() },
            nginx: Target {
                url: format!("{}/{file}", self.nginx_base),
                headers: hdrs(&[("accept-encoding", "gzip")]),
                status: 200,
                body_len: gz.len(),
                expect,
            },
        });
        Ok(())
    }

    /// `If-None-Match` with each server's own ETag for the document: both answer 304.
    pub async fn not_modified(&mut self, name: &str, url: &str, accept: &str, file: &str) -> Result<()> {
        let (_, h) = warm(&self.client, url, &hdrs(&[("accept", accept)])).await?;
        let etag = |h: &HeaderMap, what: &str| -> Result<String> {
            Ok(h.get("etag").with_context(|| format!("{what}: no ETag"))?.to_str()?.to_string())
        };
        let depot_etag = etag(&h, url)?;
        let nginx_url = format!("{}/{file}", self.nginx_base);
        let (_, nh) = warm(&self.client, &nginx_url, &[]).await?;
        let nginx_etag = etag(&nh, &nginx_url)?;
        self.out.push(Scenario {
            name: name.to_string(),
            kind: Kind::Metadata,
            depot: Target {
                url: url.to_string(),
                headers: hdrs(&[("accept", accept), ("if-none-match", &depot_etag)]),
                status: 304,
                body_len: 0,
                expect: vec![],
            },
            nginx: Target {
                url: nginx_url,
                headers: hdrs(&[("if-none-match", &nginx_etag)]),
                status: 304,
                body_len: 0,
                expect: vec![],
            },
        });
        Ok(())
    }
}

fn write(root: &Path, file: &str, bytes: &[u8]) -> Result<()> {
    let path = root.join(file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, bytes).with_context(|| path.display().to_string())
}

fn fixture(rel: &str) -> Result<Vec<u8>> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures").join(rel);
    std::fs::read(&p).with_context(|| p.display().to_string())
}

/// npm: `express` packument (full, with a token, abbreviated, gzip, 304) and `express-4.22.3.tgz`.
pub async fn npm(b: &mut Builder<'_>, depot: &Depot) -> Result<()> {
    let ep = depot.endpoint("npm", "main");
    let doc = format!("{ep}express");
    let full = b
        .plain("npm packument full", Kind::Metadata, &doc, &[("accept", "application/json")], "npm/express.json")
        .await?;
    let parsed: serde_json::Value = serde_json::from_slice(&full).context("full packument is not JSON")?;
    ensure!(parsed["name"] == "express", "full packument names {:?}", parsed["name"]);
    // Clients logged in with `aws codeartifact login` send their token with every request.
    let token = crate::token::authorization_token(&b.client, &depot.base).await.context("a token")?;
    let bearer = format!("Bearer {token}");
    let with_token = [("accept", "application/json"), ("authorization", bearer.as_str())];
    b.plain("npm packument full, token", Kind::Metadata, &doc, &with_token, "npm/express.json").await?;
    b.plain("npm packument abbreviated", Kind::Metadata, &doc, &[("accept", ABBREVIATED)], "npm/express-abbr.json")
        .await?;
    b.gzip("npm packument gzip", Kind::Metadata, &doc, "application/json", "npm/express.json").await?;
    b.not_modified("npm packument 304", &doc, "application/json", "npm/express.json").await?;
    let tgz = "express-4.22.3.tgz";
    let body = b.plain("npm tarball", Kind::Asset, &format!("{doc}/-/{tgz}"), &[], &format!("npm/{tgz}")).await?;
    ensure!(body == fixture(&format!("npm/tarballs/express/-/{tgz}"))?, "Depot's {tgz} differs from the fixture");
    Ok(())
}

/// PyPI: the `requests` project page (HTML and JSON) and `requests-2.34.2-py3-none-any.whl`.
pub async fn pypi(b: &mut Builder<'_>, depot: &Depot) -> Result<()> {
    let page = format!("{}simple/requests/", depot.endpoint("pypi", "main"));
    b.plain("pypi simple page html", Kind::Metadata, &page, &[("accept", "text/html")], "pypi/requests.html").await?;
    let json =
        b.plain("pypi simple page json", Kind::Metadata, &page, &[("accept", PYPI_JSON)], "pypi/requests.json").await?;
    let wheel = "requests-2.34.2-py3-none-any.whl";
    let parsed: serde_json::Value = serde_json::from_slice(&json).context("simple page JSON")?;
    let href = parsed["files"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["filename"] == wheel))
        .and_then(|f| f["url"].as_str())
        .with_context(|| format!("{page} lists no {wheel}"))?;
    let url = url::Url::parse(&page)?.join(href)?.to_string();
    let body = b.plain("pypi wheel", Kind::Asset, &url, &[], &format!("pypi/{wheel}")).await?;
    ensure!(body == fixture(&format!("pypi/files/{wheel}"))?, "Depot's {wheel} differs from the fixture");
    Ok(())
}

/// Maven: `commons-lang:commons-lang`'s `maven-metadata.xml` and its 2.6 jar.
pub async fn maven(b: &mut Builder<'_>, depot: &Depot) -> Result<()> {
    let dir = format!("{}commons-lang/commons-lang/", depot.endpoint("maven", "main"));
    b.plain("maven maven-metadata.xml", Kind::Metadata, &format!("{dir}maven-metadata.xml"), &[], "maven/metadata.xml")
        .await?;
    let jar = "commons-lang-2.6.jar";
    b.plain("maven jar", Kind::Asset, &format!("{dir}2.6/{jar}"), &[], &format!("maven/{jar}")).await?;
    Ok(())
}

/// NuGet: `newtonsoft.json`'s flat-container index, registration index and 6.0.8 `.nupkg`.
pub async fn nuget(b: &mut Builder<'_>, depot: &Depot) -> Result<()> {
    let ep = depot.endpoint("nuget", "main");
    let id = "newtonsoft.json";
    let flat = format!("{ep}v3-flatcontainer/{id}/");
    b.plain("nuget flat-container index", Kind::Metadata, &format!("{flat}index.json"), &[], "nuget/flat.json").await?;
    let reg = format!("{ep}v3/registration/{id}/index.json");
    b.plain("nuget registration index", Kind::Metadata, &reg, &[], "nuget/registration.json").await?;
    let nupkg = format!("{id}.6.0.8.nupkg");
    b.plain("nuget nupkg", Kind::Asset, &format!("{flat}6.0.8/{nupkg}"), &[], &format!("nuget/{nupkg}")).await?;
    Ok(())
}
