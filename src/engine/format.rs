//! The seam between the engine and a wire protocol. The engine speaks CodeArtifact's nouns
//! (package, version, asset, tag); a format turns its upstream's documents into those nouns
//! and back. Required methods are what every format must answer; the rest have defaults
//! that only some formats override (npm: dependency prefetch).

use std::collections::BTreeMap;

use crate::model::{AssetAttributes, AssetName, PackageFormat, PackageId, Version};
use crate::store::ReadSeek;

/// A file of an upstream version, as the upstream declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamAsset {
    /// File name as Depot serves it.
    pub name: AssetName,
    /// Where to download it.
    pub url: String,
    /// Declared SHA-1, hex.
    pub sha1: Option<String>,
    /// Declared SHA-256, hex.
    pub sha256: Option<String>,
    /// Declared SHA-512, raw.
    pub sha512: Option<Vec<u8>>,
    /// Declared size in bytes.
    pub size: Option<u64>,
    /// What the index says about the file (kept with the stored asset).
    pub attributes: AssetAttributes,
}

/// One version in an upstream's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamVersion {
    /// The version.
    pub version: Version,
    /// The format's own per-version metadata (npm: the manifest, kept as text).
    pub metadata: super::VersionMetadata,
    /// Its files.
    pub assets: Vec<UpstreamAsset>,
    /// Publication time if the upstream says (RFC 3339).
    pub published_time: Option<String>,
}

/// An upstream's metadata for one package, in the engine's nouns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpstreamPackage {
    /// Versions in the upstream's order.
    pub versions: Vec<UpstreamVersion>,
    /// Tags (npm dist-tags).
    pub tags: BTreeMap<String, String>,
}

impl UpstreamPackage {
    /// The version entry, if the upstream has it.
    pub fn version(&self, v: &Version) -> Option<&UpstreamVersion> {
        self.versions.iter().find(|u| &u.version == v)
    }
}

/// An upstream metadata document as fetched.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamDocument<'a> {
    /// Its bytes.
    pub body: &'a [u8],
    /// Its media type, when the upstream said.
    pub content_type: Option<&'a str>,
    /// Where it came from (after redirects): the base for relative links in it.
    pub url: &'a str,
}

/// Why an upstream metadata document cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Not well-formed at all (JSON, XML, HTML).
    #[error("malformed document: {0}")]
    Syntax(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Well-formed, but not the shape the format expects.
    #[error("unexpected document: {0}")]
    Shape(&'static str),
}

/// What a format learned from one file's bytes.
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    /// Version metadata read from the file (PyPI: its core metadata), kept when the upstream's
    /// index gave none.
    pub metadata: Option<serde_json::Value>,
    /// The file's core-metadata bytes, stored as a blob of their own and advertised with the
    /// file (PEP 658).
    pub core_metadata: Option<Vec<u8>>,
}

/// A dependency edge to prefetch: a package and the range or tag the dependent asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DependencyRequest {
    /// The dependency.
    pub package: PackageId,
    /// Its range as the format writes it.
    pub range: String,
}

/// One wire protocol, as the engine needs it. Routes live in the format's own module and are
/// registered by `server`; this trait is only what the engine calls back.
pub trait Format: Send + Sync + 'static {
    /// Which format this is.
    fn format(&self) -> PackageFormat;

    /// The URL of the upstream metadata document of `pkg` under the connection's `base` URL.
    fn upstream_metadata_url(&self, base: &str, pkg: &PackageId) -> String;

    /// Parses an upstream metadata document.
    fn parse_upstream(&self, pkg: &PackageId, doc: &UpstreamDocument<'_>) -> Result<UpstreamPackage, DocumentError>;

    // Metadata spanning several documents (NuGet: a service index, then a registration index
    // whose pages may live in documents of their own). See docs/design/nuget.md.

    /// The connection's discovery document, fetched once per connection and cached with the
    /// format's metadata max age (NuGet: the service index, which is the connection's URL).
    /// `None` (the default): package URLs follow from the base URL alone.
    fn discovery_url(&self, _base: &str) -> Option<String> {
        None
    }

    /// The URL of `pkg`'s metadata given the connection's discovery document (NuGet: the
    /// `RegistrationsBaseUrl` it advertises). Default: `upstream_metadata_url`.
    fn upstream_metadata_url_from(
        &self,
        base: &str,
        pkg: &PackageId,
        _discovery: &UpstreamDocument<'_>,
    ) -> Result<String, DocumentError> {
        Ok(self.upstream_metadata_url(base, pkg))
    }

    /// Further documents the package's metadata document points at that belong to it (NuGet:
    /// registration pages not inlined in the index). The engine fetches them all (at most
    /// `MAX_LINKED_DOCUMENTS`) or fails the fetch. Default: none.
    fn linked_documents(&self, _pkg: &PackageId, _doc: &UpstreamDocument<'_>) -> Result<Vec<String>, DocumentError> {
        Ok(Vec::new())
    }

    /// The one document stored and parsed for the package: `doc` with its `linked` documents
    /// (URL, body; in `linked_documents`' order) merged in. Only called when there are any.
    fn merge_documents(
        &self,
        _pkg: &PackageId,
        doc: &UpstreamDocument<'_>,
        _linked: &[(String, bytes::Bytes)],
    ) -> Result<Vec<u8>, DocumentError> {
        Ok(doc.body.to_vec())
    }

    /// The version an asset file name belongs to, for formats whose download routes do not
    /// carry the version (npm: `name-1.2.3.tgz`). Routes that know it pass it to
    /// `Engine::fetch_asset` instead.
    fn version_of_asset(&self, _pkg: &PackageId, _asset: &AssetName) -> Option<Version> {
        None
    }

    /// The `Accept` header sent for upstream metadata.
    fn upstream_metadata_accept(&self) -> &'static str {
        "application/json"
    }

    /// Whether a version holds several files published one at a time (PyPI: an sdist and
    /// wheels), so a publish may add a file to a version published earlier.
    fn multi_asset_versions(&self) -> bool {
        false
    }

    /// Looks inside a file before it is stored (blocking: the engine calls it off the async
    /// workers). `Ok(None)`: nothing to learn (the default).
    fn inspect_asset(
        &self,
        _pkg: &PackageId,
        _asset: &AssetName,
        _file: &mut dyn ReadSeek,
    ) -> Result<Option<Inspection>, DocumentError> {
        Ok(None)
    }

    /// Dependencies of a just-ingested version to prefetch in the background.
    fn dependencies_to_prefetch(&self, _metadata: &serde_json::Value) -> Vec<DependencyRequest> {
        Vec::new()
    }

    /// Which versions of a dependency to prefetch for a range, given its upstream metadata.
    fn versions_to_prefetch(&self, _upstream: &UpstreamPackage, _range: &str) -> Vec<Version> {
        Vec::new()
    }

    /// Whether the upstream declares each file's checksum in side files next to it
    /// (`<url>.sha512`, `.sha256`, `.sha1`; Maven) instead of in its metadata. The engine
    /// fetches them and checks the downloaded bytes against the strongest one before storing.
    fn checksum_sidecars(&self) -> bool {
        false
    }

    /// Whether a file the upstream's metadata lists as a candidate may be absent upstream
    /// (Maven: the metadata lists versions, not files, so the format proposes the standard
    /// names); a 404 for it leaves it out of the version instead of failing the ingestion.
    fn asset_optional(&self, _asset: &AssetName) -> bool {
        false
    }

    /// A version's remaining candidate files once its metadata is known from a file already
    /// downloaded (Maven: the POM's `<packaging>` names the main artifact's extension, or says
    /// there is none). Default: unchanged.
    fn revise_assets(&self, _metadata: &serde_json::Value, candidates: Vec<UpstreamAsset>) -> Vec<UpstreamAsset> {
        candidates
    }

    /// Where to download a file of a version that is not among the version's standard files
    /// (Maven: a classifier file), so a request for it adds it to the stored version.
    /// `None` (the default): versions are ingested whole and no file is added later.
    fn upstream_asset_url(
        &self,
        _base: &str,
        _pkg: &PackageId,
        _version: &Version,
        _asset: &AssetName,
    ) -> Option<String> {
        None
    }

    /// Compares two versions for "most recent" decisions (default: text order).
    fn compare_versions(&self, a: &Version, b: &Version) -> std::cmp::Ordering {
        a.as_str().cmp(b.as_str())
    }

    // The read-only package operations (DescribePackageVersion and friends): how the API's
    // names and the stored per-version metadata map to CodeArtifact's fields. Defaults: names
    // as given, no details.

    /// The stored id of a package named in an API request (PyPI: any spelling → the normalised
    /// name); `None` for a name the format cannot have.
    fn api_package_id(&self, namespace: Option<&str>, name: &str) -> Option<PackageId> {
        Some(PackageId {
            format: self.format(),
            namespace: namespace.map(crate::model::Namespace::new).transpose().ok()?,
            name: crate::model::PackageName::new(name).ok()?,
        })
    }

    /// A version named in an API request, in the form it is stored under (PyPI: PEP 440 normal form).
    fn api_version(&self, version: &str) -> Option<Version> {
        Version::new(version).ok()
    }

    /// An asset's name in the management API (npm: `package.tgz`, CodeArtifact's one name for
    /// every npm tarball); requests may use either this name or the stored one.
    fn api_asset_name(&self, asset: &AssetName) -> String {
        asset.as_str().to_string()
    }

    /// Descriptive fields of a version from its stored metadata.
    fn version_details(&self, _metadata: &serde_json::Value) -> VersionDetails {
        VersionDetails::default()
    }

    /// The dependencies a version declares.
    fn dependencies(&self, _metadata: &serde_json::Value) -> Vec<Dependency> {
        Vec::new()
    }

    /// The version's readme text, if its metadata carries one.
    fn readme(&self, _metadata: &serde_json::Value) -> Option<String> {
        None
    }

    // Listings (ListPackages, ListPackageVersions).

    /// A ListPackages `package-prefix` in the form stored names have (PyPI: PEP 503), so it
    /// still prefixes every name it prefixed as written. Default: as given.
    fn api_name_prefix(&self, prefix: &str) -> String {
        prefix.to_string()
    }

    /// ListPackageVersions' `defaultDisplayVersion`, given the package's tags in the
    /// repository and its listed versions, most recently published first. Default: the
    /// most recently published.
    fn default_display_version(&self, _tags: &BTreeMap<String, String>, listed: &[&Version]) -> Option<Version> {
        listed.first().map(|v| (*v).clone())
    }

    // Versions completed into an alias (Maven snapshots).

    /// The alias version a completed `version` also becomes (Maven: build
    /// `1.0-20261206.121500-1` → `1.0-SNAPSHOT`). On completion the engine makes `version`
    /// Unlisted and creates or replaces the alias as Published with the same files, in one
    /// transaction. `None` (the default): a completed version is simply Published.
    fn completes_into(&self, _version: &Version) -> Option<Version> {
        None
    }

    /// Whether `version` may be copied into a repository from where it was found upstream:
    /// ingested from an external connection or retained from an upstream repository. `false`
    /// (Maven snapshots and their builds): connections are never asked for it, neither when
    /// resolving nor when checking a publish, and reads through a downstream repository are
    /// served from the repository holding it without keeping a copy, since an alias changes
    /// with every completed build and a retained copy would go stale.
    fn copied_from_upstreams(&self, _version: &Version) -> bool {
        true
    }

    // Inheritance (Maven parent POMs), for the package operations' view of a version.

    /// The version whose metadata `metadata` inherits from (Maven: the POM's `<parent>`).
    /// The engine looks it up among stored versions of the search order. Default: none.
    fn parent(&self, _metadata: &serde_json::Value) -> Option<(PackageId, Version)> {
        None
    }

    /// `metadata` with what it inherits from `parent` (already merged with its own parents).
    /// Default: unchanged.
    fn inherit(&self, metadata: &serde_json::Value, _parent: &serde_json::Value) -> serde_json::Value {
        metadata.clone()
    }
}

/// A license as a version declares it (DescribePackageVersion's `licenses`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct License {
    /// Its name or SPDX expression.
    pub name: String,
    /// Where its text is, when the version says.
    pub url: Option<String>,
}

/// What DescribePackageVersion reports beyond the stored record, read from the format's own
/// per-version metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionDetails {
    /// The name as the package's author writes it (npm: `@scope/name`; PyPI: the `Name` field).
    pub display_name: Option<String>,
    /// One-line description.
    pub summary: Option<String>,
    /// Home page URL.
    pub home_page: Option<String>,
    /// Source repository URL.
    pub source_code_repository: Option<String>,
    /// Declared licenses.
    pub licenses: Vec<License>,
}

/// One dependency a version declares (ListPackageVersionDependencies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependency {
    /// The dependency's namespace (npm scope without `@`).
    pub namespace: Option<String>,
    /// The dependency's name.
    pub package: String,
    /// The format's kind of dependency (npm: `regular`, `dev`, `peer`, `optional`).
    pub dependency_type: Option<String>,
    /// The range or specifier as written.
    pub version_requirement: Option<String>,
}
