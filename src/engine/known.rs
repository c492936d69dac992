//! Packages a repository knows of without asking an upstream: those stored in any repository
//! of its search order and those its connections have cached documents for. Formats with a
//! search endpoint (NuGet) filter and rank these themselves.

use std::collections::BTreeSet;

use super::error::{EngineError, Result};
use super::{Engine, RepoCtx};
use crate::model::{PackageFormat, PackageId, PackageName};
use crate::store::catalog::{self, PackageQuery};

impl Engine {
    /// Up to `limit` packages of `format` per source (repository or connection) of `ctx`'s
    /// search order, deduplicated, in name order. Origin controls are not applied: a
    /// version read still goes through them.
    pub fn known_packages(&self, ctx: &RepoCtx, format: PackageFormat, limit: usize) -> Result<Vec<PackageId>> {
        let order = self.search_order(ctx)?;
        let mut out = BTreeSet::new();
        self.read(|tx| {
            for repo in order.iter() {
                let q = PackageQuery { format: Some(format), namespace_prefix: None, name_prefix: None };
                for (id, _) in
                    catalog::packages_matching(tx, &ctx.domain, &repo.name, &q, None, limit, &mut |_, _, _| Ok(true))?
                {
                    out.insert(id);
                }
                if let Some(conn) = self.connection_for(repo, format) {
                    for name in catalog::upstream_package_names(tx, conn, format, limit)? {
                        if let Ok(name) = PackageName::new(name) {
                            out.insert(PackageId { format, namespace: None, name });
                        }
                    }
                }
            }
            Ok::<_, EngineError>(())
        })?;
        Ok(out.into_iter().collect())
    }
}
