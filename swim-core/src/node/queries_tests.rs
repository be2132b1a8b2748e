//! Queries between nodes run in lockstep.

use core::time::Duration;
use std::net::SocketAddr;

use super::tests::{addr, name};
use super::*;
use crate::error::CommandError;
use crate::events::Event;
use swim_wire::tags::encode_tags;
use swim_wire::{Message, QueryResponse};

/// Nodes in lockstep: every datagram is delivered at once.
pub(super) struct Net {
    pub(super) nodes: Vec<Node>,
    pub(super) addrs: Vec<SocketAddr>,
    pub(super) now: Time,
}

fn tagged(role: &str) -> Vec<u8> {
    let mut meta = Vec::new();
    encode_tags([("role", role)], &mut meta).unwrap();
    meta
}

impl Net {
    /// `roles.len()` nodes `n0..`, each tagged `role=<role>`, all joined
    /// through `n0`.
    pub(super) fn new(roles: &[&str]) -> Net {
        let config = Config::lan().with(|c| {
            c.seed = 7;
            c.sync.interval = Duration::ZERO;
            c.dissemination.gossip_interval = Duration::from_millis(50);
        });
        let addrs: Vec<SocketAddr> = (0..roles.len()).map(|i| addr(u8::try_from(i).unwrap())).collect();
        let nodes = roles
            .iter()
            .enumerate()
            .map(|(i, role)| {
                let config = config.clone().with(|c| c.seed = 7 + i as u64);
                Node::new(&name(u8::try_from(i).unwrap()), &addrs[i..=i], &tagged(role), config, Time::ZERO).unwrap()
            })
            .collect();
        let mut net = Net { nodes, addrs, now: Time::ZERO };
        for i in 1..roles.len() {
            let seed = net.addrs[0];
            net.nodes[i].join(Time::ZERO, &[seed]).unwrap();
        }
        net.run(Duration::from_secs(3), |_, _| None);
        let n = roles.len();
        assert!(net.nodes.iter().all(|node| node.members().filter(|m| m.state == State::Alive).count() == n));
        net
    }

    /// Runs for `time` in 10 ms steps; `answer(i, event)` may give the
    /// answer node `i` sends to a query. Returns every event, described.
    pub(super) fn run(
        &mut self,
        time: Duration,
        mut answer: impl FnMut(usize, &Event<'_>) -> Option<Vec<u8>>,
    ) -> Vec<String> {
        let mut seen = Vec::new();
        let end = self.now + time;
        let mut buf = vec![0u8; 1400];
        while self.now < end {
            for i in 0..self.nodes.len() {
                self.nodes[i].handle_timeout(self.now);
            }
            for _ in 0..100 {
                let mut quiet = true;
                for i in 0..self.nodes.len() {
                    while let Some(t) = self.nodes[i].poll_transmit(self.now, &mut buf) {
                        quiet = false;
                        if let Some(to) = self.addrs.iter().position(|a| *a == t.destination) {
                            let from = self.addrs[i];
                            let _ = self.nodes[to].handle_datagram(self.now, from, &mut buf[..t.len]);
                        }
                    }
                    while self.nodes[i].poll_sync_open().is_some() {}
                    let mut answers = Vec::new();
                    while let Some(e) = self.nodes[i].poll_event() {
                        if let (Event::Query { handle, .. }, Some(a)) = (&e, answer(i, &e)) {
                            answers.push((*handle, a));
                        }
                        seen.push(format!("n{i}: {}", super::tests::describe(&e)));
                    }
                    for (handle, a) in answers {
                        self.nodes[i].respond(self.now, handle, &a).unwrap();
                        quiet = false;
                    }
                }
                if quiet {
                    break;
                }
            }
            self.now += Duration::from_millis(10);
        }
        seen
    }
}

fn with_prefix<'a>(events: &'a [String], prefix: &str) -> Vec<&'a str> {
    events.iter().filter(|e| e.starts_with(prefix)).map(String::as_str).collect()
}

#[test]
fn a_query_reaches_the_members_it_is_for_and_their_answers_come_back_once() {
    let mut net = Net::new(&["asker", "cache", "db", "cache"]);
    let tags = [("role", "cache")];
    let options =
        QueryOptions { tags: &tags, timeout: Some(Duration::from_secs(2)), relay: 2, ..QueryOptions::default() };
    let now = net.now;
    let id = net.nodes[0].query(now, b"who-serves", b"shard=7", &options).unwrap();
    let events = net.run(Duration::from_secs(3), |i, _| Some(format!("n{i} serves it").into_bytes()));
    // Only the caches get it, once each.
    let got: Vec<&str> = events.iter().filter(|e| e.contains(": query who-serves")).map(String::as_str).collect();
    assert_eq!(got, ["n1: query who-serves from n0 shard=7", "n3: query who-serves from n0 shard=7"]);
    let asker = with_prefix(&events, "n0: ");
    let answers: Vec<&&str> = asker.iter().filter(|e| e.contains("answered by")).collect();
    assert_eq!(answers.len(), 2, "each answer once, relayed copies dropped: {asker:?}");
    assert!(asker.contains(&&*format!("n0: query {id} answered by n1 n1 serves it")));
    assert_eq!(asker.iter().filter(|e| e.contains("acked by")).count(), 2);
    assert_eq!(asker.last(), Some(&&*format!("n0: query {id} done asked=2 answered=2 acked=2")));
    let stats = net.nodes[0].stats();
    assert_eq!((stats.queries_sent, stats.query_responses_received, stats.query_acks_received), (1, 2, 2));
    assert!(net.nodes.iter().map(|n| n.stats().query_responses_relayed).sum::<u64>() > 0, "relays passed copies on");
}

#[test]
fn an_answer_is_given_once_and_not_after_the_timeout() {
    let mut net = Net::new(&["asker", "cache"]);
    let options =
        QueryOptions { timeout: Some(Duration::from_millis(500)), want_ack: false, ..QueryOptions::default() };
    let now = net.now;
    net.nodes[0].query(now, b"q", b"", &options).unwrap();
    let mut handle = None;
    let events = net.run(Duration::from_secs(1), |_, e| {
        if let Event::Query { handle: h, .. } = e {
            handle = Some(*h);
        }
        None
    });
    assert!(events.iter().any(|e| e.ends_with("done asked=1 answered=0 acked=0")), "{events:?}");
    let handle = handle.expect("n1 got the query");
    let now = net.now;
    assert_eq!(net.nodes[1].respond(now, handle, b"late"), Err(CommandError::QueryOver));
}

#[test]
fn bad_queries_are_refused_before_anything_is_sent() {
    let mut net = Net::new(&["a", "b"]);
    let now = net.now;
    let a = &mut net.nodes[0];
    let too_long = [0u8; 256];
    let long_names: &[&[u8]] = &[&too_long];
    let cases = [
        QueryOptions { relay: MAX_RELAY + 1, ..QueryOptions::default() },
        QueryOptions { timeout: Some(Duration::ZERO), ..QueryOptions::default() },
        QueryOptions { timeout: Some(Duration::from_secs(3600)), ..QueryOptions::default() },
        QueryOptions { names: long_names, ..QueryOptions::default() },
    ];
    for options in cases {
        assert!(matches!(a.query(now, b"q", b"", &options), Err(CommandError::BadQuery(_))), "{options:?}");
    }
    assert!(matches!(a.query(now, b"", b"", &QueryOptions::default()), Err(CommandError::BadQuery(_))));
    let big = vec![0u8; 2000];
    assert!(matches!(
        a.query(now, b"q", &big, &QueryOptions::default()),
        Err(CommandError::TooLarge { what: "query", .. })
    ));
    for _ in 0..MAX_OPEN_QUERIES {
        a.query(now, b"q", b"", &QueryOptions::default()).unwrap();
    }
    assert_eq!(a.query(now, b"q", b"", &QueryOptions::default()), Err(CommandError::TooManyQueries));
    assert_eq!(a.stats().queries_sent, MAX_OPEN_QUERIES as u64);
}

/// A datagram from `n{from}` carrying `items`, as node `to` receives it.
pub(super) fn inject(net: &mut Net, from: usize, to: usize, items: &[Message<'_>]) {
    let source = name(u8::try_from(from).unwrap());
    let bytes = super::tests::packet(Message::Gossip(swim_wire::Gossip { source: &source }), items);
    let (now, addr) = (net.now, net.addrs[from]);
    let _ = net.nodes[to].handle_datagram(now, addr, &mut bytes.clone());
}

#[test]
fn forged_answers_do_not_count_and_a_datagram_is_relayed_at_most_once() {
    let mut net = Net::new(&["asker", "b", "c"]);
    let now = net.now;
    let options = QueryOptions { timeout: Some(Duration::from_secs(2)), want_ack: false, ..QueryOptions::default() };
    let id = net.nodes[0].query(now, b"q", b"", &options).unwrap();
    let generation = net.nodes[0].process_generation;
    let asker = net.addrs[0];
    // Answers in the names of strangers, and of the asker itself: none counts.
    let strangers: Vec<Vec<u8>> = (0..30).map(|i| format!("stranger-{i}").into_bytes()).collect();
    let mut forged: Vec<Message<'_>> = strangers
        .iter()
        .map(|s| {
            let r = QueryResponse { generation, id, flags: 0, origin: b"n0", asker, responder: s, payload: b"x" };
            Message::QueryResponse(r)
        })
        .collect();
    let me = name(0);
    forged.push(Message::QueryResponse(QueryResponse {
        generation,
        id,
        flags: 0,
        origin: b"n0",
        asker,
        responder: &me,
        payload: b"x",
    }));
    inject(&mut net, 1, 0, &forged);
    assert_eq!(net.nodes[0].stats().query_responses_received, 0, "no stranger's answer counts");
    // A real member's answer, twice (directly and relayed): counted once.
    let b = name(1);
    let real = QueryResponse { generation, id, flags: 0, origin: b"n0", asker, responder: &b, payload: b"ok" };
    inject(&mut net, 1, 0, &[Message::QueryResponse(real), Message::QueryResponse(real)]);
    assert_eq!(net.nodes[0].stats().query_responses_received, 1);

    // Forty answers flagged for relaying in one datagram to n2: one is passed on.
    let relayed: Vec<Message<'_>> =
        (0..40).map(|_| Message::QueryResponse(QueryResponse { flags: QueryResponse::RELAY, ..real })).collect();
    inject(&mut net, 1, 2, &relayed);
    let mut buf = vec![0u8; 1400];
    let mut out = Vec::new();
    let now = net.now;
    while let Some(t) = net.nodes[2].poll_transmit(now, &mut buf) {
        out.push((t.destination, t.len));
    }
    assert_eq!(net.nodes[2].stats().query_responses_relayed, 1, "one relay per datagram");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, asker, "passed on to the asker's own address");
    assert!(out[0].1 < 200, "no gossip rides on it: {} bytes", out[0].1);
}
