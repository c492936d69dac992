//! Integration tests: the real `depot` binary, the real `aws` and `npm` clients, and a fake
//! npm upstream on loopback. One test binary so the suite builds and links once.

mod support;

mod api;
mod events;
mod graph;
mod ingest_tee;
mod ingestion;
mod maven;
mod npm_install;
mod nuget;
mod package_copy;
mod package_dispose;
mod package_listing;
mod package_ops;
mod package_origin;
mod package_status;
mod publish;
mod publish_limits;
mod publish_stream;
mod pypi;
mod transport;
mod upstream;
mod walkthrough;
mod warm_answers;
mod wire;
