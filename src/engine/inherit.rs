//! A version's metadata as the package operations show it: merged with what it inherits from
//! its parents (Maven parent POMs), found among the versions stored in the repository's search
//! order. Read-only: a parent that is not stored is not fetched or ingested (the version is
//! then shown with what it declares itself). The chain is bounded and a cycle ends it.

use std::collections::HashSet;

use serde_json::Value;

use super::error::{EngineError, Result};
use super::{Engine, RepoCtx};
use crate::model::{PackageId, PackageVersionRecord};
use crate::store::catalog;

/// The most parents followed (Maven projects rarely have more than three or four).
const MAX_PARENTS: usize = 10;

impl Engine {
    /// `rec`'s metadata merged with its stored parents' (`Format::parent`, `Format::inherit`).
    pub fn effective_metadata(&self, ctx: &RepoCtx, pkg: &PackageId, rec: &PackageVersionRecord) -> Result<Value> {
        let Some(format) = self.format(pkg.format).cloned() else { return Ok(rec.metadata.clone()) };
        let order = self.search_order(ctx)?;
        let mut seen = HashSet::from([(pkg.clone(), rec.version.clone())]);
        let mut chain = vec![rec.metadata.clone()];
        while chain.len() <= MAX_PARENTS {
            let Some((ppkg, pv)) = chain.last().and_then(|m| format.parent(m)) else { break };
            if !seen.insert((ppkg.clone(), pv.clone())) {
                tracing::warn!(pkg.name = %pkg, parent = %ppkg, "parent cycle; inheritance stops there");
                break;
            }
            let found = self.read(|tx| {
                for repo in order.iter() {
                    if let Some(r) = catalog::version(tx, &ctx.domain, &repo.name, &ppkg, &pv)? {
                        return Ok::<_, EngineError>(Some(r.metadata));
                    }
                }
                Ok(None)
            })?;
            let Some(parent) = found else { break };
            chain.push(parent);
        }
        let mut merged = chain.pop().unwrap_or(Value::Null);
        while let Some(child) = chain.pop() {
            merged = format.inherit(&child, &merged);
        }
        Ok(merged)
    }
}
