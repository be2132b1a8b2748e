//! Queries in the simulator: members that answer every query they get, and
//! a log of what each asker heard, to measure delivery.

use swim_protocol::{Event, QueryHandle, QueryOptions, Time};

use super::Sim;

/// What happened to queries during a run.
#[derive(Debug, Default, Clone)]
pub struct QueryLog {
    /// Answer every query at once (with the member's index as the payload).
    pub answer: bool,
    /// Queries received: (member, origin, when).
    pub received: Vec<(usize, Vec<u8>, Time)>,
    /// Answers heard: (asker, query id, answering member's name, when).
    pub responses: Vec<(usize, u32, Vec<u8>, Time)>,
    /// Queries over: (asker, id, asked, answered, acked).
    pub done: Vec<(usize, u32, u32, u32, u32)>,
}

impl QueryLog {
    /// Records a query event of member `i`; returns the handle of a query
    /// to answer.
    pub(super) fn observe(&mut self, i: usize, now: Time, event: &Event<'_>) -> Option<QueryHandle> {
        match *event {
            Event::Query { handle, origin, .. } => {
                self.received.push((i, origin.to_vec(), now));
                self.answer.then_some(handle)
            }
            Event::QueryResponse { id, from, .. } => {
                self.responses.push((i, id, from.to_vec(), now));
                None
            }
            Event::QueryDone { id, asked, answered, acked } => {
                self.done.push((i, id, asked, answered, acked));
                None
            }
            _ => None,
        }
    }
}

impl Sim {
    /// Member `i` asks a query; its id.
    pub fn query(&mut self, i: usize, name: &[u8], payload: &[u8], options: &QueryOptions<'_>) -> Option<u32> {
        let id = self.with_node(i, |node, now| node.query(now, name, payload, options).ok()).flatten()?;
        self.settle(i);
        Some(id)
    }

    /// The query log (set `answer` to have members answer).
    pub fn queries(&mut self) -> &mut QueryLog {
        &mut self.queries
    }
}

impl Sim {
    /// How many queries have timed out and reported so far.
    pub fn queries_done(&self) -> usize {
        self.queries.done.len()
    }
}

impl Sim {
    /// Member `i` sets its application state `key` to `value`.
    pub fn set_state(&mut self, i: usize, key: &[u8], value: &[u8]) -> bool {
        let done = self.with_node(i, |node, now| node.set_state(now, key, value).is_ok()).unwrap_or(false);
        self.settle(i);
        done
    }
}

impl Sim {
    /// Member `i` deletes its application state `key`.
    pub fn delete_state(&mut self, i: usize, key: &[u8]) -> bool {
        let done = self.with_node(i, |node, now| node.delete_state(now, key).is_ok()).unwrap_or(false);
        self.settle(i);
        done
    }
}

impl Sim {
    /// Sets member `i`'s application state hook (see
    /// [`Node::set_app_state`](swim_protocol::Node::set_app_state)); a
    /// restarted member starts without one.
    pub fn set_app_state(&mut self, i: usize, hook: impl swim_protocol::AppState + 'static) -> bool {
        self.with_node(i, |node, _| node.set_app_state(hook)).is_some()
    }
}
