//! Probing driven by hand: direct and indirect probes, helpers and nacks,
//! health, the adaptive timeout, overload, the round robin.

use core::time::Duration;

use swim_wire::{Ack, Addrs, Alive, IndirectAck, IndirectPing, Kind, Message, Nack, Suspect};

use super::tests::*;
use super::*;

#[test]
fn failed_probe_goes_indirect_through_k_helpers_then_suspects() {
    let mut n = node(config().with(|c| c.probe.indirect = 3));
    introduce(&mut n, Time::ZERO, 6);
    let (target, seq, sent) = next_probe(&mut n, Time::ZERO);
    assert_ne!(seq, 0);

    // No ack: at the probe timeout, indirect pings go to 3 distinct helpers.
    let t = sent + Duration::from_millis(500);
    n.handle_timeout(t);
    let out = transmits(&mut n, t);
    let helpers: Vec<SocketAddr> = out
        .iter()
        .filter_map(|(to, b)| match parse(b).primary() {
            Message::IndirectPing(p) => {
                assert_eq!(p.target, &name(target)[..]);
                assert_eq!(p.target_addr, addr(target));
                assert!(p.want_nack, "Lifeguard asks helpers for nacks");
                Some(*to)
            }
            _ => None,
        })
        .collect();
    assert_eq!(helpers.len(), 3);
    assert!(!helpers.contains(&addr(target)) && !helpers.contains(&addr(0)));
    let mut distinct = helpers.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 3);

    // Still nothing by the end of the period: the target is suspect.
    let end = sent + Duration::from_secs(1);
    n.handle_timeout(end);
    assert_eq!(state_of(&n, target), Some(State::Suspect));
    let events = drain_events(&mut n);
    assert!(events.contains(&format!("suspected n{target} by n0")), "{events:?}");
    assert_eq!(n.stats().probes_failed, 1);
    // Three nacks were expected and none came: Lifeguard blames this node.
    assert_eq!(n.health(), 3);
}

#[test]
fn an_ack_in_time_keeps_the_target_alive_and_improves_health() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 4);
    n.set_health(1);
    let (target, seq, sent) = next_probe(&mut n, Time::ZERO);
    feed(&mut n, sent + Duration::from_millis(3), addr(target), &ack_from(target, seq)).unwrap();
    n.handle_timeout(sent + Duration::from_secs(2));
    assert_eq!(state_of(&n, target), Some(State::Alive));
    assert_eq!(n.health(), 0);
    assert_eq!(n.stats().probes_failed, 0);
}

#[test]
fn a_plaintext_ack_counts_only_from_the_probed_members_address_with_its_name() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 4);
    n.set_health(1);
    let (target, seq, sent) = next_probe(&mut n, Time::ZERO);
    let other = if target == 1 { 2 } else { 1 };
    let at = sent + Duration::from_millis(3);
    // The right sequence number and name, from another member's address
    // (a forger's, in plaintext); then from the target's address with
    // another member's name: neither counts.
    feed(&mut n, at, addr(other), &ack_from(target, seq)).unwrap();
    feed(&mut n, at, addr(target), &ack_from(other, seq)).unwrap();
    n.handle_timeout(sent + Duration::from_secs(2));
    assert_ne!(state_of(&n, target), Some(State::Alive), "the probe failed");
    assert_eq!(n.stats().probes_failed, 1);
}

/// A node of six whose probe (sent at `sent`) got no ack: at `t` it asked
/// two helpers (their addresses and the requests' sequence numbers).
fn gone_indirect() -> (Node, u8, Time, Time, Vec<(SocketAddr, u32)>) {
    let mut n = node(config().with(|c| c.probe.indirect = 2));
    introduce(&mut n, Time::ZERO, 5);
    let (target, _, sent) = next_probe(&mut n, Time::ZERO);
    let t = sent + Duration::from_millis(500);
    n.handle_timeout(t);
    let indirect: Vec<(SocketAddr, u32)> = transmits(&mut n, t)
        .iter()
        .filter_map(|(to, b)| match parse(b).primary() {
            Message::IndirectPing(p) => Some((*to, p.seq)),
            _ => None,
        })
        .collect();
    assert_eq!(indirect.len(), 2);
    (n, target, sent, t, indirect)
}

#[test]
fn an_indirect_ack_saves_the_target_and_nacks_spare_this_nodes_health() {
    let (mut n, target, sent, t, indirect) = gone_indirect();
    // Both helpers nack: the target is silent for them too, so this node's
    // health is not blamed, but the target is suspected.
    for &(helper, seq) in &indirect {
        let nack = packet(Message::Nack(Nack { seq, source: b"helper", target: &name(target) }), &[]);
        feed(&mut n, t, helper, &nack).unwrap();
    }
    n.handle_timeout(sent + Duration::from_secs(1));
    assert_eq!(state_of(&n, target), Some(State::Suspect));
    assert_eq!((n.health(), n.stats().nacks_received), (0, 2));

    // Next probe: a helper's indirect ack counts as the target answering.
    let (target, _, sent) = next_probe(&mut n, sent + Duration::from_secs(1));
    let t = sent + Duration::from_millis(500);
    n.handle_timeout(t);
    let (_, seq) = transmits(&mut n, t)
        .iter()
        .find_map(|(to, b)| match parse(b).primary() {
            Message::IndirectPing(p) => Some((*to, p.seq)),
            _ => None,
        })
        .unwrap();
    let ack = packet(Message::IndirectAck(IndirectAck { seq, source: b"helper", target: &name(target) }), &[]);
    feed(&mut n, t, addr(1), &ack).unwrap();
    n.handle_timeout(sent + Duration::from_secs(1));
    assert_ne!(state_of(&n, target), Some(State::Faulty));
    assert_eq!(n.stats().probes_failed, 1, "only the first probe failed");
}

#[test]
fn as_a_helper_it_forwards_and_nacks_at_eighty_percent() {
    let mut n = node(config());
    // The prober (n5) and the target (n7) are live members here.
    introduce(&mut n, Time::ZERO, 7);
    let request = |seq| {
        packet(
            Message::IndirectPing(IndirectPing {
                seq,
                want_nack: true,
                source: b"n5",
                target: b"n7",
                target_generation: 0,
                target_incarnation: 4,
                target_addr: addr(7),
                nack_after_us: 400_000,
            }),
            &[],
        )
    };
    feed(&mut n, Time::ZERO, addr(5), &request(900)).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    let Message::Ping(ping) = parse(&out[0].1).primary() else { panic!() };
    assert_eq!((out[0].0, ping.target, ping.target_incarnation), (addr(7), &b"n7"[..], 4));

    // The target stays silent: a nack at 80% of the probe timeout (400 ms).
    n.handle_timeout(Time::from_millis(399));
    assert!(transmits(&mut n, Time::from_millis(399)).is_empty());
    n.handle_timeout(Time::from_millis(400));
    let out = transmits(&mut n, Time::from_millis(400));
    assert_eq!(out.len(), 1);
    let Message::Nack(nack) = parse(&out[0].1).primary() else { panic!("not a nack") };
    assert_eq!((out[0].0, nack.seq, nack.target), (addr(5), 900, &b"n7"[..]));

    // Another request, and this time the target answers: an indirect ack.
    // (An ack that names another member answers nothing.)
    feed(&mut n, Time::from_secs(5), addr(5), &request(901)).unwrap();
    let out = transmits(&mut n, Time::from_secs(5));
    let Message::Ping(ping) = parse(&out[0].1).primary() else { panic!() };
    feed(&mut n, Time::from_secs(5), addr(7), &ack_from(6, ping.seq)).unwrap();
    assert!(transmits(&mut n, Time::from_secs(5)).is_empty(), "not from the target");
    let ack = packet(Message::Ack(Ack { seq: ping.seq, source: b"n7", payload: &[] }), &[]);
    feed(&mut n, Time::from_secs(5), addr(7), &ack).unwrap();
    let out = transmits(&mut n, Time::from_secs(5));
    let Message::IndirectAck(ack) = parse(&out[0].1).primary() else { panic!("not an indirect ack") };
    assert_eq!((out[0].0, ack.seq), (addr(5), 901));
    n.handle_timeout(Time::from_secs(6));
    assert!(transmits(&mut n, Time::from_secs(6)).iter().all(|(_, b)| parse(b).primary().kind() != Kind::Nack));
}

#[test]
fn a_helper_nacks_when_the_prober_asked_whatever_its_own_health() {
    // Regression: the helper nacked at 80% of its own health-scaled timeout,
    // after the prober had stopped waiting (Config::wan() missed every nack
    // until the round trips adapted, and each miss raised the prober's
    // health).
    let mut n = node(config());
    // The prober (n5) and the target (n7) are live members here.
    introduce(&mut n, Time::ZERO, 7);
    n.set_health(3); // its own timeout is 4 × 500 ms now
    let request = packet(
        Message::IndirectPing(IndirectPing {
            seq: 9,
            want_nack: true,
            source: b"n5",
            target: b"n7",
            target_generation: 0,
            target_incarnation: 0,
            target_addr: addr(7),
            nack_after_us: 240_000, // 80% of the prober's 300 ms
        }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(5), &request).unwrap();
    transmits(&mut n, Time::ZERO);
    n.handle_timeout(Time::from_millis(239));
    assert!(transmits(&mut n, Time::from_millis(239)).is_empty());
    n.handle_timeout(Time::from_millis(240));
    let out = transmits(&mut n, Time::from_millis(240));
    assert!(matches!(parse(&out[0].1).primary(), Message::Nack(k) if k.seq == 9), "{out:?}");
    // And as a prober it asks for 80% of its own timeout, unscaled.
    let mut p = node(config());
    introduce(&mut p, Time::ZERO, 4);
    p.set_health(2);
    let (_, _, sent) = next_probe(&mut p, Time::ZERO);
    let at = sent + p.probe_timeout();
    p.handle_timeout(at);
    let asks: Vec<u32> = transmits(&mut p, at)
        .iter()
        .filter_map(
            |(_, b)| if let Message::IndirectPing(i) = parse(b).primary() { Some(i.nack_after_us) } else { None },
        )
        .collect();
    assert_eq!(asks, [400_000; 3], "0.8 × 500 ms, whatever the health");
}

#[test]
fn a_forward_whose_nack_is_due_when_it_expires_leaves_no_deadline_behind() {
    // Regression (found by the cluster fuzzer): the nack and the expiry fell
    // on the same instant; the nack was sent, the expiry waited for another
    // call, and the node kept asking to be woken at a time already past.
    let mut n = node(config().with(|c| c.probe.timeout = Duration::from_millis(400)));
    // The prober (n5) and the target (n7) are live members here.
    introduce(&mut n, Time::ZERO, 7);
    let request = packet(
        Message::IndirectPing(IndirectPing {
            seq: 5,
            want_nack: true,
            source: b"n5",
            target: b"n7",
            target_generation: 0,
            target_incarnation: 0,
            target_addr: addr(7),
            nack_after_us: 400_000, // = this node's own timeout: both at 400 ms
        }),
        &[],
    );
    feed(&mut n, Time::ZERO, addr(5), &request).unwrap();
    transmits(&mut n, Time::ZERO);
    for _ in 0..100 {
        let now = n.poll_timeout().unwrap();
        n.handle_timeout(now);
        transmits(&mut n, now);
        assert!(n.poll_timeout().unwrap() > now, "every timer due at {now:?} was handled");
        if now > Time::from_secs(2) {
            break;
        }
    }
    assert_eq!(n.stats().nacks_sent, 1);
}

#[test]
fn buddy_ping_carries_the_suspicion_first() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 1);
    let suspicion = packet(
        Message::Ack(Ack { seq: 0, source: b"n2", payload: &[] }),
        &[Message::Suspect(Suspect { generation: 0, incarnation: 0, name: &name(1), by: b"n2" })],
    );
    feed(&mut n, Time::ZERO, addr(2), &suspicion).unwrap();
    let mut now = Time::ZERO;
    let bytes = loop {
        n.handle_timeout(now);
        let out = transmits(&mut n, now);
        if let Some((_, b)) = out.into_iter().find(|(_, b)| parse(b).primary().kind() == Kind::Ping) {
            break b;
        }
        now = n.poll_timeout().unwrap();
    };
    let p = parse(&bytes);
    let first = p.piggyback().next().expect("the ping carries gossip");
    assert_eq!(first, Message::Suspect(Suspect { generation: 0, incarnation: 0, name: &name(1), by: b"n2" }));
}

#[test]
fn health_scales_the_probe_interval_and_timeout() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 4);
    n.set_health(3);
    assert_eq!(n.probe_timeout(), Duration::from_millis(2000), "500 ms × (3 + 1)");
    // A period started at health 3 lasts 4 s, and its probe waits 2 s before
    // going indirect.
    let (_, _, start) = next_probe(&mut n, Time::ZERO);
    assert_eq!(n.poll_timeout(), Some(start + Duration::from_secs(2)));
    n.handle_timeout(start + Duration::from_millis(1999));
    assert!(transmits(&mut n, start + Duration::from_millis(1999)).is_empty());
    n.handle_timeout(start + Duration::from_secs(2));
    assert!(
        transmits(&mut n, start + Duration::from_secs(2))
            .iter()
            .all(|(_, b)| parse(b).primary().kind() == Kind::IndirectPing)
    );
    assert_eq!(n.poll_timeout(), Some(start + Duration::from_secs(4)));
    // Health never exceeds S.
    n.adjust_health(20);
    assert_eq!(n.health(), 8);
}

#[test]
fn a_timer_handled_late_counts_as_overload() {
    let mut n = node(config().with(|c| c.probe.overload_threshold = Duration::from_millis(100)));
    introduce(&mut n, Time::ZERO, 4);
    let due = n.poll_timeout().unwrap();
    n.handle_timeout(due + Duration::from_millis(100));
    assert_eq!((n.health(), n.stats().overload_reports), (0, 0), "within the threshold");
    transmits(&mut n, due);
    let due = n.poll_timeout().unwrap();
    n.handle_timeout(due + Duration::from_millis(101));
    assert_eq!((n.health(), n.stats().overload_reports), (1, 1), "a stalled process finds its timers late");
    // Called early (nothing due): no lateness to measure.
    let now = due + Duration::from_millis(101);
    transmits(&mut n, now);
    n.handle_timeout(now);
    assert_eq!(n.stats().overload_reports, 1);
}

#[test]
fn the_probe_timeout_adapts_to_p99_plus_ten_percent() {
    let run = |rtts: &dyn Fn(u64) -> Duration| {
        let mut n = node(config());
        introduce(&mut n, Time::ZERO, 3);
        let mut now = Time::ZERO;
        for i in 0..40u64 {
            let (target, seq, sent) = next_probe(&mut n, now);
            if i == 0 {
                assert_eq!(n.probe_timeout(), config().probe.timeout, "nothing measured yet");
            }
            feed(&mut n, sent + rtts(i), addr(target), &ack_from(target, seq)).unwrap();
            now = sent + Duration::from_millis(1);
        }
        next_probe(&mut n, now); // a period starts: the node applies the estimate
        n.probe_timeout()
    };
    let timeout = run(&|i| Duration::from_millis(10 + i % 10 * 10)); // 10..=100 ms
    assert_eq!(timeout, Duration::from_millis(110), "p99 = 100 ms, plus 10%");
    let timeout = run(&|_| Duration::from_micros(100));
    assert_eq!(timeout, config().probe.min_timeout, "clamped to the bounds");
    let mut fixed = node(config().with(|c| c.probe.adaptive_timeout = false));
    introduce(&mut fixed, Time::ZERO, 3);
    next_probe(&mut fixed, Time::ZERO);
    assert_eq!(fixed.probe_timeout(), config().probe.timeout);
}

#[test]
fn every_member_is_probed_within_two_n_minus_one_periods_with_several_per_period() {
    let mut n = node(config().with(|c| c.probe.direct = 2));
    introduce(&mut n, Time::ZERO, 9);
    let mut now = Time::ZERO;
    let mut last = [None::<u32>; 10];
    let mut worst = 0;
    let mut per_period = std::collections::BTreeMap::<u32, usize>::new();
    let mut first = None;
    for _ in 0..4000 {
        n.handle_timeout(now);
        for (to, b) in transmits(&mut n, now) {
            let p = parse(&b);
            if let Message::Ping(ping) = p.primary() {
                let start = *first.get_or_insert(now);
                let period = u32::try_from(now.saturating_since(start).as_secs()).unwrap();
                *per_period.entry(period).or_default() += 1;
                let i: u8 = to.ip().to_string().rsplit('.').next().unwrap().parse().unwrap();
                if let Some(prev) = last[usize::from(i)] {
                    worst = worst.max(period - prev);
                }
                last[usize::from(i)] = Some(period);
                // Answer, so nothing is suspected.
                feed(&mut n, now, to, &ack_from(i, ping.seq)).unwrap();
            }
        }
        now = n.poll_timeout().unwrap().max(now + Duration::from_millis(1));
        if now > Time::from_secs(200) {
            break;
        }
    }
    // 9 targets, 2 per period: each within ⌈(2·9 − 1) / 2⌉ = 9 periods.
    assert!(worst <= 9, "a member waited {worst} periods");
    assert!(per_period.values().all(|&c| c == 2), "{per_period:?}");
}

#[test]
fn without_suspicion_a_failed_probe_is_a_faulty_verdict() {
    let mut n = node(config().with(|c| c.suspicion.enabled = false));
    introduce(&mut n, Time::ZERO, 3);
    let (target, _, sent) = next_probe(&mut n, Time::ZERO);
    n.handle_timeout(sent + Duration::from_secs(1));
    assert_eq!(state_of(&n, target), Some(State::Faulty));
}

#[test]
fn a_member_held_faulty_is_pinged_now_and_then_with_its_verdict_and_our_state_first() {
    // Regression (cluster fuzzer): after a partition healed, the sides found
    // each other only through syncs to one random tombstone every other
    // interval.
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 2);
    let faulty = Message::Faulty(swim_wire::Faulty { generation: 0, incarnation: 0, name: &name(2), by: b"n1" });
    feed(&mut n, Time::ZERO, addr(1), &packet(Message::Ack(Ack { seq: 0, source: b"n1", payload: &[] }), &[faulty]))
        .unwrap();
    assert_eq!(state_of(&n, 2), Some(State::Faulty));
    let mut now = Time::ZERO;
    let mut reconnects = Vec::new();
    while now < Time::from_secs(40) {
        now = n.poll_timeout().unwrap();
        n.handle_timeout(now);
        for (to, bytes) in transmits(&mut n, now) {
            let p = parse(&bytes);
            if to == addr(2) && p.primary().kind() == Kind::Ping {
                let first: Vec<Kind> = p.piggyback().take(2).map(|m| m.kind()).collect();
                assert_eq!(first, [Kind::Faulty, Kind::Alive], "its verdict, then who asks");
                reconnects.push(now);
            }
        }
    }
    // About one every four periods (of 1 s), not scaled by health (n1 does
    // not answer this node's probes: its health suffers, and so would pings
    // scaled by it; soon it is held faulty too, and the two take turns).
    let all = n.stats().reconnect_pings;
    assert!((6..=20).contains(&all), "{all} reconnect pings in 40 s");
    assert!(reconnects.len() >= 3 && reconnects.len() as u64 <= all, "{reconnects:?}");
    assert!(n.health() > 0);
}

#[test]
fn a_target_that_restarts_elsewhere_while_probed_is_not_suspected_and_its_old_address_not_pinged() {
    let moved = |n: &mut Node, now: Time, to: SocketAddr| {
        let (who, at) = (name(1), [to]);
        let alive = Alive { generation: 1, incarnation: 0, name: &who, addrs: Addrs::from_slice(&at), meta: b"" };
        let bytes = packet(Message::Ack(Ack { seq: 0, source: b"n2", payload: &[] }), &[Message::Alive(alive)]);
        feed(n, now, addr(2), &bytes).unwrap();
    };
    // n1 is the only member: every probe is of n1.
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 1);
    let (target, _, sent) = next_probe(&mut n, Time::ZERO);
    assert_eq!(target, 1);
    // Its next process announces itself on another address; the old one
    // never answers. No indirect probe of the old address, no suspicion of
    // the new process, no blame on this node.
    moved(&mut n, sent + Duration::from_millis(10), addr(51));
    for t in [500, 1000, 1100] {
        let t = sent + Duration::from_millis(t);
        n.handle_timeout(t);
        let out = transmits(&mut n, t);
        assert!(out.iter().all(|(_, b)| parse(b).primary().kind() != Kind::IndirectPing), "at {t:?}");
    }
    assert_eq!(state_of(&n, 1), Some(State::Alive));
    assert_eq!((n.stats().probes_failed, n.health()), (0, 0));

    // A ping decided before the move and sent after it is dropped: the new
    // version must not reach the old address, whose process (if any) would
    // take it for a past life of its own.
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 1);
    let mut now = Time::ZERO;
    let mut dropped = false;
    for _ in 0..100 {
        n.handle_timeout(now);
        if n.stats().probes > 0 {
            moved(&mut n, now, addr(51));
            let out = transmits(&mut n, now);
            assert!(out.iter().all(|(to, _)| *to != addr(1)), "{out:?}");
            dropped = true;
            break;
        }
        transmits(&mut n, now);
        now = n.poll_timeout().unwrap().max(now);
    }
    assert!(dropped, "a probe started");
    // The next probes go to the new address.
    let (to, bytes) = next_probe_packet(&mut n, now + Duration::from_millis(1));
    assert_eq!(to, addr(51));
    let Message::Ping(p) = parse(&bytes).primary() else { panic!() };
    assert_eq!(p.target_generation, 1);
}

#[test]
fn a_helper_probes_only_live_members_at_their_table_address_for_live_members() {
    // Reflection: an indirect ping names any address; a helper that pinged
    // it (and nacked the requester, with gossip) would send datagrams
    // wherever a forged request asked.
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 7);
    let request = |source: &'static [u8], target: &'static [u8], target_addr| {
        packet(
            Message::IndirectPing(IndirectPing {
                seq: 3,
                want_nack: true,
                source,
                target,
                target_generation: 0,
                target_incarnation: 0,
                target_addr,
                nack_after_us: 100_000,
            }),
            &[],
        )
    };
    let refused = [
        (request(b"n5", b"victim", addr(99)), addr(5), "a target nobody knows"),
        (request(b"stranger", b"n7", addr(7)), addr(5), "a requester nobody knows"),
    ];
    for (bytes, from, why) in &refused {
        feed(&mut n, Time::ZERO, *from, bytes).unwrap();
        assert!(transmits(&mut n, Time::ZERO).is_empty(), "{why}: nothing sent");
    }
    assert_eq!(n.stats().indirect_pings_refused, 2);
    n.handle_timeout(Time::from_millis(150));
    assert!(transmits(&mut n, Time::from_millis(150)).iter().all(|(_, b)| parse(b).primary().kind() != Kind::Nack));

    // A live member asking about a live member at an address that is not
    // its own: probed, at the address in the table.
    feed(&mut n, Time::ZERO, addr(5), &request(b"n5", b"n7", addr(99))).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    assert_eq!(out.len(), 1);
    assert!(matches!(parse(&out[0].1).primary(), Message::Ping(p) if p.target == b"n7"));
    assert_eq!(out[0].0, addr(7), "the table's address, not the one asked");
    assert_eq!(n.stats().indirect_probes_helped, 1);

    // Asked from another address (a forger's spoofed source, or NAT): the
    // answer goes to the requester's address in the table.
    feed(&mut n, Time::ZERO, addr(99), &request(b"n5", b"n7", addr(7))).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    let Message::Ping(ping) = parse(&out[0].1).primary() else { panic!("not a ping") };
    let ack = packet(Message::Ack(Ack { seq: ping.seq, source: b"n7", payload: &[] }), &[]);
    feed(&mut n, Time::ZERO, addr(7), &ack).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    assert!(matches!(parse(&out[0].1).primary(), Message::IndirectAck(_)));
    assert_eq!(out[0].0, addr(5), "to n5's address in the table, not to where the request came from");
}

#[test]
fn a_probe_ends_as_soon_as_every_helper_has_nacked() {
    let (mut n, target, _, t, indirect) = gone_indirect();
    let nack = |seq| packet(Message::Nack(Nack { seq, source: b"helper", target: &name(target) }), &[]);
    // One nack: the other helper may still bring an ack.
    let at = t + Duration::from_millis(400);
    feed(&mut n, at, indirect[0].0, &nack(indirect[0].1)).unwrap();
    n.handle_timeout(at);
    assert_eq!(state_of(&n, target), Some(State::Alive));
    // Both: the probe is over, well before the end of the period.
    feed(&mut n, at, indirect[1].0, &nack(indirect[1].1)).unwrap();
    assert_eq!(n.poll_timeout(), Some(at), "the node wants to conclude now");
    n.handle_timeout(at);
    assert_eq!(state_of(&n, target), Some(State::Suspect));
    assert_eq!(n.health(), 0, "the helpers answered: this node is not to blame");
}
