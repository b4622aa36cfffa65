//! What one server has in flight to webhook endpoints: the sender's bounds (at most
//! `PER_ENDPOINT` at once to one endpoint, `IN_FLIGHT` in all). Kept in `AppState`.
use std::collections::HashMap;
use std::sync::Mutex;

/// Deliveries in flight on one server, in all.
pub const IN_FLIGHT: usize = 16;
/// Deliveries in flight to one endpoint from one server.
pub const PER_ENDPOINT: usize = 4;

/// What this server has in flight, per endpoint: the bounds of a pass.
#[derive(Default)]
pub struct InFlight {
    per_endpoint: Mutex<HashMap<String, usize>>,
}

impl InFlight {
    fn total(map: &HashMap<String, usize>) -> usize {
        map.values().sum()
    }

    /// Takes a slot for `endpoint`, if the bounds allow.
    pub(super) fn take(&self, endpoint: &str) -> bool {
        let mut map = self.per_endpoint.lock().unwrap_or_else(|p| p.into_inner());
        if Self::total(&map) >= IN_FLIGHT {
            return false;
        }
        let n = map.entry(endpoint.to_string()).or_default();
        if *n >= PER_ENDPOINT {
            return false;
        }
        *n += 1;
        true
    }

    pub(super) fn give_back(&self, endpoint: &str) {
        let mut map = self.per_endpoint.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(endpoint) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(endpoint);
            }
        }
    }
}
