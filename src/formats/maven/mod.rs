//! The Maven format: the Maven repository layout under `<endpoint>` (files, checksum side
//! files, artifact-level `maven-metadata.xml`) and the upstream adapter (`Maven`) reading a
//! Maven repository. Design notes: docs/design/maven.md.

mod coords;
mod deploy;
mod details;
mod errors;
mod inherit;
mod routes;
mod snapshot;
mod snapshot_serve;
mod upstream;
mod version;
mod xml;

pub use routes::routes;
pub use upstream::Maven;
