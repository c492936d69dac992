//! The NuGet V3 format: the service index, flat container, registrations and search under
//! `<endpoint>` = `/<domain>-<owner>/nuget/<repo>/`, and the upstream adapter (`Nuget`)
//! reading a NuGet V3 feed from its service index (`.nupkg` packages described by the
//! `.nuspec` inside them). Design notes: docs/design/nuget.md.

mod details;
mod errors;
// Push uses more of these (ranges, limits); until it lands some items are unused.
#[allow(dead_code)]
pub(crate) mod nuspec;
mod push;
mod registration;
mod routes;
mod search;
mod upstream;
#[allow(dead_code)]
pub(crate) mod version;

pub use routes::routes;
pub use upstream::Nuget;
