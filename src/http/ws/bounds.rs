//! The bounds on live connections: the messages a connection may send and the operations
//! running on it (`WS_MAX_SUBSCRIPTIONS_PER_CONNECTION`), and connections per person, per
//! client address and in all on this server.
use std::sync::{Arc, Mutex};

/// Close code: a message that is not one of `graphql-transport-ws`'s.
pub const CLOSE_INVALID: u16 = 4400;
/// Close code: a `subscribe` whose id is already running.
pub const CLOSE_DUPLICATE: u16 = 4409;

/// What to do with a client message instead of passing it on.
pub(super) enum Refuse {
    /// Answer it with this message, and go on.
    Answer(String),
    /// Close the socket with this code and reason.
    Close(u16, String),
}

/// The operations running on a connection, at most `cap` at once. A `subscribe` over the cap
/// is answered with an `error` message (`RATE_LIMITED`, `extensions.limit`) and not run.
pub(super) struct Running {
    cap: usize,
    pub(super) ids: std::collections::HashSet<String>,
    /// `connection_init` has been sent: a `subscribe` before it closes with 4401.
    init_sent: bool,
}

impl Running {
    pub(super) fn new(cap: usize) -> Running {
        Running {
            cap,
            ids: Default::default(),
            init_sent: false,
        }
    }

    /// Lets a client message through, or says what to do instead. Only the messages of
    /// `graphql-transport-ws` pass: anything else (the legacy `start`, `stop`, not JSON)
    /// closes the socket with 4400, so no message type can start an operation uncounted.
    pub(super) fn admit(&mut self, bytes: &[u8]) -> Result<(), Refuse> {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return Err(Refuse::Close(CLOSE_INVALID, "invalid message".into()));
        };
        let id = msg["id"].as_str().unwrap_or_default().to_string();
        match msg["type"].as_str() {
            Some("connection_init") => {
                self.init_sent = true;
                Ok(())
            }
            Some("ping" | "pong") => Ok(()),
            // graphql-transport-ws: a subscribe before the connection is initialised is
            // 4401 Unauthorized (a subscribe queued right behind `connection_init` waits for
            // its answer).
            Some("subscribe") if !self.init_sent => Err(Refuse::Close(
                super::CLOSE_UNAUTHENTICATED,
                "Unauthorized".into(),
            )),
            Some("subscribe" | "complete") if msg["id"].as_str().is_none() => Err(Refuse::Close(
                CLOSE_INVALID,
                "invalid message: no id".into(),
            )),
            Some("subscribe") if self.ids.contains(&id) => Err(Refuse::Close(
                CLOSE_DUPLICATE,
                format!(
                    "subscriber for {} already exists",
                    id.chars().take(32).collect::<String>()
                ),
            )),
            Some("subscribe") if self.ids.len() >= self.cap => {
                let cap = self.cap;
                Err(Refuse::Answer(serde_json::json!({
                    "id": id,
                    "type": "error",
                    "payload": [{
                        "message": format!("at most {cap} operations at once on one connection"),
                        "extensions": { "code": "RATE_LIMITED", "limit": cap },
                    }],
                })
                .to_string()))
            }
            Some("subscribe") => {
                self.ids.insert(id);
                Ok(())
            }
            Some("complete") => {
                self.ids.remove(&id);
                Ok(())
            }
            _ => Err(Refuse::Close(CLOSE_INVALID, "invalid message type".into())),
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

/// Open connections on this server: per person (`WS_MAX_CONNECTIONS_PER_USER`), per client
/// address for sockets not yet initialised or anonymous (`WS_MAX_CONNECTIONS_PER_IP`), and in
/// all (`WS_MAX_CONNECTIONS`).
#[derive(Default)]
pub struct Connections {
    open: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    people: std::collections::HashMap<String, usize>,
    addresses: std::collections::HashMap<String, usize>,
    all: usize,
}

/// Which count a slot holds a place in.
#[derive(Clone, Copy)]
enum Count {
    Person,
    Address,
    All,
}

impl Counts {
    /// The count `which` keeps for `key`.
    fn of(&mut self, which: Count, key: &str) -> &mut usize {
        match which {
            Count::All => &mut self.all,
            Count::Person => self.people.entry(key.to_string()).or_default(),
            Count::Address => self.addresses.entry(key.to_string()).or_default(),
        }
    }

    /// Forgets a count that fell to zero.
    fn tidy(&mut self, which: Count, key: &str) {
        let map = match which {
            Count::All => return,
            Count::Person => &mut self.people,
            Count::Address => &mut self.addresses,
        };
        if map.get(key) == Some(&0) {
            map.remove(key);
        }
    }
}

impl Connections {
    fn take(self: &Arc<Self>, which: Count, key: &str, cap: usize) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.of(which, key);
        if *n >= cap {
            open.tidy(which, key);
            return None;
        }
        *n += 1;
        if let Count::All = which {
            crate::metrics::ws_connection(1.0);
        }
        Some(Slot {
            connections: self.clone(),
            which,
            key: key.to_string(),
        })
    }

    /// A place for one more socket on this server, or none at `WS_MAX_CONNECTIONS`.
    pub(super) fn take_any(self: &Arc<Self>, cap: usize) -> Option<Slot> {
        self.take(Count::All, "", cap)
    }

    /// A place for one more socket from `address` that is not (yet) anyone's.
    pub(super) fn take_address(self: &Arc<Self>, address: &str, cap: usize) -> Option<Slot> {
        self.take(Count::Address, address, cap)
    }

    /// A slot for one more connection of `person`, or none at the cap. The slot is given
    /// back when dropped (the connection ends).
    pub(super) fn take_person(self: &Arc<Self>, person: &str, cap: usize) -> Option<Slot> {
        self.take(Count::Person, person, cap)
    }
}

/// A place under one of the caps, given back when dropped.
pub(super) struct Slot {
    connections: Arc<Connections>,
    which: Count,
    key: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let n = open.of(self.which, &self.key);
        *n = n.saturating_sub(1);
        open.tidy(self.which, &self.key);
        if let Count::All = self.which {
            crate::metrics::ws_connection(-1.0);
        }
    }
}
