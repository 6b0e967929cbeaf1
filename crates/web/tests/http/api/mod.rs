//! The HTTP API over real TCP, with cookie-jar clients, against the app bound to port 0.

mod account;
mod account_page;
mod bad_input;
mod cookies;
mod csrf;
mod expiry;
mod flows;
mod hardening;
mod headers;
mod hostile;
mod limits;
