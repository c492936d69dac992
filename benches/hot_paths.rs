//! Placeholder replaced by the hot-path benchmark.
fn main() {}
