//! The audit trail's adapter: each [`AuditRecord`] becomes one structured line
//! on the target `sesame::audit`, so that security events can be routed, kept
//! and filtered apart from the rest (`SESAME__LOG__FILTER=info,sesame::audit=info`).
//!
//! Each line names what happened (`event`), and as far as known the user id,
//! the public session id, the client IP and the request id — never a token, a
//! password or a hash. Refusals (failed logins, rate limits, CSRF) are
//! warnings; the rest are info. An operator's commands say `actor=operator`,
//! who ran them and how many sessions they ended.

use sesame_core::ports::{Actor, AuditEvent, AuditRecord, AuditSink};
use tracing::field::display;

/// The log target of audit events.
pub const TARGET: &str = "sesame::audit";

/// Writes audit records as log lines ([`TARGET`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogLines;

impl AuditSink for LogLines {
    fn record(&self, record: AuditRecord) {
        let AuditRecord { event, actor, user, session, sessions } = record;
        let (user_id, session_id) = (user.map(display), session.map(display));
        match actor {
            Actor::Operator { name } => {
                let (event, operator) = (event.name(), name.as_str());
                tracing::info!(target: TARGET, event, actor = "operator", operator, user_id, session_id, sessions, "audit");
            }
            Actor::Client { ip, request_id } => {
                let (ip, request_id) = (ip.map(display), request_id.as_deref());
                if let AuditEvent::RateLimited(limit) = event {
                    let event = event.name();
                    tracing::warn!(target: TARGET, event, limit, user_id, session_id, ip, request_id, "audit");
                } else if event.is_refusal() {
                    tracing::warn!(target: TARGET, event = event.name(), user_id, session_id, ip, request_id, "audit");
                } else {
                    tracing::info!(target: TARGET, event = event.name(), user_id, session_id, ip, request_id, "audit");
                }
            }
        }
    }
}
