//! web's HTTP tests, in one binary: the service over real TCP with
//! cookie-jar clients — the API and the account page (`api`, which the
//! second pass of `cargo xtask test` runs again on real stores), the audit
//! trail, the binary's lifecycle, the local cache, store outages and
//! reconnection, round trips per request, and what the stores hold — with
//! one shared support module (`support`: the app on port 0, its clients
//! and its stores).

mod api;
mod audit;
mod lifecycle;
mod local_cache;
mod outages;
mod reconnect;
mod round_trips;
mod stores;
mod support;
