//! Graceful departure driven by hand: who is told, when the node may stop.

use std::net::SocketAddr;

use swim_wire::{Kind, Message};

use super::tests::{ack_from, addr, config, feed, introduce, name, node, packet, parse, ping_to_n0, transmits};
use super::*;
use crate::CommandError;

/// The index of a test member from its address.
fn index_of(to: SocketAddr) -> u8 {
    to.ip().to_string().rsplit('.').next().unwrap().parse().unwrap()
}

#[test]
fn leaving_a_small_cluster_tells_every_member_until_each_acknowledges() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 8);
    n.leave(Time::ZERO);
    assert!(n.has_left() && !n.leave_announced());
    let out = transmits(&mut n, Time::ZERO);
    assert_eq!(out.len(), 8, "everyone in a cluster this small");
    for (_, b) in &out {
        let p = parse(b);
        assert_eq!(p.primary().kind(), Kind::Ping);
        assert!(matches!(p.piggyback().next(), Some(Message::Left(l)) if l.name == &name(0)[..]), "the news first");
    }
    // Seven acknowledge; the eighth's ping was lost.
    for (to, bytes) in &out[..7] {
        let Message::Ping(ping) = parse(bytes).primary() else { panic!() };
        feed(&mut n, Time::from_millis(1), *to, &ack_from(index_of(*to), ping.seq)).unwrap();
    }
    assert!(!n.leave_announced(), "one member has not heard");
    // Meanwhile it answers pings, with the news first.
    feed(&mut n, Time::from_millis(2), addr(3), &packet(ping_to_n0(3, 77), &[])).unwrap();
    let acks = transmits(&mut n, Time::from_millis(2));
    let p = parse(&acks[0].1);
    assert!(matches!(p.primary(), Message::Ack(a) if a.seq == 77));
    assert!(matches!(p.piggyback().next(), Some(Message::Left(_))));
    // A probe timeout later, only the silent one is pinged again.
    assert_eq!(n.poll_timeout(), Some(Time::from_millis(500)));
    n.handle_timeout(Time::from_millis(500));
    let again = transmits(&mut n, Time::from_millis(500));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].0, out[7].0);
    let Message::Ping(ping) = parse(&again[0].1).primary() else { panic!() };
    feed(&mut n, Time::from_millis(501), again[0].0, &ack_from(index_of(again[0].0), ping.seq)).unwrap();
    assert!(n.leave_announced());
    assert_eq!(n.local().state, State::Left);
    assert_eq!(n.broadcast(Time::ZERO, b"x"), Err(CommandError::Left));
    n.handle_timeout(Time::from_secs(30));
    assert!(
        transmits(&mut n, Time::from_secs(30)).iter().all(|(_, b)| parse(b).primary().kind() != Kind::Ping),
        "no probes after leaving"
    );
}

#[test]
fn a_member_that_never_acknowledges_is_given_up_after_a_few_rounds() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 3);
    n.leave(Time::ZERO);
    let mut now = Time::ZERO;
    let mut rounds = 0;
    while !n.leave_announced() && rounds < 10 {
        for (to, bytes) in transmits(&mut n, now) {
            let Message::Ping(ping) = parse(&bytes).primary() else { continue };
            if index_of(to) != 3 {
                feed(&mut n, now, to, &ack_from(index_of(to), ping.seq)).unwrap();
            }
        }
        now = n.poll_timeout().unwrap();
        n.handle_timeout(now);
        rounds += 1;
    }
    assert!(n.leave_announced(), "n3 crashed: the others know, and the news was sent often enough");
    assert_eq!(rounds, 2, "the first round and two more");
}

#[test]
fn leaving_a_large_cluster_tells_a_few_per_round_until_the_news_went_out_often_enough() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 40); // N = 41: the news must go out 4 · 2 = 8 times
    n.leave(Time::ZERO);
    let out = transmits(&mut n, Time::ZERO);
    assert_eq!(out.len(), 3, "max(K, 3) per round");
    let Message::Ping(ping) = parse(&out[0].1).primary() else { panic!() };
    feed(&mut n, Time::from_millis(1), out[0].0, &ack_from(index_of(out[0].0), ping.seq)).unwrap();
    assert!(!n.leave_announced(), "acknowledged, but the news went out only 3 times of 8");
    let mut now = Time::from_millis(1);
    while !n.leave_announced() && now < Time::from_secs(10) {
        now = n.poll_timeout().unwrap();
        n.handle_timeout(now);
        transmits(&mut n, now);
    }
    assert!(n.leave_announced());
    assert_eq!(now, Time::from_millis(1000), "two more rounds: 9 transmissions");
}

#[test]
fn leaving_with_one_other_member_still_tells_it() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 1);
    n.leave(Time::ZERO);
    assert!(!n.leave_announced(), "one member is left to tell");
    let out = transmits(&mut n, Time::ZERO);
    assert_eq!(out.len(), 1);
    let Message::Ping(ping) = parse(&out[0].1).primary() else { panic!() };
    feed(&mut n, Time::ZERO, addr(1), &ack_from(1, ping.seq)).unwrap();
    assert!(n.leave_announced());
    // Alone, there is nobody to tell.
    let mut alone = node(config());
    alone.leave(Time::ZERO);
    assert!(alone.leave_announced());
}
