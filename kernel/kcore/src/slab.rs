//! A slab of generation-checked slots.
//!
//! `insert` returns a [`SlotRef`] (index + generation). Removing a value
//! bumps the slot's generation, so every outstanding reference to it becomes
//! stale: `get`/`remove` with it return `None` even after the slot is reused.

use alloc::vec::Vec;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotRef {
    pub index: u32,
    pub generation: u32,
}

impl SlotRef {
    /// Packs into one word (`generation << 32 | index`), e.g. for user space.
    pub const fn to_u64(self) -> u64 {
        (self.generation as u64) << 32 | self.index as u64
    }
    pub const fn from_u64(v: u64) -> Self {
        SlotRef { index: v as u32, generation: (v >> 32) as u32 }
    }
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
    limit: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabFull;

impl<T> Slab<T> {
    /// A slab that holds at most `limit` live values.
    pub const fn with_limit(limit: usize) -> Self {
        Slab { slots: Vec::new(), free: Vec::new(), len: 0, limit }
    }

    pub fn insert(&mut self, value: T) -> Result<SlotRef, SlabFull> {
        if self.len >= self.limit {
            return Err(SlabFull);
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot { generation: 1, value: None });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.value = Some(value);
        self.len += 1;
        Ok(SlotRef { index, generation: slot.generation })
    }

    pub fn get(&self, r: SlotRef) -> Option<&T> {
        self.slots
            .get(r.index as usize)
            .filter(|s| s.generation == r.generation)
            .and_then(|s| s.value.as_ref())
    }

    pub fn get_mut(&mut self, r: SlotRef) -> Option<&mut T> {
        self.slots
            .get_mut(r.index as usize)
            .filter(|s| s.generation == r.generation)
            .and_then(|s| s.value.as_mut())
    }

    pub fn remove(&mut self, r: SlotRef) -> Option<T> {
        let slot = self.slots.get_mut(r.index as usize).filter(|s| s.generation == r.generation)?;
        let v = slot.value.take()?;
        // Generation 0 is never handed out, so a zeroed ref is always stale.
        slot.generation = slot.generation.wrapping_add(1).max(1);
        self.free.push(r.index);
        self.len -= 1;
        Some(v)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (SlotRef, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.value.as_ref().map(|v| (SlotRef { index: i as u32, generation: s.generation }, v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_refs_are_rejected_after_reuse() {
        let mut s = Slab::with_limit(8);
        let a = s.insert("a").unwrap();
        assert_eq!(s.get(a), Some(&"a"));
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b").unwrap();
        assert_eq!(b.index, a.index, "slot is reused");
        assert_ne!(b.generation, a.generation);
        assert_eq!(s.get(a), None);
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.get(SlotRef { index: 0, generation: 0 }), None);
        assert_eq!(s.get(SlotRef { index: 99, generation: 1 }), None);
    }

    #[test]
    fn limit_is_enforced_and_len_tracks() {
        let mut s = Slab::with_limit(2);
        let a = s.insert(1).unwrap();
        s.insert(2).unwrap();
        assert_eq!(s.insert(3), Err(SlabFull));
        assert_eq!(s.len(), 2);
        s.remove(a);
        assert_eq!(s.len(), 1);
        assert!(s.insert(3).is_ok());
        assert_eq!(s.iter().count(), 2);
    }

    #[test]
    fn refs_pack_into_a_word() {
        let r = SlotRef { index: 7, generation: 0xdead };
        assert_eq!(SlotRef::from_u64(r.to_u64()), r);
    }
}
