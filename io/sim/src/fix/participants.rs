//! The venue's participants: each SenderCompID that logs on is one, and a
//! session that logs on again with the same SenderCompID is the same one
//! (its resting orders, when the venue keeps them across a disconnect,
//! are its again). Two sessions at once with one SenderCompID are two
//! participants ("GENESIS", "GENESIS#2"), as two accounts would be.
//!
//! Participant `n` is the exchange's owner `OWNER_SESSION + n`.
//!
//! Owning thread: the simulator's. Invariants: a participant has at most
//! one connection; at most [`PARTICIPANTS_MAX`] exist.

use crate::exchange::OWNER_SESSION;

/// Participants the venue serves over its life.
pub const PARTICIPANTS_MAX: usize = 64;

pub(super) struct Participant {
    /// The SenderCompID its sessions log on with.
    pub comp_id: String,
    /// 1 for the first participant with this CompID, 2 for the next.
    pub instance: u32,
    /// The connection slot its session holds, while it is connected.
    pub slot: Option<usize>,
}

impl Participant {
    /// How summaries and operator commands name it.
    pub fn name(&self) -> String {
        if self.instance == 1 {
            self.comp_id.clone()
        } else {
            format!("{}#{}", self.comp_id, self.instance)
        }
    }
}

#[derive(Default)]
pub(super) struct Participants {
    list: Vec<Participant>,
}

impl Participants {
    /// The participant a session logging on as `comp_id` is: the first
    /// one with that CompID and no session, else a new one. `None` past
    /// [`PARTICIPANTS_MAX`].
    pub fn attach(&mut self, comp_id: &str, slot: usize) -> Option<usize> {
        let index = match self
            .list
            .iter()
            .position(|p| p.comp_id == comp_id && p.slot.is_none())
        {
            Some(index) => index,
            None => self.create(comp_id)?,
        };
        debug_assert!(self.list[index].slot.is_none(), "one connection each");
        self.list[index].slot = Some(slot);
        Some(index)
    }

    fn create(&mut self, comp_id: &str) -> Option<usize> {
        if self.list.len() == PARTICIPANTS_MAX {
            return None;
        }
        let instance = self.list.iter().filter(|p| p.comp_id == comp_id).count() as u32 + 1;
        self.list.push(Participant {
            comp_id: comp_id.to_owned(),
            instance,
            slot: None,
        });
        Some(self.list.len() - 1)
    }

    /// The participant an operator names ("GENESIS", "GENESIS#2"), made if new.
    pub fn by_name(&mut self, name: &str) -> Option<usize> {
        if let Some(index) = self.list.iter().position(|p| p.name() == name) {
            return Some(index);
        }
        let comp_id = name.split('#').next().unwrap_or(name);
        self.create(comp_id)
    }

    pub fn detach(&mut self, index: usize) {
        if let Some(participant) = self.list.get_mut(index) {
            participant.slot = None;
        }
    }

    pub fn get(&self, index: usize) -> Option<&Participant> {
        self.list.get(index)
    }

    /// The participant an exchange owner is.
    pub fn index_of_owner(owner: u32) -> usize {
        owner.saturating_sub(OWNER_SESSION) as usize
    }

    pub fn owner(index: usize) -> u32 {
        OWNER_SESSION + index as u32
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The same CompID coming back is the same participant; two at once are two.
    #[test]
    fn comp_ids_name_participants() {
        let mut participants = Participants::default();
        let first = participants.attach("GENESIS", 0).unwrap();
        let second = participants.attach("GENESIS", 1).unwrap();
        assert_ne!(first, second);
        assert_eq!(participants.get(second).unwrap().name(), "GENESIS#2");
        participants.detach(first);
        assert_eq!(participants.attach("GENESIS", 2), Some(first));
        assert_eq!(participants.by_name("GENESIS#2"), Some(second));
        let other = participants.by_name("OTHER").unwrap();
        assert_eq!(participants.get(other).unwrap().slot, None);
        assert_eq!(participants.len(), 3);
    }
}
