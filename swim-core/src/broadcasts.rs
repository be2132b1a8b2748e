//! The pool of user broadcasts being disseminated: this node's own and those
//! received from others, each held until it has been sent often enough or
//! is evicted for a newer one. Slot buffers keep their capacity when reused.

#[derive(Debug, Default)]
struct Slot {
    used: bool,
    origin: Vec<u8>,
    seq: u32,
    payload: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Broadcasts {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Broadcasts {
    pub(crate) fn new(capacity: usize) -> Self {
        let slots = (0..capacity).map(|_| Slot::default()).collect();
        let free = (0..crate::convert::to_u32(capacity)).rev().collect();
        Broadcasts { slots, free }
    }

    /// Stores a broadcast; `None` when the pool is full.
    pub(crate) fn store(&mut self, origin: &[u8], seq: u32, payload: &[u8]) -> Option<u32> {
        let index = self.free.pop()?;
        let slot = self.slots.get_mut(index as usize)?;
        slot.used = true;
        slot.origin.clear();
        slot.origin.extend_from_slice(origin);
        slot.seq = seq;
        slot.payload.clear();
        slot.payload.extend_from_slice(payload);
        Some(index)
    }

    /// `(origin, seq, payload)` of a stored broadcast.
    pub(crate) fn get(&self, index: u32) -> Option<(&[u8], u32, &[u8])> {
        self.slots.get(index as usize).filter(|s| s.used).map(|s| (&s.origin[..], s.seq, &s.payload[..]))
    }

    pub(crate) fn release(&mut self, index: u32) {
        if let Some(slot) = self.slots.get_mut(index as usize) {
            if slot.used {
                slot.used = false;
                self.free.push(index);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn in_use(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_get_release_and_full() {
        let mut pool = Broadcasts::new(2);
        let a = pool.store(b"o", 1, b"one").unwrap();
        let b = pool.store(b"o", 2, b"two").unwrap();
        assert_eq!(pool.store(b"o", 3, b"three"), None);
        assert_eq!(pool.get(b), Some((&b"o"[..], 2, &b"two"[..])));
        pool.release(a);
        pool.release(a);
        assert_eq!(pool.in_use(), 1);
        assert_eq!(pool.get(a), None);
        let c = pool.store(b"p", 3, b"three").unwrap();
        assert_eq!(c, a);
        assert_eq!(pool.get(c), Some((&b"p"[..], 3, &b"three"[..])));
    }
}
