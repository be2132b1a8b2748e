//! Where member updates go: into the infection-style gossip queue, or, in
//! [`DisseminationStyle::Multicast`] mode, straight to every member.

use super::Node;
use super::transmit::Outgoing;
use crate::config::DisseminationStyle;
use crate::members::{LOCAL, State};
use crate::time::Time;

impl Node {
    /// Disseminates the current state of the member in `slot`.
    ///
    /// With infection, the update is queued for piggybacking. With
    /// multicast, only news this node originates goes out (its own state,
    /// and verdicts it reached itself); news heard from others is applied but
    /// not passed on, as in the SWIM paper's basic protocol.
    pub(super) fn disseminate(&mut self, now: Time, slot: u32) {
        match self.config.dissemination.style {
            DisseminationStyle::Infection => {
                self.gossip.enqueue(slot, now);
                self.arm_gossip(now);
            }
            DisseminationStyle::Multicast => {
                let own_verdict = self.members.get(slot).is_some_and(|e| {
                    matches!(e.state, State::Suspect | State::Faulty) && e.accuser[..] == *self.local_name()
                });
                if slot == LOCAL || own_verdict {
                    self.multicast(slot);
                }
            }
        }
    }

    /// Sends the member's current state to every live member but this node,
    /// each in a datagram of its own.
    pub(super) fn multicast(&mut self, slot: u32) {
        let Some(member) = self.members.reference(slot) else { return };
        let mut from = LOCAL + 1;
        while let Some((at, to)) = self.next_live_addr(from) {
            from = at + 1;
            let receiver = self.members.get(at).and_then(|e| self.tag(&e.name));
            self.send(Outgoing::Update { to, member, receiver });
        }
    }

    /// The first live member other than this node at or after table slot
    /// `from`, and its address.
    fn next_live_addr(&self, from: u32) -> Option<(u32, std::net::SocketAddr)> {
        let slots = u32::try_from(self.members.slots()).unwrap_or(u32::MAX);
        (from..slots).find_map(|slot| {
            let e = self.members.get(slot)?;
            if !e.state.is_live() {
                return None;
            }
            Some((slot, *e.addrs.first()?))
        })
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use swim_wire::{Faulty, Gossip, Kind, Message};

    use super::super::tests::{config, feed, introduce, name, next_probe, node, packet, parse, transmits};
    use crate::config::{Config, DisseminationStyle};
    use crate::members::State;
    use crate::time::Time;

    fn basic() -> Config {
        config().with(|c| {
            c.suspicion.enabled = false;
            c.dissemination.style = DisseminationStyle::Multicast;
        })
    }

    #[test]
    fn a_verdict_goes_to_every_live_member_in_its_own_datagram() {
        let mut n = node(basic());
        introduce(&mut n, Time::ZERO, 4);
        let (target, _, sent) = next_probe(&mut n, Time::ZERO);
        let at = sent + Duration::from_secs(1);
        n.handle_timeout(at);
        let out: Vec<_> = transmits(&mut n, at)
            .into_iter()
            .filter(|(_, bytes)| parse(bytes).primary().kind() == Kind::Gossip)
            .collect();
        assert_eq!(out.len(), 3, "the three members still alive");
        for (to, bytes) in &out {
            assert_ne!(*to, super::super::tests::addr(target), "not to the member declared faulty");
            let updates: Vec<_> = parse(bytes).piggyback().collect();
            let target_name = name(target);
            assert!(
                matches!(updates[..], [Message::Faulty(Faulty { name, .. })] if name == &target_name[..]),
                "{updates:?}"
            );
        }
        // Nothing rides on later pings: the queue holds no member updates.
        let (_, _, later) = next_probe(&mut n, at);
        n.handle_timeout(later);
        assert_eq!(n.stats().queued_updates, 0);
    }

    #[test]
    fn news_from_others_is_applied_but_not_passed_on() {
        let mut n = node(basic());
        introduce(&mut n, Time::ZERO, 4);
        transmits(&mut n, Time::ZERO);
        let faulty = Message::Faulty(Faulty { generation: 0, incarnation: 0, name: &name(2), by: &name(1) });
        let bytes = packet(Message::Gossip(Gossip { source: &name(1) }), &[faulty]);
        feed(&mut n, Time::ZERO, super::super::tests::addr(1), &bytes).unwrap();
        assert_eq!(n.member(&name(2)).map(|m| m.state), Some(State::Faulty));
        assert!(transmits(&mut n, Time::ZERO).is_empty(), "no relaying, no reply");
    }

    #[test]
    fn a_refutation_goes_straight_to_the_accuser_and_three_random_members() {
        let mut n = node(config());
        introduce(&mut n, Time::ZERO, 8);
        transmits(&mut n, Time::ZERO);
        let suspicion =
            Message::Suspect(swim_wire::Suspect { generation: 0, incarnation: 0, name: &name(0), by: &name(5) });
        let bytes = packet(Message::Ack(swim_wire::Ack { seq: 0, source: &name(2), payload: &[] }), &[suspicion]);
        feed(&mut n, Time::ZERO, super::super::tests::addr(2), &bytes).unwrap();
        assert_eq!(n.incarnation(), 1, "refuted");
        let updates: Vec<_> = transmits(&mut n, Time::ZERO)
            .into_iter()
            .filter(|(_, bytes)| parse(bytes).primary().kind() == Kind::Gossip)
            .collect();
        assert_eq!(updates.len(), 4, "three random members and the accuser");
        assert!(updates.iter().any(|(to, _)| *to == super::super::tests::addr(5)), "the accuser hears it first-hand");
        for (_, bytes) in &updates {
            let own = name(0);
            assert!(matches!(
                parse(bytes).piggyback().next(),
                Some(Message::Alive(a)) if a.name == &own[..] && a.incarnation == 1
            ));
        }
        assert!(n.stats().queued_updates > 0, "and it rides on later messages too");
    }

    #[test]
    fn infection_is_the_default_and_queues_instead() {
        let mut n = node(config().with(|c| c.suspicion.enabled = false));
        introduce(&mut n, Time::ZERO, 4);
        assert!(n.stats().queued_updates > 0, "the introductions wait to be piggybacked");
        let mut m = node(basic());
        introduce(&mut m, Time::ZERO, 4);
        assert_eq!(m.stats().queued_updates, 0, "multicast mode relays nothing it heard");
    }
}
