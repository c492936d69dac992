//! The PyPI format: the simple repository API (PEP 503/691) under `<endpoint>simple/`, file
//! downloads at `<endpoint>simple/<project>/<version>/<file>`, and the upstream adapter
//! (`Pypi`) reading a simple index.

mod details;
mod dist;
mod errors;
mod names;
mod routes;
mod simple;
mod upload;
mod upstream;

pub use routes::routes;
pub use upstream::Pypi;
