//! The bounds on live connections: operations running per connection
//! (`WS_MAX_SUBSCRIPTIONS_PER_CONNECTION`) and connections per person on this server
//! (`WS_MAX_CONNECTIONS_PER_USER`).
use std::sync::{Arc, Mutex};

/// The operations running on a connection, at most `cap` at once. A `subscribe` over the cap
/// is answered with an `error` message (`RATE_LIMITED`, `extensions.limit`) and not run.
pub(super) struct Running {
    cap: usize,
    pub(super) ids: std::collections::HashSet<String>,
}

impl Running {
    pub(super) fn new(cap: usize) -> Running {
        Running {
            cap,
            ids: Default::default(),
        }
    }

    /// Lets a client message through, or returns the refusal to send instead.
    pub(super) fn admit(&mut self, bytes: &[u8]) -> Result<(), String> {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return Ok(());
        };
        let id = msg["id"].as_str().unwrap_or_default().to_string();
        match msg["type"].as_str() {
            Some("subscribe") if !self.ids.contains(&id) && self.ids.len() >= self.cap => {
                let cap = self.cap;
                Err(serde_json::json!({
                    "id": id,
                    "type": "error",
                    "payload": [{
                        "message": format!("at most {cap} operations at once on one connection"),
                        "extensions": { "code": "RATE_LIMITED", "limit": cap },
                    }],
                })
                .to_string())
            }
            Some("subscribe") => {
                self.ids.insert(id);
                Ok(())
            }
            Some("complete") => {
                self.ids.remove(&id);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Notes an operation the server finished (`complete` or `error`).
    pub(super) fn finished(&mut self, text: &str) {
        if let Ok(msg) = serde_json::from_str::<serde_json::Value>(text)
            && matches!(msg["type"].as_str(), Some("complete" | "error"))
            && let Some(id) = msg["id"].as_str()
        {
            self.ids.remove(id);
        }
    }
}

/// Open connections per person on this server (`WS_MAX_CONNECTIONS_PER_USER`).
#[derive(Default)]
pub struct Connections {
    open: Mutex<std::collections::HashMap<String, usize>>,
}

impl Connections {
    /// A slot for one more connection of `person`, or none at the cap. The slot is given
    /// back when dropped (the connection ends).
    pub(super) fn take(self: &Arc<Self>, person: &str, cap: usize) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(person.to_string()).or_default();
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            connections: self.clone(),
            person: person.to_string(),
        })
    }
}

pub(super) struct Slot {
    connections: Arc<Connections>,
    person: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.person) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.person);
            }
        }
    }
}
