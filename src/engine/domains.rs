//! Domains, repositories and external connections (the upstream graph's rules and search
//! order are in `graph.rs`).

use super::error::{EngineError, ResourceType, Result};
use super::graph::check_upstreams;
use super::Engine;
use crate::config::connection_format;
use crate::model::{now_epoch, AccountId, DomainName, DomainRecord, PackageFormat, RepositoryName, RepositoryRecord};
use crate::store::{catalog, ReadTxn};
use std::sync::Arc;

/// A resolved repository, as request handlers carry it.
#[derive(Debug, Clone)]
pub struct RepoCtx {
    /// The domain.
    pub domain: DomainName,
    /// The domain's owner.
    pub owner: AccountId,
    /// The repository (shared with the engine's cache: resolving it copies nothing).
    pub repo: Arc<RepositoryRecord>,
}

fn domain_missing(d: &DomainName) -> EngineError {
    EngineError::not_found(ResourceType::Domain, d.as_str(), format!("Domain {d} does not exist"))
}

pub(super) fn repo_missing(d: &DomainName, r: &RepositoryName) -> EngineError {
    EngineError::not_found(ResourceType::Repository, r.as_str(), format!("Repository {r} does not exist in domain {d}"))
}

impl Engine {
    /// The configured account id (owner of every domain).
    pub fn account(&self) -> AccountId {
        AccountId::new(self.cfg.account.id.clone()).expect("validated at load")
    }

    fn check_owner(&self, d: &DomainName, owner: Option<&AccountId>) -> Result<()> {
        match owner {
            Some(o) if o.as_str() != self.cfg.account.id => Err(domain_missing(d)),
            _ => Ok(()),
        }
    }

    /// `arn:aws:codeartifact:<region>:<owner>:domain/<d>`
    pub fn domain_arn(&self, d: &DomainName) -> String {
        format!("arn:aws:codeartifact:{}:{}:domain/{d}", self.cfg.account.region, self.cfg.account.id)
    }

    /// `arn:aws:codeartifact:<region>:<owner>:repository/<d>/<r>`
    pub fn repository_arn(&self, d: &DomainName, r: &RepositoryName) -> String {
        format!("arn:aws:codeartifact:{}:{}:repository/{d}/{r}", self.cfg.account.region, self.cfg.account.id)
    }

    /// The public base URL (no trailing slash): `server.public_url` when set, else
    /// `http://<Host header>`. The server admits the Host first (`admit_host`: valid, and one
    /// of at most `server.max_hosts`) and supplies the bound address when a request has none,
    /// so the configured listen address is only a fallback for callers outside a request.
    pub fn public_base(&self, host: Option<&str>) -> String {
        let configured = self.cfg.server.public_url.trim_end_matches('/');
        if !configured.is_empty() {
            return configured.to_string();
        }
        match host.and_then(super::normalize_host) {
            Some(h) => format!("http://{h}"),
            None => format!("http://{}", self.cfg.server.listen),
        }
    }

    /// A repository's endpoint for a format, ending in `/`: `<base>/<domain>-<owner>/<format>/<repo>/`.
    /// Domain, owner, format and repository are all in it, and it never starts with `/v1/`.
    pub fn repository_endpoint(&self, base: &str, ctx: &RepoCtx, format: PackageFormat) -> String {
        format!("{base}/{}-{}/{}/{}/", ctx.domain, ctx.owner, format.as_str(), ctx.repo.name)
    }

    /// CreateDomain.
    pub fn create_domain(&self, d: &DomainName, encryption_key: Option<String>) -> Result<DomainRecord> {
        let rec = DomainRecord { name: d.clone(), owner: self.account(), created: now_epoch(), encryption_key };
        self.write(|tx| {
            if catalog::domain(tx, d)?.is_some() {
                return Err(EngineError::conflict(
                    ResourceType::Domain,
                    d.as_str(),
                    format!("Domain {d} already exists"),
                ));
            }
            catalog::put_domain(tx, &rec)?;
            Ok(())
        })?;
        tracing::info!(domain = %d, "domain created");
        Ok(rec)
    }

    /// DescribeDomain.
    pub fn describe_domain(&self, d: &DomainName, owner: Option<&AccountId>) -> Result<(DomainRecord, usize)> {
        self.check_owner(d, owner)?;
        self.read(|tx| {
            let rec = catalog::domain(tx, d)?.ok_or_else(|| domain_missing(d))?;
            let count = catalog::repositories(tx, d, None, usize::MAX)?.len();
            Ok((rec, count))
        })
    }

    /// ListDomains: domains after `after`, at most `limit`.
    pub fn list_domains(&self, after: Option<&DomainName>, limit: usize) -> Result<Vec<DomainRecord>> {
        self.read(|tx| Ok(catalog::domains(tx, after, limit)?))
    }

    /// DeleteDomain: refused while it has repositories.
    pub fn delete_domain(&self, d: &DomainName, owner: Option<&AccountId>) -> Result<DomainRecord> {
        self.check_owner(d, owner)?;
        let rec = self.write(|tx| {
            let rec = catalog::domain(tx, d)?.ok_or_else(|| domain_missing(d))?;
            if !catalog::repositories(tx, d, None, 1)?.is_empty() {
                return Err(EngineError::conflict(
                    ResourceType::Domain,
                    d.as_str(),
                    format!("Domain {d} contains repositories; delete them first"),
                ));
            }
            catalog::delete_domain(tx, d)?;
            Ok(rec)
        })?;
        self.gens.bump_graph();
        Ok(rec)
    }

    /// Resolves a repository for a request.
    pub fn repo_ctx(&self, d: &DomainName, owner: Option<&AccountId>, r: &RepositoryName) -> Result<RepoCtx> {
        self.check_owner(d, owner)?;
        // Read before the store: a change landing meanwhile moves it past the entry's stamp.
        let gen = self.gens.graph();
        if let Some(repo) = self.graph_cache.repository(d, r, gen) {
            return Ok(RepoCtx { domain: d.clone(), owner: self.account(), repo });
        }
        let repo = Arc::new(self.read(|tx| {
            catalog::domain(tx, d)?.ok_or_else(|| domain_missing(d))?;
            catalog::repository(tx, d, r)?.ok_or_else(|| repo_missing(d, r))
        })?);
        self.graph_cache.remember_repository(d, &repo, gen);
        Ok(RepoCtx { domain: d.clone(), owner: self.account(), repo })
    }

    /// CreateRepository.
    pub fn create_repository(
        &self,
        d: &DomainName,
        owner: Option<&AccountId>,
        r: &RepositoryName,
        description: Option<String>,
        upstreams: Vec<RepositoryName>,
    ) -> Result<RepositoryRecord> {
        self.check_owner(d, owner)?;
        check_description(description.as_deref())?;
        let rec = RepositoryRecord {
            domain: d.clone(),
            name: r.clone(),
            description,
            upstreams,
            external_connections: vec![],
            created: now_epoch(),
        };
        self.write(|tx| {
            catalog::domain(tx, d)?.ok_or_else(|| domain_missing(d))?;
            if catalog::repository(tx, d, r)?.is_some() {
                return Err(EngineError::conflict(
                    ResourceType::Repository,
                    r.as_str(),
                    format!("Repository {r} already exists in domain {d}"),
                ));
            }
            check_upstreams(tx, &rec)?;
            catalog::put_repository(tx, &rec)?;
            Ok(())
        })?;
        self.gens.bump_graph();
        tracing::info!(domain = %d, repo.name = %r, "repository created");
        Ok(rec)
    }

    /// UpdateRepository: `None` leaves a field as it is; `Some(vec![])` removes all upstreams.
    pub fn update_repository(
        &self,
        d: &DomainName,
        owner: Option<&AccountId>,
        r: &RepositoryName,
        description: Option<String>,
        upstreams: Option<Vec<RepositoryName>>,
    ) -> Result<RepositoryRecord> {
        self.check_owner(d, owner)?;
        check_description(description.as_deref())?;
        self.modify_repository(d, r, |tx, rec| {
            if let Some(desc) = &description {
                rec.description = Some(desc.clone());
            }
            if let Some(ups) = &upstreams {
                rec.upstreams = ups.clone();
                check_upstreams(tx, rec)?;
            }
            Ok(())
        })
    }

    /// DescribeRepository.
    pub fn describe_repository(
        &self,
        d: &DomainName,
        owner: Option<&AccountId>,
        r: &RepositoryName,
    ) -> Result<RepositoryRecord> {
        Ok((*self.repo_ctx(d, owner, r)?.repo).clone())
    }

    /// Repositories of a domain in name order (ListRepositoriesInDomain).
    pub fn list_repositories(
        &self,
        d: &DomainName,
        owner: Option<&AccountId>,
        after: Option<&RepositoryName>,
        limit: usize,
    ) -> Result<Vec<RepositoryRecord>> {
        self.check_owner(d, owner)?;
        self.read(|tx| {
            catalog::domain(tx, d)?.ok_or_else(|| domain_missing(d))?;
            Ok(catalog::repositories(tx, d, after, limit)?)
        })
    }

    /// Every repository of every domain (ListRepositories), in (domain, name) order.
    pub fn list_all_repositories(&self) -> Result<Vec<RepositoryRecord>> {
        self.read(|tx| {
            let mut out = Vec::new();
            for dom in catalog::domains(tx, None, usize::MAX)? {
                out.extend(catalog::repositories(tx, &dom.name, None, usize::MAX)?);
            }
            Ok(out)
        })
    }

    /// DeleteRepository: removes it and its contents, and drops it from other repositories'
    /// upstream lists (their retained copies stay).
    pub fn delete_repository(
        &self,
        d: &DomainName,
        owner: Option<&AccountId>,
        r: &RepositoryName,
    ) -> Result<RepositoryRecord> {
        self.check_owner(d, owner)?;
        let rec = self.write(|tx| {
            let rec = catalog::repository(tx, d, r)?.ok_or_else(|| repo_missing(d, r))?;
            for mut other in catalog::repositories(tx, d, None, usize::MAX)? {
                if other.upstreams.contains(r) {
                    other.upstreams.retain(|u| u != r);
                    catalog::put_repository(tx, &other)?;
                }
            }
            super::events::record_repository_deleted(tx, d, r, &crate::model::now_rfc3339())?;
            catalog::delete_repository(tx, d, r)?;
            Ok(rec)
        })?;
        self.gens.bump_graph();
        // Its versions' blobs were recorded as collection candidates (`catalog::delete_repository`).
        self.gc.wake();
        tracing::info!(domain = %d, repo.name = %r, "repository deleted");
        Ok(rec)
    }

    /// AssociateExternalConnection: one per repository.
    pub fn associate_external_connection(
        &self,
        d: &DomainName,
        owner: Option<&AccountId>,
        r: &RepositoryName,
        connection: &str,
    ) -> Result<RepositoryRecord> {
        self.check_owner(d, owner)?;
        if connection_format(connection).is_none() {
            return Err(EngineError::Validation(format!(
                "externalConnection: {connection} is not a supported external connection"
            )));
        }
        self.modify_repository(d, r, |_, rec| {
            if rec.external_connections.iter().any(|c| c == connection) {
                return Err(EngineError::conflict(
                    ResourceType::Repository,
                    r.as_str(),
                    format!("Repository {r} already has external connection {connection}"),
                ));
            }
            if !rec.external_connections.is_empty() {
                return Err(EngineError::Quota(format!(
                    "Repository {r} already has an external connection; a repository can have only one"
                )));
            }
            rec.external_connections.push(connection.to_string());
            Ok(())
        })
    }

    /// DisassociateExternalConnection.
    pub fn disassociate_external_connection(
        &self,
        d: &DomainName,
        owner: Option<&AccountId>,
        r: &RepositoryName,
        connection: &str,
    ) -> Result<RepositoryRecord> {
        self.check_owner(d, owner)?;
        self.modify_repository(d, r, |_, rec| {
            if !rec.external_connections.iter().any(|c| c == connection) {
                return Err(EngineError::not_found(
                    ResourceType::Repository,
                    r.as_str(),
                    format!("Repository {r} has no external connection {connection}"),
                ));
            }
            rec.external_connections.retain(|c| c != connection);
            Ok(())
        })
    }

    /// Reads a repository, lets `edit` change it (or refuse), stores it, and invalidates the
    /// search orders, all in one transaction.
    fn modify_repository(
        &self,
        d: &DomainName,
        r: &RepositoryName,
        mut edit: impl FnMut(&dyn ReadTxn, &mut RepositoryRecord) -> Result<()>,
    ) -> Result<RepositoryRecord> {
        let rec = self.write(|tx| {
            let mut rec = catalog::repository(tx, d, r)?.ok_or_else(|| repo_missing(d, r))?;
            edit(&*tx, &mut rec)?;
            catalog::put_repository(tx, &rec)?;
            Ok(rec)
        })?;
        self.gens.bump_graph();
        Ok(rec)
    }
}

fn check_description(desc: Option<&str>) -> Result<()> {
    match desc {
        Some(s) if s.chars().count() > 1000 => {
            Err(EngineError::Validation("description: must be at most 1000 characters".into()))
        }
        Some(s) if s.chars().any(char::is_control) => {
            Err(EngineError::Validation("description: must not contain control characters".into()))
        }
        _ => Ok(()),
    }
}
