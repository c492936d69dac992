//! NuGet V3 through Depot.

mod fake_upstream;
mod push;
