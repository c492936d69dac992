//! The npm format: the registry protocol (`routes`), packument rendering and publish parsing
//! (`wire`), names and paths (`names`), the upstream adapter and prefetch rule (`upstream`),
//! what the management API reports about a version (`details`), npm's error shape (`errors`), request bodies and their per-route limits (`body`), the
//! streaming publish-body scanner (`scan`), and dist-tag names (`tags`).

mod body;
mod details;
mod errors;
mod names;
mod routes;
mod scan;
mod tags;
mod upstream;
mod wire;

pub use routes::routes;
pub use upstream::Npm;
