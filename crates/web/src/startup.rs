//! Building and running the application: bind first, connect the stores while
//! already answering `/healthz`, serve, and on shutdown drain, then stop.
//!
//! The listener is bound before the stores connect, so an orchestrator sees a
//! live process at once: `/healthz` answers 200 and `/readyz` 503 until the
//! stores are built. On the shutdown signal `/readyz` turns 503 and responses
//! carry `Connection: close` for the drain delay (so load balancers and
//! keep-alive clients move away), then the listener closes and in-flight
//! requests finish — all within the drain delay plus [`GRACE`] — and what waits
//! for the stores is written (within [`FLUSH_TIMEOUT`]).

use std::{
    convert::Infallible,
    future::{Future, IntoFuture},
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    extract::Request,
    response::{IntoResponse, Response},
};
use sesame_core::{AuthService, Limits, PasswordHasher, RateLimits, SessionPolicy, ports::AuditSink};
use sesame_factory::{Adapters, Environment, FactoryError, RateLimitSettings, Settings, Upkeep};
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder, ServiceExt as _, util::Oneshot};

use crate::{
    AppState,
    account::Branding,
    audit,
    client::Proxies,
    cookies::SessionCookie,
    csrf::OriginPolicy,
    envelope::Envelope,
    lifecycle::Lifecycle,
    metrics,
    routed::Routed,
    routes,
    server::{self, ConnectionLimits},
};

/// The longest in-flight requests get to finish once the drain delay is over.
pub const GRACE: Duration = Duration::from_secs(10);

/// The longest a shutdown waits to write what waits for the stores.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Adapters being built.
type Building = Pin<Box<dyn Future<Output = Result<Adapters, FactoryError>> + Send>>;

/// Why the service stopped other than by a shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The listener failed.
    #[error("serving failed: {0}")]
    Io(#[from] io::Error),
    /// The stores could not be built.
    #[error(transparent)]
    Stores(#[from] FactoryError),
}

/// What the app is built from, taken from the settings at bind time.
#[derive(Clone)]
struct AppConfig {
    policy: SessionPolicy,
    max_concurrent_hashes: usize,
    max_waiting_hashes: usize,
    cookie: Arc<SessionCookie>,
    drain: Duration,
    proxies: Arc<Proxies>,
    origins: Arc<OriginPolicy>,
    rate_limits: RateLimits,
    connections: ConnectionLimits,
    /// Every response carries HSTS (production, behind TLS).
    hsts: bool,
    /// `/metrics` is served on the main listener (no address of its own).
    public_metrics: bool,
    /// What the account page says it belongs to.
    branding: Arc<Branding>,
    /// Where security events are recorded: log lines.
    audit: Arc<dyn AuditSink>,
}

impl AppConfig {
    fn new(settings: &Settings) -> Self {
        let proxies = Arc::new(Proxies::new(settings.http.trusted_proxies.clone()));
        let audit: Arc<dyn AuditSink> = Arc::new(audit::LogLines);
        let origins = OriginPolicy::new(
            settings.http.allowed_origins.clone(),
            Arc::clone(&proxies),
            settings.cookie.secure,
            Arc::clone(&audit),
        );
        Self {
            policy: session_policy(settings),
            max_concurrent_hashes: settings.password.max_concurrent_hashes,
            max_waiting_hashes: settings.password.max_waiting_hashes,
            cookie: Arc::new(session_cookie(settings)),
            drain: Duration::from_secs(settings.http.drain_seconds.into()),
            proxies,
            origins: Arc::new(origins),
            rate_limits: rate_limits(&settings.rate_limit),
            hsts: settings.environment == Environment::Production && settings.http.tls_in_front,
            public_metrics: settings.http.metrics_addr.is_none(),
            branding: Arc::new(Branding::from_settings(&settings.account)),
            audit,
            connections: ConnectionLimits {
                header_timeout: Duration::from_secs(settings.http.header_timeout_seconds.into()),
                body_timeout: Duration::from_secs(settings.http.body_timeout_seconds.into()),
                max_connections: within_descriptor_limit(settings.http.max_connections),
            },
        }
    }
}

/// Descriptors kept for the stores' connections, logs and the like.
const SPARE_DESCRIPTORS: usize = 128;

/// `wanted`, lowered (and logged) so that connections cannot exhaust the
/// process's descriptors (its soft `RLIMIT_NOFILE`, read from
/// `/proc/self/limits` where there is one).
fn within_descriptor_limit(wanted: usize) -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits").ok().and_then(|limits| {
        let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
        line.split_whitespace().nth(3)?.parse::<usize>().ok()
    });
    match soft {
        Some(soft) if wanted + SPARE_DESCRIPTORS > soft => {
            let allowed = soft.saturating_sub(SPARE_DESCRIPTORS).max(1);
            tracing::info!(
                wanted,
                allowed,
                descriptors = soft,
                "SESAME__HTTP__MAX_CONNECTIONS lowered to fit the descriptor limit"
            );
            allowed
        }
        _ => wanted,
    }
}

fn session_cookie(settings: &Settings) -> SessionCookie {
    let cookie = &settings.cookie;
    let session = SessionCookie::new(cookie.name.clone(), cookie.secure)
        .with_previous_names(cookie.previous_names.clone())
        .accepting_legacy_tokens(cookie.legacy_tokens)
        .clearing_site_data(settings.http.clear_site_data);
    if cookie.persistent {
        session.persistent(time::Duration::seconds(settings.session.absolute_timeout_seconds.into()))
    } else {
        session
    }
}

/// The service, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    /// `/metrics` on an address of its own, when configured.
    metrics: Option<(TcpListener, SocketAddr)>,
    config: AppConfig,
    lifecycle: Arc<Lifecycle>,
    /// The app, once its stores are built.
    ready: Arc<OnceLock<Router>>,
    /// The stores: being built, or built (their upkeep, to run while serving).
    stores: Stores,
}

enum Stores {
    Building(Building),
    Built(Upkeep),
}

impl Application {
    /// Binds `settings.http.addr` (port 0 picks a free port); the app is served
    /// over the adapters `building` yields once it has, and meanwhile answers as
    /// a starting service.
    pub async fn bind(
        settings: &Settings,
        building: impl Future<Output = Result<Adapters, FactoryError>> + Send + 'static,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(settings.http.addr).await?;
        let address = listener.local_addr()?;
        let metrics = match settings.http.metrics_addr {
            Some(addr) => {
                let listener = TcpListener::bind(addr).await?;
                let address = listener.local_addr()?;
                Some((listener, address))
            }
            None => None,
        };
        metrics::install();
        Ok(Self {
            listener,
            address,
            metrics,
            config: AppConfig::new(settings),
            lifecycle: Arc::default(),
            ready: Arc::default(),
            stores: Stores::Building(Box::pin(building)),
        })
    }

    /// Binds and builds the app over adapters already built: it serves them
    /// from the first request.
    pub async fn build(settings: &Settings, adapters: Adapters) -> io::Result<Self> {
        let mut app = Self::bind(settings, std::future::pending()).await?;
        app.stores = Stores::Built(install(&app.ready, &app.config, &app.lifecycle, adapters));
        Ok(app)
    }

    /// The address the service listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The address `/metrics` is served on when it has one of its own.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, address)| *address)
    }

    /// Serves until `shutdown` resolves, then drains and stops (see the module
    /// docs). Fails when the stores cannot be built or the listener fails.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), RunError> {
        let Self { listener, address, metrics, config, lifecycle, ready, stores } = self;
        let metrics_task = metrics.map(|(listener, address)| {
            tracing::info!(address = %address, "serving /metrics");
            tokio::spawn(axum::serve(listener, routes::metrics_only()).into_future())
        });
        let (failed, on_failure) = tokio::sync::oneshot::channel::<()>();
        let graceful = {
            let lifecycle = Arc::clone(&lifecycle);
            let drain = config.drain;
            async move {
                let signalled = tokio::select! {
                    () = shutdown => true,
                    _ = on_failure => false,
                };
                lifecycle.begin_draining();
                if signalled {
                    tokio::time::sleep(drain).await;
                }
            }
        };
        let envelope = Arc::new(Envelope {
            lifecycle: Arc::clone(&lifecycle),
            hsts: config.hsts,
            branding: Arc::clone(&config.branding),
        });
        let starting = routes::starting(Arc::clone(&lifecycle), config.public_metrics);
        // Outside the routers, so that no router clones these per route and request.
        let service = ServiceBuilder::new()
            .layer_fn(|inner| envelope.around(inner))
            .option_layer(config.origins.cors())
            .service(Dispatch { ready: Arc::clone(&ready), starting })
            .map_response(IntoResponse::into_response);
        tracing::info!(address = %address, "listening");
        let mut server = tokio::spawn(server::serve(listener, service, config.connections, graceful));

        let upkeep = match stores {
            Stores::Built(upkeep) => upkeep,
            Stores::Building(building) => {
                let built = tokio::select! {
                    built = building => built,
                    served = &mut server => return Ok(served.map_err(io::Error::other)??),
                };
                match built {
                    Ok(adapters) => install(&ready, &config, &lifecycle, adapters),
                    Err(err) => {
                        let _ = failed.send(());
                        let _ = server.await;
                        return Err(err.into());
                    }
                }
            }
        };
        let upkeep_task = tokio::spawn(crate::upkeep::run(upkeep.clone()));

        let bound = config.drain + GRACE;
        let served = tokio::select! {
            served = &mut server => served,
            () = async { lifecycle.draining().await; tokio::time::sleep(bound).await } => {
                tracing::warn!("requests still in flight {GRACE:?} after the drain; stopping anyway");
                server.abort();
                Ok(Ok(()))
            }
        };
        upkeep_task.abort();
        if let Some(task) = metrics_task {
            task.abort();
        }
        if tokio::time::timeout(FLUSH_TIMEOUT, upkeep.finish()).await.is_err() {
            tracing::warn!("the stores did not take the last writes within {FLUSH_TIMEOUT:?}");
        }
        Ok(served.map_err(io::Error::other)??)
    }
}

/// The rate limits the settings give.
fn rate_limits(settings: &RateLimitSettings) -> RateLimits {
    RateLimits {
        login_per_ip: settings.login_per_ip,
        login_per_email: settings.login_per_email,
        register_per_ip: settings.register_per_ip,
        invalid_cookie_per_ip: settings.invalid_cookie_per_ip,
    }
}

/// The session lifetimes the settings give.
fn session_policy(settings: &Settings) -> SessionPolicy {
    let session = &settings.session;
    SessionPolicy {
        idle_timeout: time::Duration::seconds(session.max_age_seconds.into()),
        absolute_timeout: time::Duration::seconds(session.absolute_timeout_seconds.into()),
        touch_interval: time::Duration::seconds(session.touch_interval_seconds.into()),
    }
}

/// The use cases over `adapters` with the settings' session policy and
/// hashing limits, as the service runs them: for the operator commands.
pub fn use_cases(settings: &Settings, adapters: &Adapters) -> AuthService {
    let password = &settings.password;
    auth_service(session_policy(settings), password.max_concurrent_hashes, password.max_waiting_hashes, adapters)
}

/// The application over `adapters` with the settings' limits, recording in
/// the audit log, as the service runs it: for the operator commands.
pub fn application(settings: &Settings, adapters: &Adapters) -> sesame_core::Application {
    let audit: Arc<dyn AuditSink> = Arc::new(audit::LogLines);
    let limits = Limits::new(Arc::clone(&adapters.limiter), rate_limits(&settings.rate_limit), Arc::clone(&audit));
    sesame_core::Application::new(Arc::new(use_cases(settings, adapters)), limits, audit)
}

/// The use cases over `adapters`: the one place they are put together, for
/// the service and the operator commands alike.
fn auth_service(policy: SessionPolicy, concurrent: usize, waiting: usize, adapters: &Adapters) -> AuthService {
    let (users, sessions, clock) =
        (Arc::clone(&adapters.users), Arc::clone(&adapters.sessions), Arc::clone(&adapters.clock));
    AuthService::new(users, sessions, clock, PasswordHasher::new(concurrent, waiting), policy)
}

/// Serves the app over `adapters` from now on; their upkeep.
fn install(ready: &OnceLock<Router>, config: &AppConfig, lifecycle: &Arc<Lifecycle>, adapters: Adapters) -> Upkeep {
    let upkeep = adapters.upkeep.clone();
    // The start-up probe ran before the metrics recorder was installed.
    adapters.health.publish();
    tracing::info!(users = adapters.backends.0, sessions = adapters.backends.1, "stores ready; serving");
    let _ = ready.set(app(config, adapters, Arc::clone(lifecycle)));
    upkeep
}

/// Answers with the app once it is set, with `starting` until then.
#[derive(Clone)]
struct Dispatch {
    ready: Arc<OnceLock<Router>>,
    starting: Router,
}

impl Service<Request> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = Oneshot<Router, Request>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.ready.get().unwrap_or(&self.starting).clone().oneshot(request)
    }
}

/// The app's routes over `adapters`, each behind [`Routed`] (Origin check,
/// renamed cookies, metrics).
fn app(config: &AppConfig, adapters: Adapters, lifecycle: Arc<Lifecycle>) -> Router {
    let auth =
        Arc::new(auth_service(config.policy, config.max_concurrent_hashes, config.max_waiting_hashes, &adapters));
    tokio::spawn(report_hashing_queue(Arc::downgrade(&auth)));
    let limits = Limits::new(adapters.limiter, config.rate_limits, Arc::clone(&config.audit));
    let app = Arc::new(sesame_core::Application::new(Arc::clone(&auth), limits, Arc::clone(&config.audit)));
    let state = AppState {
        app,
        auth,
        cookie: Arc::clone(&config.cookie),
        health: adapters.health,
        lifecycle,
        proxies: Arc::clone(&config.proxies),
        branding: Arc::clone(&config.branding),
    };
    let routed = Routed {
        origins: Arc::clone(&config.origins),
        cookie: Arc::clone(&config.cookie),
        branding: Arc::clone(&config.branding),
    };
    routes::router(state, config.public_metrics).route_layer(routed)
}

/// Sets `sesame_password_hashes_waiting` every second, for as long as the
/// app lives.
async fn report_hashing_queue(auth: std::sync::Weak<AuthService>) {
    while let Some(auth) = auth.upgrade() {
        let waiting = auth.hasher().stats().waiting;
        drop(auth);
        ::metrics::gauge!("sesame_password_hashes_waiting").set(waiting as f64);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
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
    tracing::info!("shutdown signal received");
}
