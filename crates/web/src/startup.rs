//! Building and running the application: bind, serve, drain on shutdown.

use std::{future::Future, io, net::SocketAddr, sync::Arc};

use axum::{Router, http::HeaderName, middleware};
use sesame_core::{AuthService, PasswordHasher, SessionPolicy};
use sesame_factory::{Adapters, Settings, Upkeep};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{AppState, cookies::SessionCookie, metrics, routes, telemetry};

/// The longest a shutdown waits to write what waits for the stores.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The service, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    upkeep: Upkeep,
    upkeep_task: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Binds `settings.http.addr` (port 0 picks a free port) and builds the app
    /// over `adapters`; the stores' upkeep runs in the background until the
    /// service stops.
    pub async fn build(settings: &Settings, adapters: Adapters) -> io::Result<Self> {
        let listener = TcpListener::bind(settings.http.addr).await?;
        let address = listener.local_addr()?;
        metrics::install();
        let upkeep = adapters.upkeep.clone();
        let upkeep_task = tokio::spawn(adapters.upkeep.clone().run());
        Ok(Self { listener, address, router: app(settings, adapters), upkeep, upkeep_task })
    }

    /// The address the service listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` resolves, then stops accepting, drains the
    /// requests in flight, and writes what waits for the stores (bounded).
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        tracing::info!(address = %self.address, "listening");
        let served = axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await;
        self.upkeep_task.abort();
        if tokio::time::timeout(FLUSH_TIMEOUT, self.upkeep.flush()).await.is_err() {
            tracing::warn!("the stores did not take the last writes within {FLUSH_TIMEOUT:?}");
        }
        served
    }
}

/// The whole app over `adapters`: routes, request ids, tracing, metrics.
pub fn app(settings: &Settings, adapters: Adapters) -> Router {
    let session = &settings.session;
    let policy = SessionPolicy {
        idle_timeout: time::Duration::seconds(session.max_age_seconds.into()),
        absolute_timeout: time::Duration::seconds(session.absolute_timeout_seconds.into()),
        touch_interval: time::Duration::seconds(session.touch_interval_seconds.into()),
    };
    let hasher = PasswordHasher::new(settings.password.max_concurrent_hashes);
    let auth = AuthService::new(adapters.users, adapters.sessions, adapters.clock, hasher, policy);
    let state = AppState {
        auth: Arc::new(auth),
        cookie: Arc::new(SessionCookie::new(settings.cookie.name.clone(), settings.cookie.secure)),
        backends: adapters.backends,
    };
    let request_id = HeaderName::from_static(telemetry::REQUEST_ID_HEADER);
    routes::router(state).route_layer(middleware::from_fn(metrics::track)).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(telemetry::request_span)
                    .on_response(telemetry::access_line)
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::new(request_id)),
    )
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}
