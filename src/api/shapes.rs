//! CodeArtifact's wire shapes, built from stored records. Timestamps are epoch seconds.

use serde_json::{json, Value};

use crate::config::connection_format;
use crate::engine::Engine;
use crate::model::{DomainRecord, RepositoryRecord};

pub(crate) fn domain_summary(e: &Engine, d: &DomainRecord) -> Value {
    let mut v = json!({
        "name": d.name, "owner": d.owner, "arn": e.domain_arn(&d.name),
        "status": "Active", "createdTime": d.created,
    });
    if let Some(k) = &d.encryption_key {
        v["encryptionKey"] = json!(k);
    }
    v
}

pub(crate) fn domain_description(e: &Engine, d: &DomainRecord, repository_count: usize, asset_size: u64) -> Value {
    let mut v = domain_summary(e, d);
    v["repositoryCount"] = json!(repository_count);
    v["assetSizeBytes"] = json!(asset_size);
    v
}

pub(crate) fn repository_summary(e: &Engine, r: &RepositoryRecord) -> Value {
    let mut v = json!({
        "name": r.name, "administratorAccount": e.account(), "domainName": r.domain,
        "domainOwner": e.account(), "arn": e.repository_arn(&r.domain, &r.name), "createdTime": r.created,
    });
    if let Some(d) = &r.description {
        v["description"] = json!(d);
    }
    v
}

pub(crate) fn repository_description(e: &Engine, r: &RepositoryRecord) -> Value {
    let mut v = repository_summary(e, r);
    v["upstreams"] = r.upstreams.iter().map(|u| json!({ "repositoryName": u })).collect();
    v["externalConnections"] = r
        .external_connections
        .iter()
        .map(|c| {
            json!({
                "externalConnectionName": c,
                "packageFormat": connection_format(c).map(|f| f.as_str()).unwrap_or("npm"),
                "status": "Available",
            })
        })
        .collect();
    v
}
