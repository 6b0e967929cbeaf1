//! Connecting to a standalone Redis or a Redis Cluster, with automatic reconnection.

use std::time::Duration;

use redis::{
    Cmd, Pipeline, RedisFuture, RedisResult, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    cluster_routing::{RoutingInfo, SingleNodeRoutingInfo},
};
use secrecy::{ExposeSecret, SecretString};

/// How to reach Redis. The URLs may hold a password and are never printed.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://…` or `rediss://…` (TLS); for a Cluster, one or more node URLs.
    pub urls: Vec<SecretString>,
    /// Whether the URLs name the nodes of a Redis Cluster.
    pub cluster: bool,
    /// Prepended to every key, so that several deployments or tests share a server.
    pub key_prefix: String,
    /// How long connecting may take.
    pub connection_timeout: Duration,
    /// How long a command may wait for its answer.
    pub response_timeout: Duration,
    /// Sessions kept in a process-local cache that Redis keeps true
    /// ([`LocalCache`](crate::LocalCache)); 0 (the default) keeps none.
    /// Standalone servers only.
    pub local_cache_sessions: usize,
}

impl RedisSettings {
    /// Settings for one standalone server at `url`, for tests (the
    /// service's come from the settings catalog, through the factory): prefix
    /// `sesame-test:` (set one of the test's own), 2 s to connect, 2 s an
    /// answer, no local cache.
    #[cfg(any(test, feature = "testkit"))]
    pub fn for_test(url: SecretString) -> Self {
        Self {
            urls: vec![url],
            cluster: false,
            key_prefix: "sesame-test:".into(),
            connection_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
            local_cache_sessions: 0,
        }
    }
}

/// Why the adapter cannot start. Messages never contain a URL: it may hold a password.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// No URL was given, or one is not a Redis URL.
    #[error("REDIS_URL is not a valid Redis URL")]
    InvalidUrl,
    /// The server cannot be reached or refused the connection.
    #[error("cannot connect: {0}")]
    Connect(#[source] redis::RedisError),
    /// The local session cache was asked for over a Redis Cluster.
    #[error("SESAME__REDIS__LOCAL_CACHE_SESSIONS needs a standalone Redis; set it to 0 for a Cluster")]
    LocalCacheOnCluster,
}

impl RedisError {
    /// Whether trying again later may succeed: a server that does not answer yet,
    /// as opposed to a malformed URL.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Connect(_))
    }
}

/// A connection that reconnects by itself, to either kind of deployment.
#[derive(Clone)]
pub(crate) enum Connection {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    /// Refuses URLs that are not Redis URLs (or no URL at all).
    pub(crate) fn check_urls(settings: &RedisSettings) -> Result<(), RedisError> {
        let urls = &settings.urls;
        let redis = |url: &SecretString| {
            let url = url.expose_secret();
            url.starts_with("redis://") || url.starts_with("rediss://")
        };
        if urls.is_empty() || !urls.iter().all(redis) || (!settings.cluster && urls.len() != 1) {
            return Err(RedisError::InvalidUrl);
        }
        Ok(())
    }

    pub(crate) async fn open(settings: &RedisSettings) -> Result<Self, RedisError> {
        Self::check_urls(settings)?;
        let urls: Vec<&str> = settings.urls.iter().map(|url| url.expose_secret()).collect();
        if settings.cluster {
            let client = ClusterClient::builder(urls)
                .connection_timeout(settings.connection_timeout)
                .response_timeout(settings.response_timeout)
                .retries(3)
                .build()
                .map_err(|_| RedisError::InvalidUrl)?;
            Ok(Self::Cluster(client.get_async_connection().await.map_err(RedisError::Connect)?))
        } else {
            let [url] = urls.as_slice() else { return Err(RedisError::InvalidUrl) };
            let client = redis::Client::open(*url).map_err(|_| RedisError::InvalidUrl)?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(settings.connection_timeout))
                .set_response_timeout(Some(settings.response_timeout))
                // One attempt per reconnection: backing off from a server that is down
                // is the guard's breaker's job, in one place for every store.
                .set_number_of_retries(0);
            let manager = ConnectionManager::new_with_config(client, config).await.map_err(RedisError::Connect)?;
            Ok(Self::Standalone(manager))
        }
    }
}

/// A server to `SCAN`: the one server of a standalone deployment, or one
/// master of a Cluster by address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ScanNode {
    Standalone,
    Master { host: String, port: u16 },
}

impl Connection {
    /// The servers whose keys together are every key: the one server, or the
    /// Cluster's masters as `CLUSTER NODES` lists them, sorted by address so
    /// that an export's cursor names the same node from page to page.
    pub(crate) async fn scan_nodes(&mut self) -> RedisResult<Vec<ScanNode>> {
        let Self::Cluster(cluster) = self else { return Ok(vec![ScanNode::Standalone]) };
        let listing = cluster
            .route_command(
                redis::cmd("CLUSTER").arg("NODES").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await?;
        let listing: String = redis::from_redis_value(listing)?;
        let mut masters: Vec<ScanNode> = listing.lines().filter_map(master_address).collect();
        masters.sort();
        masters.dedup();
        Ok(masters)
    }

    /// One `SCAN` step on `node`: the next cursor (0 when the node is done) and
    /// the keys matching `pattern`.
    pub(crate) async fn scan(
        &mut self,
        node: &ScanNode,
        cursor: u64,
        pattern: &str,
        count: u32,
    ) -> RedisResult<(u64, Vec<String>)> {
        let mut command = redis::cmd("SCAN");
        command.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(count);
        match (self, node) {
            (Self::Cluster(cluster), ScanNode::Master { host, port }) => {
                let routing = SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port };
                Ok(redis::from_redis_value(cluster.route_command(command, RoutingInfo::SingleNode(routing)).await?)?)
            }
            (connection, _) => command.query_async(connection).await,
        }
    }
}

/// The address of a master that serves, from a line of `CLUSTER NODES`
/// (`<id> <ip:port@cport[,hostname]> <flags> …`).
fn master_address(line: &str) -> Option<ScanNode> {
    let mut fields = line.split_whitespace();
    let (_, address, flags) = (fields.next()?, fields.next()?, fields.next()?);
    let flags: Vec<&str> = flags.split(',').collect();
    if !flags.contains(&"master") || flags.iter().any(|flag| matches!(*flag, "fail" | "fail?" | "noaddr" | "handshake"))
    {
        return None;
    }
    let address = address.split(['@', ',']).next()?;
    let (host, port) = address.rsplit_once(':')?;
    Some(ScanNode::Master { host: host.to_owned(), port: port.parse().ok()? })
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Standalone(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Standalone(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Standalone(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_that_serve_are_read_from_cluster_nodes() {
        let listing = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,node-4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master,fail - 0 1426238318243 3 connected 10923-16383
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460
";
        let masters: Vec<ScanNode> = listing.lines().filter_map(master_address).collect();
        assert_eq!(
            masters,
            [
                ScanNode::Master { host: "127.0.0.1".into(), port: 30002 },
                ScanNode::Master { host: "127.0.0.1".into(), port: 30001 },
            ]
        );
    }
}
