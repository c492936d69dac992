//! Durable package-version events. Every write that creates, changes or removes a version
//! calls [`record`] inside its own transaction, so an event exists exactly when its change
//! was committed. Events are appended to one log under a global, gap-free position (the feed
//! cursor); each also carries a per-(domain, repository, package) `sequenceNumber`. They
//! render as CodeArtifact's EventBridge event (`version` "0", `detail-type` "CodeArtifact
//! Package Version State Change"). The HTTP feed and webhook delivery read the same log.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::error::Result;
use super::{Engine, RepoCtx};
use crate::model::{
    AccountId, DomainName, EventChanges, EventOperation, EventRecord, PackageId, PackageVersionRecord, RepositoryName,
};
use crate::store::{catalog, StoreError, WriteTxn};

/// The `detail-type` of every event.
pub const DETAIL_TYPE: &str = "CodeArtifact Package Version State Change";

/// Where a change happened.
#[derive(Debug, Clone, Copy)]
pub struct EventSource<'a> {
    /// The domain.
    pub domain: &'a DomainName,
    /// The domain's owner (the event's `account`).
    pub owner: &'a AccountId,
    /// The repository.
    pub repository: &'a RepositoryName,
}

impl<'a> EventSource<'a> {
    /// The repository of a request context.
    pub fn of(ctx: &'a RepoCtx) -> Self {
        Self { domain: &ctx.domain, owner: &ctx.owner, repository: &ctx.repo.name }
    }
}

/// What a change from `before` to `after` is, by asset name and SHA-256, metadata and status;
/// `None` when nothing an event reports changed (no event is written then).
pub fn derive(
    before: Option<&PackageVersionRecord>,
    after: Option<&PackageVersionRecord>,
) -> Option<(EventOperation, EventChanges)> {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    match (before, after) {
        (None, None) => None,
        (None, Some(a)) => Some((
            EventOperation::Created,
            EventChanges {
                assets_added: count(a.assets.len()),
                metadata_updated: true,
                status_changed: true,
                ..Default::default()
            },
        )),
        (Some(b), None) => Some((
            EventOperation::Deleted,
            EventChanges {
                assets_removed: count(b.assets.len()),
                metadata_updated: true,
                status_changed: true,
                ..Default::default()
            },
        )),
        (Some(b), Some(a)) => {
            let added = a.assets.iter().filter(|x| !b.assets.iter().any(|y| y.name == x.name)).count();
            let removed = b.assets.iter().filter(|x| !a.assets.iter().any(|y| y.name == x.name)).count();
            let updated =
                a.assets.iter().filter(|x| b.assets.iter().any(|y| y.name == x.name && y.sha256 != x.sha256)).count();
            let changes = EventChanges {
                assets_added: count(added),
                assets_removed: count(removed),
                assets_updated: count(updated),
                metadata_updated: a.metadata != b.metadata,
                status_changed: a.status != b.status,
            };
            (!changes.is_empty()).then_some((EventOperation::Updated, changes))
        }
    }
}

/// Records the event of a version going from `before` to `after` (either may be absent) in
/// `src`'s repository, inside the caller's write transaction. Returns the event's position,
/// or `None` when nothing changed. Pure apart from `tx`, so a retried transaction is safe.
pub fn record(
    tx: &mut dyn WriteTxn,
    src: &EventSource<'_>,
    pkg: &PackageId,
    before: Option<&PackageVersionRecord>,
    after: Option<&PackageVersionRecord>,
    now: &str,
) -> std::result::Result<Option<u64>, StoreError> {
    let Some((operation, changes)) = derive(before, after) else { return Ok(None) };
    // derive() returns None when both are absent, so one of them is here.
    let Some(last) = after.or(before) else { return Ok(None) };
    let position = catalog::last_event_position(tx)? + 1;
    let sequence = catalog::next_event_sequence(tx, src.domain, src.repository, pkg)?;
    let mut h = Sha256::new();
    for part in [src.domain.as_str(), src.repository.as_str(), &pkg.to_string(), pkg.format.as_str()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(last.version.as_str().as_bytes());
    h.update([0]);
    h.update(sequence.to_be_bytes());
    let dedup_id = base64::engine::general_purpose::STANDARD.encode(h.finalize_reset());
    // The id also covers the position and time: unique in this log and across installations.
    h.update(dedup_id.as_bytes());
    h.update(position.to_be_bytes());
    h.update(now.as_bytes());
    let id = uuid_shape(&h.finalize());
    let rec = EventRecord {
        position,
        id,
        time: now.to_string(),
        domain: src.domain.clone(),
        owner: src.owner.clone(),
        repository: src.repository.clone(),
        package: pkg.clone(),
        version: last.version.clone(),
        state: last.status,
        revision: last.revision.clone(),
        changes,
        operation,
        sequence,
        dedup_id,
    };
    catalog::append_event(tx, &rec)?;
    Ok(Some(position))
}

/// Records a Deleted event for every version stored in a repository about to be deleted
/// (DeleteRepository removes them in the same transaction).
pub(super) fn record_repository_deleted(
    tx: &mut dyn WriteTxn,
    domain: &DomainName,
    repository: &RepositoryName,
    now: &str,
) -> std::result::Result<(), StoreError> {
    let Some(owner) = catalog::domain(tx, domain)?.map(|d| d.owner) else { return Ok(()) };
    let src = EventSource { domain, owner: &owner, repository };
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = catalog::packages(tx, domain, repository, after.as_deref(), 256)?;
        let Some((_, last)) = page.last() else { return Ok(()) };
        after = Some(last.clone());
        for (pkg, _) in &page {
            for v in catalog::versions(tx, domain, repository, pkg)? {
                record(tx, &src, pkg, Some(&v), None, now)?;
            }
        }
    }
}

fn uuid_shape(d: &[u8]) -> String {
    let x = hex::encode(&d[..16]);
    format!("{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
}

/// The package ARN CodeArtifact puts in `resources`.
fn package_arn(e: &EventRecord, region: &str) -> String {
    let ns = e.package.namespace.as_ref().map_or("", |n| n.as_str());
    format!(
        "arn:aws:codeartifact:{region}:{}:package/{}/{}/{}/{ns}/{}",
        e.owner,
        e.domain,
        e.repository,
        e.package.format.as_str(),
        e.package.name
    )
}

/// The event as CodeArtifact's EventBridge JSON, with Depot's feed position beside it.
pub fn render(e: &EventRecord, region: &str) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": e.id,
        "detail-type": DETAIL_TYPE,
        "source": "aws.codeartifact",
        "account": e.owner.as_str(),
        "time": e.time,
        "region": region,
        "resources": [package_arn(e, region)],
        "detail": {
            "domainName": e.domain.as_str(),
            "domainOwner": e.owner.as_str(),
            "repositoryName": e.repository.as_str(),
            "packageFormat": e.package.format.as_str(),
            "packageNamespace": e.package.namespace.as_ref().map(|n| n.as_str()),
            "packageName": e.package.name.as_str(),
            "packageVersion": e.version.as_str(),
            "packageVersionState": e.state.as_str(),
            "packageVersionRevision": e.revision,
            "changes": {
                "assetsAdded": e.changes.assets_added,
                "assetsRemoved": e.changes.assets_removed,
                "metadataUpdated": e.changes.metadata_updated,
                "assetsUpdated": e.changes.assets_updated,
                "statusChanged": e.changes.status_changed,
            },
            "operationType": e.operation.as_str(),
            "sequenceNumber": e.sequence,
            "eventDeduplicationId": e.dedup_id,
        },
        "depot": { "position": e.position },
    })
}

/// Wakes feed readers and webhook tasks after commits: a counter every commit bumps.
pub(super) struct EventHub {
    tx: tokio::sync::watch::Sender<u64>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self { tx: tokio::sync::watch::channel(0).0 }
    }
}

impl EventHub {
    /// Called after every committed write (it may have recorded events).
    pub(super) fn wake(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(super) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

/// A page of the feed.
#[derive(Debug, Clone)]
pub struct EventPage {
    /// The events, oldest first, rendered.
    pub events: Vec<serde_json::Value>,
    /// The position to resume after (the last event's, or the request's when empty).
    pub next: u64,
}

impl Engine {
    /// Stored events after position `after`, at most `limit`.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<EventRecord>> {
        self.read(|tx| Ok(catalog::events_after(tx, after, limit)?))
    }

    /// A page of the feed after `after`; with nothing there, waits up to `wait` for a commit.
    pub async fn event_page(&self, after: u64, limit: usize, wait: std::time::Duration) -> Result<EventPage> {
        let mut woken = self.events.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            woken.borrow_and_update();
            let found = self.events_after(after, limit)?;
            if !found.is_empty() || tokio::time::Instant::now() >= deadline {
                let region = &self.cfg.account.region;
                let next = found.last().map_or(after, |e| e.position);
                return Ok(EventPage { events: found.iter().map(|e| render(e, region)).collect(), next });
            }
            // A closed channel cannot happen while the engine lives; either way, look again.
            let _ = tokio::time::timeout_at(deadline, woken.changed()).await;
        }
    }
}

#[cfg(test)]
mod tests;
