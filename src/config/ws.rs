//! Live connections' bounds.
use std::time::Duration;

/// Bounds on live connections (`WS_MAX_CONNECTIONS_PER_USER`, `WS_MAX_CONNECTIONS_PER_IP`,
/// `WS_MAX_CONNECTIONS`, `WS_MAX_SUBSCRIPTIONS_PER_CONNECTION`, `WS_PING_SECONDS`,
/// `WS_INIT_TIMEOUT_SECONDS`). Every message is also bounded by `BODY_LIMIT_BYTES`.
#[derive(Clone, Debug)]
pub struct WsLimits {
    pub connections_per_user: usize,
    /// Sockets not yet initialised or anonymous, per client address.
    pub connections_per_ip: usize,
    /// Sockets open at once on this server.
    pub connections: usize,
    pub subscriptions_per_connection: usize,
    /// How often each socket is pinged; one silent for a whole interval is closed.
    pub ping: Duration,
    /// A socket that has not sent `connection_init` by then is closed (4408).
    pub init_within: Duration,
    /// How many events a subscriber may fall behind before it is dropped. Fixed at 256.
    pub backlog: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            connections_per_user: 10,
            connections_per_ip: 20,
            connections: 10_000,
            subscriptions_per_connection: 20,
            ping: Duration::from_secs(30),
            init_within: Duration::from_secs(10),
            backlog: 256,
        }
    }
}
