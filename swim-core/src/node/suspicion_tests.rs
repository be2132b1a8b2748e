//! Suspicions that must not end in a false verdict: a member that missed
//! every copy of a refutation checks the suspect first-hand before its
//! verdict, and answers to pings and indirect pings carry the newer version
//! of whoever they are about.

use core::time::Duration;

use swim_wire::{Ack, Addrs, Alive, IndirectAck, IndirectPing, Message, Ping, Suspect};

use super::probe::CHECKS;
use super::tests::*;
use super::*;

/// N = 10 (min 4 s, max 24 s, two confirmations expected): the node holds
/// the suspicion of `n1` at incarnation 0 that `n2` gossiped, unconfirmed.
fn holding_a_weak_suspicion() -> Node {
    let mut n = node(config().with(|c| {
        c.suspicion.mult = 4;
        c.suspicion.max_mult = 6;
    }));
    introduce(&mut n, Time::ZERO, 9);
    feed(&mut n, Time::ZERO, addr(2), &suspicion_of(1, 0, 2)).unwrap();
    assert_eq!(state_of(&n, 1), Some(State::Suspect));
    n
}

/// `n{by}` gossiping its suspicion of `n{of}` at `incarnation`.
fn suspicion_of(of: u8, incarnation: u32, by: u8) -> Vec<u8> {
    let (of, by) = (name(of), name(by));
    packet(
        Message::Ack(Ack { seq: 0, source: &by, payload: &[] }),
        &[Message::Suspect(Suspect { generation: 0, incarnation, name: &of, by: &by })],
    )
}

/// The incarnation of `n{i}`'s alive update piggybacked in `bytes`, if any.
fn alive_of(bytes: &[u8], i: u8) -> Option<u32> {
    parse(bytes).piggyback().find_map(|m| match m {
        Message::Alive(a) if a.name == &name(i)[..] => Some(a.incarnation),
        _ => None,
    })
}

/// The first piggybacked alive update in `bytes`: (name, incarnation).
fn first_alive(bytes: &[u8]) -> Option<(Vec<u8>, u32)> {
    parse(bytes).piggyback().find_map(|m| match m {
        Message::Alive(a) => Some((a.name.to_vec(), a.incarnation)),
        _ => None,
    })
}

/// The ping the node sent to `n{i}` among `out`, if any: its sequence number
/// and the incarnation it names.
fn ping_to(out: &[(SocketAddr, Vec<u8>)], i: u8) -> Option<(u32, u32, bool)> {
    out.iter().filter(|(to, _)| *to == addr(i)).find_map(|(_, b)| match parse(b).primary() {
        Message::Ping(p) => {
            let carries = parse(b).piggyback().any(|m| matches!(m, Message::Suspect(s) if s.name == &name(i)[..]));
            Some((p.seq, p.target_incarnation, carries))
        }
        _ => None,
    })
}

#[test]
fn a_weak_suspicion_is_checked_first_hand_and_the_suspects_answer_clears_it() {
    // n1 refuted (incarnation 1), and every copy of its refutation missed
    // this node. When the suspicion runs out unconfirmed, the node pings n1
    // with the suspicion riding first instead of declaring it faulty; n1's
    // ack brings its alive update.
    let mut n = holding_a_weak_suspicion();
    let at = Time::from_secs(24);
    n.handle_timeout(at);
    assert_eq!((state_of(&n, 1), n.stats().suspicions_checked), (Some(State::Suspect), 1));
    let out = transmits(&mut n, at);
    let (seq, named, carries) = ping_to(&out, 1).expect("a ping to the suspect");
    assert_eq!((named, carries), (0, true), "the ping names incarnation 0 and carries the suspicion");
    let (n1, addrs) = (name(1), [addr(1)]);
    let answer = packet(
        Message::Ack(Ack { seq, source: &n1, payload: &[] }),
        &[Message::Alive(Alive {
            generation: 0,
            incarnation: 1,
            name: &n1,
            addrs: Addrs::from_slice(&addrs),
            meta: b"",
        })],
    );
    feed(&mut n, at + Duration::from_millis(2), addr(1), &answer).unwrap();
    n.handle_timeout(at + Duration::from_secs(10));
    let held = n.member(&name(1)).map(|m| (m.state, m.incarnation));
    assert_eq!(held, Some((State::Alive, 1)));
    assert_eq!(n.stats().faulty_declared, 0);
}

#[test]
fn a_silent_suspect_is_declared_faulty_once_the_check_failed() {
    let mut n = holding_a_weak_suspicion();
    let at = Time::from_secs(24);
    n.handle_timeout(at);
    assert!(ping_to(&transmits(&mut n, at), 1).is_some());
    // No ack: helpers are asked after the probe timeout, and the verdict
    // comes at the end of the check (a period, scaled by health).
    let mut helped = false;
    let mut now = at;
    while state_of(&n, 1) == Some(State::Suspect) && now < at + Duration::from_secs(10) {
        now += Duration::from_millis(100);
        n.handle_timeout(now);
        helped |= transmits(&mut n, now)
            .iter()
            .any(|(_, b)| matches!(parse(b).primary(), Message::IndirectPing(p) if p.target == &name(1)[..]));
    }
    assert!(helped, "the check asked helpers");
    assert_eq!(state_of(&n, 1), Some(State::Faulty));
    assert!(now > at, "not at the end of the suspicion itself");
    assert_eq!(n.stats().suspicions_checked, 1);
}

#[test]
fn checks_are_bounded_and_extra_weak_suspicions_get_their_verdict_at_once() {
    let mut n = node(config().with(|c| {
        c.suspicion.mult = 4;
        c.suspicion.max_mult = 6;
    }));
    introduce(&mut n, Time::ZERO, 20);
    // Ten unconfirmed suspicions (all by n20), running out together.
    for i in 1..=10 {
        feed(&mut n, Time::ZERO, addr(20), &suspicion_of(i, 0, 20)).unwrap();
    }
    let max = Duration::from_secs_f64(6.0 * 4.0 * 21f64.log10());
    let at = Time::ZERO + max + Duration::from_millis(1);
    n.handle_timeout(at);
    let checked = usize::try_from(n.stats().suspicions_checked).unwrap();
    let faulty = (1..=10).filter(|&i| state_of(&n, i) == Some(State::Faulty)).count();
    // Up to CHECKS probes, and one more check if the round robin's probe of
    // this period happens to be pinging one of the suspects.
    assert!((CHECKS..=CHECKS + 1).contains(&checked), "{checked} checks");
    assert_eq!(faulty + checked, 10, "the rest are declared faulty at once");
    n.check_invariants().unwrap();
}

#[test]
fn an_ack_carries_this_nodes_alive_first_to_a_pinger_that_holds_an_older_version() {
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 3);
    feed(&mut n, Time::ZERO, addr(1), &suspicion_of(0, 0, 1)).unwrap();
    assert_eq!(n.incarnation(), 1, "refuted");
    let ping = |seq: u32, incarnation: u32| {
        packet(
            Message::Ping(Ping {
                seq,
                source: b"n2",
                target: &name(0),
                target_generation: 0,
                target_incarnation: incarnation,
            }),
            &[],
        )
    };
    // Pingers that know incarnation 1 use up the refutation's
    // transmissions; acks then carry it no more.
    let mut seq = 10;
    loop {
        feed(&mut n, Time::ZERO, addr(2), &ping(seq, 1)).unwrap();
        let out = transmits(&mut n, Time::ZERO);
        seq += 1;
        if alive_of(&out[0].1, 0).is_none() {
            break;
        }
        assert!(seq < 100, "the refutation is sent a bounded number of times");
    }
    // A pinger that still holds incarnation 0 gets it with the ack.
    feed(&mut n, Time::ZERO, addr(2), &ping(seq, 0)).unwrap();
    let out = transmits(&mut n, Time::ZERO);
    assert!(matches!(parse(&out[0].1).primary(), Message::Ack(a) if a.seq == seq));
    assert_eq!(first_alive(&out[0].1), Some((name(0), 1)));
}

#[test]
fn an_indirect_ack_carries_the_targets_newer_version_to_the_requester() {
    // This node (a helper) holds n7 at incarnation 2; the requester n5 asks
    // about incarnation 0 (it missed n7's refutations).
    let mut n = node(config());
    introduce(&mut n, Time::ZERO, 7);
    let (n7, addrs) = (name(7), [addr(7)]);
    let newer = packet(
        Message::Ack(Ack { seq: 0, source: b"n6", payload: &[] }),
        &[Message::Alive(Alive {
            generation: 0,
            incarnation: 2,
            name: &n7,
            addrs: Addrs::from_slice(&addrs),
            meta: b"",
        })],
    );
    feed(&mut n, Time::ZERO, addr(6), &newer).unwrap();
    let request = |seq: u32, incarnation: u32| {
        packet(
            Message::IndirectPing(IndirectPing {
                seq,
                want_nack: true,
                source: b"n5",
                target: b"n7",
                target_generation: 0,
                target_incarnation: incarnation,
                target_addr: addr(7),
                nack_after_us: 400_000,
            }),
            &[],
        )
    };
    // The helper's answer to request `seq` naming `incarnation`, once n7
    // acked its ping.
    let answer = |n: &mut Node, seq: u32, incarnation: u32| {
        let now = Time::from_secs(u64::from(seq));
        feed(n, now, addr(5), &request(seq, incarnation)).unwrap();
        let out = transmits(n, now);
        let Message::Ping(ping) = parse(&out[0].1).primary() else { panic!("no forwarded ping") };
        feed(n, now, addr(7), &packet(Message::Ack(Ack { seq: ping.seq, source: &n7, payload: &[] }), &[])).unwrap();
        let out = transmits(n, now);
        let Message::IndirectAck(IndirectAck { seq: acked, .. }) = parse(&out[0].1).primary() else {
            panic!("no indirect ack")
        };
        assert_eq!(acked, seq);
        out[0].1.clone()
    };
    let first = answer(&mut n, 1, 0);
    assert_eq!(first_alive(&first), Some((name(7), 2)), "the requester holds an older version");
    // Once the update's transmissions are spent, a requester that is up to
    // date gets no copy of it.
    let mut seq = 10;
    loop {
        let out = {
            let ping = Ping { seq, source: b"n2", target: &name(0), target_generation: 0, target_incarnation: 0 };
            feed(&mut n, Time::from_secs(2), addr(2), &packet(Message::Ping(ping), &[])).unwrap();
            transmits(&mut n, Time::from_secs(2))
        };
        seq += 1;
        if alive_of(&out[0].1, 7).is_none() {
            break;
        }
        assert!(seq < 100, "the update is sent a bounded number of times");
    }
    let bare = answer(&mut n, 3, 2);
    assert_eq!(alive_of(&bare, 7), None);
}

#[test]
fn a_suspect_that_answers_without_refuting_is_checked_again_a_bounded_number_of_times() {
    // The suspect answers every check at once (its acks carry nothing: it
    // never refutes), so the node checks again, CHECK_ROUNDS times in all,
    // then gives its verdict.
    let mut n = holding_a_weak_suspicion();
    let mut now = Time::from_secs(23);
    let mut checks = 0;
    while state_of(&n, 1) == Some(State::Suspect) && now < Time::from_secs(60) {
        now += Duration::from_millis(100);
        n.handle_timeout(now);
        if let Some((seq, ..)) = ping_to(&transmits(&mut n, now), 1) {
            checks += 1;
            let bare = packet(Message::Ack(Ack { seq, source: &name(1), payload: &[] }), &[]);
            feed(&mut n, now, addr(1), &bare).unwrap();
        }
    }
    assert_eq!(state_of(&n, 1), Some(State::Faulty));
    assert_eq!(checks, super::probe::CHECK_ROUNDS);
    assert_eq!(n.stats().suspicions_checked, super::probe::CHECK_ROUNDS as u64);
}

#[test]
fn every_weak_suspicion_is_checked_not_only_the_first_of_a_member() {
    // Regression: the record of a suspicion that was checked kept its mark
    // when reused, and the next weak suspicion got its verdict unchecked.
    let mut n = holding_a_weak_suspicion();
    let at = Time::from_secs(24);
    n.handle_timeout(at);
    let (seq, ..) = ping_to(&transmits(&mut n, at), 1).expect("a check");
    let (n1, addrs) = (name(1), [addr(1)]);
    let refuted = |incarnation| {
        let alive = Alive { generation: 0, incarnation, name: &n1, addrs: Addrs::from_slice(&addrs), meta: b"" };
        packet(Message::Ack(Ack { seq, source: &n1, payload: &[] }), &[Message::Alive(alive)])
    };
    feed(&mut n, at, addr(1), &refuted(1)).unwrap();
    assert_eq!(state_of(&n, 1), Some(State::Alive));
    // Suspected again at incarnation 1, unconfirmed: checked again.
    let later = Time::from_secs(40);
    feed(&mut n, later, addr(2), &suspicion_of(1, 1, 2)).unwrap();
    n.handle_timeout(later + Duration::from_secs(24));
    assert_eq!(state_of(&n, 1), Some(State::Suspect));
    assert_eq!(n.stats().suspicions_checked, 2);
}

#[test]
fn a_leaving_node_checks_nothing() {
    let mut n = holding_a_weak_suspicion();
    n.leave(Time::from_secs(23));
    n.handle_timeout(Time::from_secs(24));
    assert_eq!(n.stats().suspicions_checked, 0);
    n.check_invariants().unwrap();
}
