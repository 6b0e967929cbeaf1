//! sesame's HTTP service: the axum app and the `sesame` binary.
//!
//! This is the only crate that wires everything together: it reads settings and
//! builds adapters through `sesame-factory`, hands them to the use cases of
//! `sesame-core`, and serves SPEC §4's API over cookies. It depends on those two
//! crates only (the ports come re-exported through `sesame-core`).

pub mod account;
pub mod audit;
pub mod client;
pub mod cookies;
pub mod csrf;
pub mod dto;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod healthcheck;
pub mod lifecycle;
pub mod metrics;
pub mod operator;
pub mod problem;
pub mod routed;
pub mod routes;
pub mod server;
pub mod snapshot;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod transfer;
pub mod upkeep;
pub mod words;

pub use startup::Application;
pub use state::AppState;
