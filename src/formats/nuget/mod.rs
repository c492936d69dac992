//! NuGet V3 (`.nupkg` packages described by the `.nuspec` inside them).

// The Format impl, routes and push use these; until they land nothing outside the tests does.
#[allow(dead_code)]
pub(crate) mod nuspec;
#[allow(dead_code)]
pub(crate) mod version;
