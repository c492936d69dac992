//! Depot: a self-hosted package-registry appliance that speaks AWS CodeArtifact's management
//! API and each ecosystem's own wire protocol.
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | [`config`] | the configuration tree, defaults, file and `DEPOT_*` environment layers, validation |
//! | [`model`] | validated identifiers, formats, statuses, stored records |
//! | [`store`] | `MetaStore` (redb, in-memory) and `BlobStore` (sha256 directory) |
//! | [`engine`] | CodeArtifact semantics, once: upstream graph, retention, ingestion, metadata cache, publish rules, auth tokens; the `Format` trait |
//! | [`formats`] | one folder per wire protocol (npm now), each implementing `engine::Format` |
//! | [`api`] | the CodeArtifact REST operations, SigV4 verification, CodeArtifact's error shape |
//! | [`server`] | listener, middleware, router assembly, lifecycle |
//!
//! Dependencies point one way: `formats` and `api` → `engine` → `store` → `model`.
//! See `docs/ARCHITECTURE.md` for the request paths.

pub mod api;
pub mod config;
pub mod engine;
pub mod formats;
pub mod model;
pub mod server;
pub mod store;
