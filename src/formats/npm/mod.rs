//! The npm format: the registry protocol (`routes`), packument rendering and publish parsing
//! (`wire`), names and paths (`names`), the upstream adapter and prefetch rule (`upstream`),
//! and npm's error shape (`errors`).

mod body;
mod errors;
mod names;
mod routes;
mod scan;
mod tags;
mod upstream;
mod wire;

pub use routes::routes;
pub use upstream::Npm;
