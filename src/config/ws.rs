//! Live connections' bounds.
use std::time::Duration;

/// Bounds on live connections (`WS_MAX_CONNECTIONS_PER_USER`,
/// `WS_MAX_SUBSCRIPTIONS_PER_CONNECTION`, `WS_PING_SECONDS`).
#[derive(Clone, Debug)]
pub struct WsLimits {
    pub connections_per_user: usize,
    pub subscriptions_per_connection: usize,
    /// How often each socket is pinged; one silent for a whole interval is closed.
    pub ping: Duration,
    /// A socket that has not sent `connection_init` by then is closed (4408). Fixed at 10 s.
    pub init_within: Duration,
    /// How many events a subscriber may fall behind before it is dropped. Fixed at 256.
    pub backlog: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            connections_per_user: 10,
            subscriptions_per_connection: 20,
            ping: Duration::from_secs(30),
            init_within: Duration::from_secs(10),
            backlog: 256,
        }
    }
}
