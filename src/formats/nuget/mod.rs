//! The NuGet V3 format: the service index, flat container, registrations and search under
//! `<endpoint>` = `/<domain>-<owner>/nuget/<repo>/`, and the upstream adapter (`Nuget`)
//! reading a NuGet V3 feed from its service index. Design notes: docs/design/nuget.md.

mod details;
mod errors;
mod nuspec;
mod registration;
mod routes;
mod search;
mod upstream;
mod version;

pub use routes::routes;
pub use upstream::Nuget;
