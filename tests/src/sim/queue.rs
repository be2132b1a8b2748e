//! The simulator's time-ordered queue. Keys pack the time (microseconds,
//! 40 bits: about 12 days) and a slab index (24 bits) into one `u64`, so the
//! heap compares plain integers and stays small and cache-friendly; the
//! payloads live in a slab. Equal times pop in slab order, which is as
//! deterministic as the operations that filled the slab.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use swim_protocol::Time;

const INDEX_BITS: u32 = 24;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

#[derive(Debug)]
pub(super) struct Queue<T> {
    heap: BinaryHeap<Reverse<u64>>,
    slab: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T: Copy> Queue<T> {
    pub(super) fn new() -> Self {
        Queue { heap: BinaryHeap::new(), slab: Vec::new(), free: Vec::new() }
    }

    pub(super) fn push(&mut self, at: Time, item: T) {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slab.push(None);
                (self.slab.len() - 1) as u32
            }
        };
        assert!(u64::from(index) <= INDEX_MASK, "more than 16M pending simulator events");
        assert!(at.as_micros() < 1 << (64 - INDEX_BITS), "simulated time beyond 12 days");
        self.slab[index as usize] = Some(item);
        self.heap.push(Reverse(at.as_micros() << INDEX_BITS | u64::from(index)));
    }

    pub(super) fn peek_time(&self) -> Option<Time> {
        self.heap.peek().map(|Reverse(key)| Time::from_micros(key >> INDEX_BITS))
    }

    pub(super) fn pop(&mut self) -> Option<(Time, T)> {
        let Reverse(key) = self.heap.pop()?;
        let index = (key & INDEX_MASK) as usize;
        let item = self.slab[index].take()?;
        self.free.push(index as u32);
        Some((Time::from_micros(key >> INDEX_BITS), item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order() {
        let mut q = Queue::new();
        q.push(Time::from_micros(30), 'c');
        q.push(Time::from_micros(10), 'a');
        q.push(Time::from_micros(20), 'b');
        assert_eq!(q.peek_time(), Some(Time::from_micros(10)));
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, c)| c)).collect();
        assert_eq!(order, ['a', 'b', 'c']);
        q.push(Time::from_micros(5), 'd');
        assert_eq!(q.pop(), Some((Time::from_micros(5), 'd')));
    }
}
