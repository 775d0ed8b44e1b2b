//! The ClOrdIDs of the sessions' live orders, kept as opaque text: the
//! venue never reads meaning into a client's ids, as a real one does not.
//!
//! A new order's ClOrdID opens a chain under a fresh key (the exchange's
//! name for the order); an accepted replace adds its ClOrdID to the chain.
//! A cancel or replace is served when its OrigClOrdID is one of the last
//! [`VERSIONS_KEPT`] versions of a live order the venue accepted, and
//! refused as an unknown order otherwise. Reports name the order by its first ClOrdID (OrderID(37)) and
//! its version accepted last. When an order closes its ClOrdIDs stop
//! naming it, but its chain is kept among the last [`CLOSED_MEMORY`]
//! closed ones, for replies already queued about it (a cancel that crossed
//! the fill that closed the order); every chain of a session is forgotten
//! when the session goes away.
//!
//! Owning thread: the simulator's. Invariant (asserted): every text maps to
//! a live chain of the same session, and every chain's versions map back
//! to it.

use std::collections::{HashMap, VecDeque};

/// Closed orders whose chains a session keeps for late replies.
pub const CLOSED_MEMORY: usize = 4_096;

/// Accepted versions a live order answers to: the newest ones. A quoting
/// order replaced all day would otherwise keep every ClOrdID it ever had,
/// and the venue's memory would grow with the run.
pub const VERSIONS_KEPT: usize = 16;

/// One order's ClOrdIDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Chain {
    /// Its first ClOrdID: OrderID(37) of every report about it.
    pub root: Vec<u8>,
    /// The version the venue accepted last.
    pub accepted: Vec<u8>,
    /// The ClOrdID a replace in flight asks for.
    pub requested: Option<Vec<u8>>,
    /// Every version accepted, so that all are forgotten together.
    versions: Vec<Vec<u8>>,
}

#[derive(Default)]
struct SessionIds {
    by_text: HashMap<Vec<u8>, u64>,
    chains: HashMap<u64, Chain>,
    /// Chains of recently closed orders, oldest first.
    closed: VecDeque<(u64, Chain)>,
}

/// The ids of every participant (`slot` below), and the next key to hand out.
pub(super) struct Ids {
    sessions: Vec<SessionIds>,
    next_key: u64,
}

impl Ids {
    pub fn new(slot_count: usize) -> Ids {
        Ids {
            sessions: (0..slot_count).map(|_| SessionIds::default()).collect(),
            next_key: 1,
        }
    }

    fn ensure(&mut self, slot: usize) {
        if self.sessions.len() <= slot {
            self.sessions.resize_with(slot + 1, SessionIds::default);
        }
    }

    /// The key of a recently closed order one of whose versions is `text`.
    pub fn closed_key_of(&self, slot: usize, text: &[u8]) -> Option<u64> {
        let session = self.sessions.get(slot)?;
        session
            .closed
            .iter()
            .rev()
            .find(|(_, chain)| chain.versions.iter().any(|v| v == text))
            .map(|(key, _)| *key)
    }

    /// The key of a live or recently closed order whose OrderID (its first
    /// ClOrdID) is `root`.
    pub fn key_of_root(&self, slot: usize, root: &[u8]) -> Option<u64> {
        let session = self.sessions.get(slot)?;
        session
            .chains
            .iter()
            .find(|(_, chain)| chain.root == root)
            .map(|(key, _)| *key)
            .or_else(|| {
                session
                    .closed
                    .iter()
                    .rev()
                    .find(|(_, chain)| chain.root == root)
                    .map(|(key, _)| *key)
            })
    }

    /// The key of the live order one of whose accepted versions is `text`.
    pub fn key_of(&self, slot: usize, text: &[u8]) -> Option<u64> {
        self.sessions.get(slot)?.by_text.get(text).copied()
    }

    /// Live orders of the session in `slot`.
    #[cfg(test)]
    pub fn order_count(&self, slot: usize) -> usize {
        self.sessions
            .get(slot)
            .map_or(0, |session| session.chains.len())
    }

    /// The chain of a live or recently closed order.
    pub fn chain(&self, slot: usize, key: u64) -> Option<&Chain> {
        let session = self.sessions.get(slot)?;
        session.chains.get(&key).or_else(|| {
            session
                .closed
                .iter()
                .rev()
                .find(|(closed, _)| *closed == key)
                .map(|(_, chain)| chain)
        })
    }

    /// A new order's key. A ClOrdID that is already a live order's names
    /// that order (the exchange then refuses the duplicate); any other
    /// opens a chain under a fresh key.
    pub fn open(&mut self, slot: usize, cl_ord_id: &[u8]) -> u64 {
        if let Some(key) = self.key_of(slot, cl_ord_id) {
            return key;
        }
        let key = self.next_key;
        self.next_key += 1;
        self.ensure(slot);
        let session = &mut self.sessions[slot];
        session.by_text.insert(cl_ord_id.to_vec(), key);
        let chain = Chain {
            root: cl_ord_id.to_vec(),
            accepted: cl_ord_id.to_vec(),
            requested: None,
            versions: vec![cl_ord_id.to_vec()],
        };
        let previous = session.chains.insert(key, chain);
        assert!(previous.is_none(), "keys are never reused");
        key
    }

    /// A replace of `key` asking for the ClOrdID `requested` is in flight.
    pub fn request(&mut self, slot: usize, key: u64, requested: &[u8]) {
        if let Some(chain) = self.chain_mut(slot, key) {
            chain.requested = Some(requested.to_vec());
        }
    }

    /// The replace in flight was accepted: its ClOrdID is the order's now.
    /// Returns (the new version, the one it replaced).
    pub fn accept_replace(&mut self, slot: usize, key: u64) -> Option<(Vec<u8>, Vec<u8>)> {
        let chain = self.chain_mut(slot, key)?;
        let new = chain
            .requested
            .take()
            .unwrap_or_else(|| chain.accepted.clone());
        let previous = std::mem::replace(&mut chain.accepted, new.clone());
        let mut forgotten = None;
        if !chain.versions.contains(&new) {
            chain.versions.push(new.clone());
            if chain.versions.len() > VERSIONS_KEPT {
                forgotten = Some(chain.versions.remove(0));
            }
        }
        let by_text = &mut self.sessions[slot].by_text;
        if let Some(old) = forgotten {
            let removed = by_text.remove(&old);
            assert_eq!(removed, Some(key), "a version maps to its own order");
        }
        by_text.insert(new.clone(), key);
        Some((new, previous))
    }

    /// The replace or cancel in flight was refused: nothing is requested.
    pub fn clear_request(&mut self, slot: usize, key: u64) {
        if let Some(chain) = self.chain_mut(slot, key) {
            chain.requested = None;
        }
    }

    /// The order closed: its versions no longer name it; its chain is
    /// kept among the recently closed.
    pub fn close(&mut self, slot: usize, key: u64) {
        let Some(session) = self.sessions.get_mut(slot) else {
            return;
        };
        let Some(chain) = session.chains.remove(&key) else {
            return;
        };
        for version in &chain.versions {
            let removed = session.by_text.remove(version);
            assert_eq!(removed, Some(key), "a version maps to its own order");
        }
        if session.closed.len() == CLOSED_MEMORY {
            session.closed.pop_front();
        }
        session.closed.push_back((key, chain));
    }

    /// The session went away: every chain of its slot is forgotten.
    pub fn clear_session(&mut self, slot: usize) {
        if let Some(session) = self.sessions.get_mut(slot) {
            *session = SessionIds::default();
        }
    }

    fn chain_mut(&mut self, slot: usize, key: u64) -> Option<&mut Chain> {
        self.sessions.get_mut(slot)?.chains.get_mut(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A chain grows by accepted replaces, answers to every version, and is
    // forgotten whole when its order closes.
    #[test]
    fn chains_follow_accepted_versions() {
        let mut ids = Ids::new(2);
        let key = ids.open(0, b"A-1");
        assert_eq!(ids.open(0, b"A-1"), key, "a live ClOrdID names its order");
        assert_eq!(ids.key_of(1, b"A-1"), None, "sessions are apart");
        ids.request(0, key, b"A-2");
        assert_eq!(
            ids.key_of(0, b"A-2"),
            None,
            "a request is not a version yet"
        );
        let (new, previous) = ids.accept_replace(0, key).unwrap();
        assert_eq!(
            (new.as_slice(), previous.as_slice()),
            (&b"A-2"[..], &b"A-1"[..])
        );
        assert_eq!(ids.key_of(0, b"A-1"), Some(key));
        assert_eq!(ids.key_of(0, b"A-2"), Some(key));
        let chain = ids.chain(0, key).unwrap();
        assert_eq!(
            (chain.root.as_slice(), chain.requested.as_ref()),
            (&b"A-1"[..], None)
        );
        ids.close(0, key);
        assert_eq!(ids.key_of(0, b"A-1"), None);
        assert_eq!(ids.key_of(0, b"A-2"), None);
        assert_eq!(ids.order_count(0), 0);
        let closed = ids.chain(0, key).expect("kept for late replies");
        assert_eq!(closed.accepted, b"A-2");
        assert_ne!(
            ids.open(0, b"A-1"),
            key,
            "a closed order's id opens a new chain"
        );
    }

    // A refused replace leaves the accepted version where it was.
    #[test]
    fn refused_replace_keeps_the_accepted_version() {
        let mut ids = Ids::new(1);
        let key = ids.open(0, b"7");
        ids.request(0, key, b"7.r1");
        ids.clear_request(0, key);
        let chain = ids.chain(0, key).unwrap();
        assert_eq!(chain.accepted, b"7");
        assert_eq!(chain.requested, None);
        ids.clear_session(0);
        assert!(ids.chain(0, key).is_none());
    }

    // Only the last CLOSED_MEMORY closed chains are kept.
    #[test]
    fn closed_chains_are_bounded() {
        let mut ids = Ids::new(1);
        let first = ids.open(0, b"0");
        ids.close(0, first);
        for n in 1..=CLOSED_MEMORY as u64 {
            let key = ids.open(0, n.to_string().as_bytes());
            ids.close(0, key);
        }
        assert!(ids.chain(0, first).is_none(), "the oldest is gone");
        assert!(ids.chain(0, first + 1).is_some());
    }

    // An order replaced all day keeps only its newest versions: the
    // venue's memory does not grow with the run.
    #[test]
    fn a_long_replaced_order_keeps_only_its_newest_versions() {
        let mut ids = Ids::new(1);
        let key = ids.open(0, b"v0");
        for n in 1..=100u32 {
            ids.request(0, key, format!("v{n}").as_bytes());
            ids.accept_replace(0, key);
        }
        let session = &ids.sessions[0];
        assert_eq!(session.by_text.len(), VERSIONS_KEPT);
        assert_eq!(ids.chain(0, key).unwrap().versions.len(), VERSIONS_KEPT);
        assert_eq!(ids.key_of(0, b"v100"), Some(key));
        assert_eq!(ids.key_of(0, b"v85"), Some(key));
        assert_eq!(ids.key_of(0, b"v84"), None, "older versions are forgotten");
        assert_eq!(
            ids.chain(0, key).unwrap().root,
            b"v0",
            "OrderID stays the first ClOrdID"
        );
        ids.close(0, key);
        assert!(ids.sessions[0].by_text.is_empty());
    }
}
