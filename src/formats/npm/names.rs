//! npm package names and the paths under a repository's npm endpoint.

use crate::model::{Namespace, PackageFormat, PackageId, PackageName};

/// Parses `name` or `@scope/name` into a package id, applying npm's naming rules.
pub(crate) fn parse_name(s: &str) -> Option<PackageId> {
    if s.is_empty() || s.len() > 214 {
        return None;
    }
    let (scope, name) = match s.strip_prefix('@') {
        Some(rest) => {
            let (scope, name) = rest.split_once('/')?;
            (Some(scope), name)
        }
        None => (None, s),
    };
    let ok = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && !p.starts_with('_')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '!' | '*' | '\'' | '(' | ')'))
    };
    if !ok(name) || scope.is_some_and(|sc| !ok(sc)) {
        return None;
    }
    Some(PackageId {
        format: PackageFormat::Npm,
        namespace: match scope {
            Some(sc) => Some(Namespace::new(sc).ok()?),
            None => None,
        },
        name: PackageName::new(name).ok()?,
    })
}

/// `name` or `@scope/name`.
pub(crate) fn full_name(p: &PackageId) -> String {
    match &p.namespace {
        Some(ns) => format!("@{ns}/{}", p.name),
        None => p.name.to_string(),
    }
}

/// What a path under the npm endpoint asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NpmPath {
    /// `-/ping`
    Ping,
    /// `<pkg>`
    Package(PackageId),
    /// `<pkg>/<version or tag>`
    PackageVersion(PackageId, String),
    /// `<pkg>/-/<file>`
    Tarball(PackageId, String),
    /// `-/package/<pkg>/dist-tags`
    DistTags(PackageId),
    /// `-/package/<pkg>/dist-tags/<tag>`
    DistTag(PackageId, String),
    /// `<pkg>/-rev/<rev>` (unpublish)
    Revision(PackageId),
    /// A registry feature CodeArtifact does not offer: the npm command, and what to use instead.
    Unsupported(&'static str, &'static str),
    /// Nothing we know.
    Unknown,
}

/// Splits the package name off the front of `segs` (two segments when scoped).
fn take_package<'a>(segs: &'a [&'a str]) -> Option<(PackageId, &'a [&'a str])> {
    let first = *segs.first()?;
    if first.starts_with('@') {
        // A scoped name arrives either as one decoded segment "@s/n" split in two, or whole.
        let second = *segs.get(1)?;
        Some((parse_name(&format!("{first}/{second}"))?, &segs[2..]))
    } else {
        Some((parse_name(first)?, &segs[1..]))
    }
}

const LOGIN: (&str, &str) = (
    "adduser/login",
    "CodeArtifact uses its own authentication: run `aws codeartifact login --tool npm --domain <domain> --repository <repository>`",
);

/// The npm commands CodeArtifact does not support, named by npm's `npm-command` request
/// header, with what to use instead.
pub(crate) fn unsupported_command(cmd: &str) -> Option<(&'static str, &'static str)> {
    Some(match cmd {
        "adduser" | "login" | "add-user" => LOGIN,
        "logout" => ("logout", "tokens expire on their own; get a new one with `aws codeartifact login`"),
        "whoami" => ("whoami", "CodeArtifact has no npm user names; your identity is your AWS credentials"),
        "search" | "find" | "s" | "se" => ("search", "use `aws codeartifact list-packages`"),
        "star" | "unstar" => ("star", "CodeArtifact has no favorites"),
        "stars" => ("stars", "CodeArtifact has no favorites"),
        "owner" | "author" => ("owner", "CodeArtifact uses repository and domain policies"),
        "access" => ("access", "CodeArtifact uses repository and domain policies"),
        "team" | "org" => ("team", "use IAM groups and repository policies"),
        "token" => ("token", "use `aws codeartifact get-authorization-token`"),
        "unpublish" => ("unpublish", "use `aws codeartifact delete-package-versions`"),
        "hook" => ("hook", "CodeArtifact does not offer npm hooks"),
        "audit" => ("audit", "CodeArtifact does not vend security vulnerability data"),
        "profile" => ("profile", "CodeArtifact uses AWS IAM identities, not npm profiles"),
        _ => return None,
    })
}

/// Classifies a decoded path (without the endpoint prefix).
pub(crate) fn classify(path: &str) -> NpmPath {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["-", "ping"] => NpmPath::Ping,
        ["-", "whoami"] => {
            NpmPath::Unsupported("whoami", "CodeArtifact has no npm user names; your identity is your AWS credentials")
        }
        ["-", "v1", "search", ..] => NpmPath::Unsupported("search", "use `aws codeartifact list-packages`"),
        ["-", "user", rest @ ..] if rest.first().is_some_and(|s| s.starts_with("org.couchdb.user:")) => {
            NpmPath::Unsupported(LOGIN.0, LOGIN.1)
        }
        ["-", "user", "token", ..] => {
            NpmPath::Unsupported("logout", "tokens expire on their own; get a new one with `aws codeartifact login`")
        }
        ["-", "v1", "login", ..] => NpmPath::Unsupported(LOGIN.0, LOGIN.1),
        ["-", "npm", "v1", "security", ..] => {
            NpmPath::Unsupported("audit", "CodeArtifact does not vend security vulnerability data")
        }
        ["-", "npm", "v1", "user", ..] => {
            NpmPath::Unsupported("profile", "CodeArtifact uses AWS IAM identities, not npm profiles")
        }
        ["-", "npm", "v1", "tokens", ..] => {
            NpmPath::Unsupported("token", "use `aws codeartifact get-authorization-token`")
        }
        ["-", "npm", "v1", "hooks", ..] => NpmPath::Unsupported("hook", "CodeArtifact does not offer npm hooks"),
        ["-", "org", ..] | ["-", "team", ..] => {
            NpmPath::Unsupported("team/org", "use IAM groups and repository policies")
        }
        ["-", "_view", "starredByUser", ..] => NpmPath::Unsupported("stars", "CodeArtifact has no favorites"),
        ["-", "package", rest @ ..] => match take_package(rest) {
            Some((p, ["dist-tags"])) => NpmPath::DistTags(p),
            Some((p, ["dist-tags", tag])) => NpmPath::DistTag(p, (*tag).to_string()),
            Some((_, ["access"])) | Some((_, ["collaborators"])) => {
                NpmPath::Unsupported("access/owner", "CodeArtifact uses repository and domain policies")
            }
            _ => NpmPath::Unknown,
        },
        ["-", ..] => NpmPath::Unknown,
        _ => match take_package(&segs) {
            Some((p, [])) => NpmPath::Package(p),
            Some((p, ["-", file])) => NpmPath::Tarball(p, (*file).to_string()),
            Some((p, ["-rev", _])) => NpmPath::Revision(p),
            Some((p, [v])) => NpmPath::PackageVersion(p, (*v).to_string()),
            _ => NpmPath::Unknown,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(full_name(&parse_name("@babel/code-frame").unwrap()), "@babel/code-frame");
        assert_eq!(full_name(&parse_name("express").unwrap()), "express");
        assert!(parse_name("../etc").is_none());
        assert!(parse_name(".hidden").is_none());
        assert!(parse_name("@scope").is_none());
        assert!(parse_name("a b").is_none());
    }

    #[test]
    fn paths() {
        assert!(matches!(classify("express"), NpmPath::Package(_)));
        assert!(matches!(classify("@babel/code-frame"), NpmPath::Package(_)));
        assert!(
            matches!(classify("@babel/code-frame/-/code-frame-7.29.7.tgz"), NpmPath::Tarball(_, f) if f == "code-frame-7.29.7.tgz")
        );
        assert!(matches!(classify("express/4.22.3"), NpmPath::PackageVersion(_, v) if v == "4.22.3"));
        assert!(
            matches!(classify("-/package/@babel/code-frame/dist-tags/next"), NpmPath::DistTag(_, t) if t == "next")
        );
        assert!(matches!(classify("-/package/ms/dist-tags"), NpmPath::DistTags(_)));
        assert_eq!(classify("-/ping"), NpmPath::Ping);
        assert!(matches!(classify("-/whoami"), NpmPath::Unsupported("whoami", _)));
        assert!(matches!(classify("-/user/org.couchdb.user:bob"), NpmPath::Unsupported(..)));
        assert!(matches!(classify("-/npm/v1/security/advisories/bulk"), NpmPath::Unsupported("audit", _)));
        assert_eq!(classify("../../etc/passwd"), NpmPath::Unknown);
    }
}
