use super::*;

fn name(i: u32) -> Vec<u8> {
    format!("member-{i}").into_bytes()
}

/// Leaves holding members `ids` (in that order, slot = position), each at
/// incarnation `inc(id)`.
fn leaves(capacity: usize, ids: &[u32], inc: impl Fn(u32) -> u32) -> Leaves {
    let mut l = Leaves::with_capacity(capacity);
    for (slot, &id) in ids.iter().enumerate() {
        let key = name_key(&name(id));
        l.insert(crate::convert::to_u32(slot), key, record_hash(key, 7, inc(id), State::Alive));
    }
    l
}

#[test]
fn equal_tables_have_equal_sums_whatever_their_order_and_leaf_count() {
    let ids: Vec<u32> = (0..300).collect();
    let reversed: Vec<u32> = ids.iter().rev().copied().collect();
    let (a, b) = (leaves(1, &ids, |_| 1), leaves(4096, &reversed, |_| 1));
    assert_ne!(a.len(), b.len(), "the two tables hold different leaf counts");
    for buckets in [1, 2, 8, 64, 256, 1024, MAX_BUCKETS] {
        for bucket in 0..buckets {
            assert_eq!(a.bucket_sum(bucket, buckets), b.bucket_sum(bucket, buckets), "bucket {bucket} of {buckets}");
        }
    }
}

#[test]
fn a_changed_record_changes_its_bucket_only() {
    let ids: Vec<u32> = (0..200).collect();
    let a = leaves(200, &ids, |_| 1);
    let mut b = leaves(200, &ids, |_| 1);
    let changed = 57u32;
    let key = name_key(&name(changed));
    b.update(changed, record_hash(key, 7, 1, State::Suspect));
    for buckets in [16, 64, 1024] {
        let differing: Vec<u32> =
            (0..buckets).filter(|&k| a.bucket_sum(k, buckets) != b.bucket_sum(k, buckets)).collect();
        assert_eq!(differing, vec![bucket_of(key, buckets)], "{buckets} buckets");
    }
    // Back to the same record: the sums agree again.
    b.update(changed, record_hash(key, 7, 1, State::Alive));
    assert!((0..64).all(|k| a.bucket_sum(k, 64) == b.bucket_sum(k, 64)));
}

#[test]
fn a_bucket_walk_finds_exactly_its_members_before_and_after_growth() {
    let mut l = Leaves::with_capacity(1);
    for count in [10u32, 100, 1000] {
        while l.members < count as usize {
            let id = crate::convert::to_u32(l.members);
            let key = name_key(&name(id));
            l.insert(id, key, record_hash(key, 7, 1, State::Alive));
        }
        // Fewer, as many and more buckets than leaves.
        for buckets in [4, l.len(), l.len() * 4] {
            for bucket in 0..buckets {
                let mut want: Vec<u32> = (0..count).filter(|&s| bucket_of(l.key(s), buckets) == bucket).collect();
                let mut got = Vec::new();
                let mut walk = Walk::START;
                while let Some(slot) = l.next_in_bucket(bucket, buckets, &mut walk) {
                    got.push(slot);
                    assert!(got.len() <= count as usize, "the walk ends");
                }
                want.sort_unstable();
                got.sort_unstable();
                assert_eq!(got, want, "bucket {bucket} of {buckets} with {} leaves", l.len());
            }
        }
    }
}

#[test]
fn removing_and_reinserting_keeps_sums_and_lists_right() {
    let ids: Vec<u32> = (0..64).collect();
    let mut a = leaves(64, &ids, |_| 1);
    let b = leaves(64, &ids, |_| 1);
    let removed = [3u32, 17, 40];
    for &slot in &removed {
        a.remove(slot);
        a.remove(slot); // twice: nothing more happens
    }
    assert!((0..16).any(|k| a.bucket_sum(k, 16) != b.bucket_sum(k, 16)));
    let mut walked = 0;
    for bucket in 0..16 {
        let mut walk = Walk::START;
        while let Some(slot) = a.next_in_bucket(bucket, 16, &mut walk) {
            assert!(!removed.contains(&slot), "a removed slot is not walked");
            walked += 1;
        }
    }
    assert_eq!(walked, 64 - removed.len());
    for &slot in &removed {
        let key = name_key(&name(slot));
        a.insert(slot, key, record_hash(key, 7, 1, State::Alive));
    }
    assert!((0..16).all(|k| a.bucket_sum(k, 16) == b.bucket_sum(k, 16)));
}

#[test]
fn bucket_counts_are_powers_of_two_about_four_members_each() {
    assert_eq!(buckets_for(0), 1);
    assert_eq!(buckets_for(3), 1);
    assert_eq!(buckets_for(1000), 256);
    assert_eq!(buckets_for(16_000), MAX_BUCKETS);
    assert_eq!(buckets_for(1 << 24), MAX_BUCKETS);
}

#[test]
fn name_keys_are_fixed_by_the_protocol() {
    // Members of every release must agree: a change here changes the wire.
    assert_eq!(name_key(b""), mix(0xcbf2_9ce4_8422_2325));
    // FNV-1a of "a" is 0xaf63dc4c8601ec8c (the published test vector).
    assert_eq!(name_key(b"a"), mix(0xaf63_dc4c_8601_ec8c));
    assert_ne!(salted(1, 2), salted(1, 3), "the key salts the value");
}

#[test]
fn bucket_sets_round_trip_through_bytes() {
    let mut set = BucketSet::default();
    set.fill(100);
    assert_eq!(set.count(), 100);
    assert!(set.contains(99) && !set.contains(100));
    let mut copy = BucketSet::default();
    for i in 0..13 {
        copy.set_byte(i, set.byte(i));
    }
    assert_eq!(copy, set);
    set.clear_all();
    for b in [5, 64, 700, MAX_BUCKETS - 1] {
        set.set(b, true);
    }
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(b) = set.next_from(from) {
        found.push(b);
        from = b + 1;
    }
    assert_eq!(found, vec![5, 64, 700, MAX_BUCKETS - 1]);
    set.set(64, false);
    assert_eq!(set.count(), 3);
}

#[test]
fn a_walk_survives_the_removal_of_the_member_it_stands_on() {
    let ids: Vec<u32> = (0..400).collect();
    let mut l = leaves(400, &ids, |_| 1);
    // More buckets than leaves, as many, and fewer.
    for buckets in [l.len() * 2, l.len(), 8] {
        let bucket =
            (0..buckets).max_by_key(|&b| (0..400).filter(|&s| bucket_of(l.key(s), buckets) == b).count()).unwrap();
        let members: Vec<u32> = (0..400).filter(|&s| bucket_of(l.key(s), buckets) == bucket).collect();
        assert!(members.len() >= 2, "a bucket with several members");
        let mut walk = Walk::START;
        let first = l.next_in_bucket(bucket, buckets, &mut walk).unwrap();
        // The member just walked goes, and another takes its slot elsewhere.
        l.remove(first);
        let key = name_key(b"a newcomer");
        l.insert(first, key, record_hash(key, 7, 1, State::Alive));
        let mut rest = Vec::new();
        while let Some(slot) = l.next_in_bucket(bucket, buckets, &mut walk) {
            rest.push(slot);
            assert!(rest.len() <= 800, "the walk ends");
        }
        for m in members.iter().filter(|&&m| m != first) {
            assert!(rest.contains(m), "member {m} of bucket {bucket}/{buckets} is still walked");
        }
        // Put the original back for the next round.
        let key = name_key(&name(first));
        l.insert(first, key, record_hash(key, 7, 1, State::Alive));
    }
}

#[test]
fn the_consistency_check_sees_a_wrong_sum_or_link() {
    let ids: Vec<u32> = (0..100).collect();
    let mut l = leaves(100, &ids, |_| 1);
    l.remove(40);
    assert!(l.lists_consistent());
    let mut wrong_sum = leaves(100, &ids, |_| 1);
    wrong_sum.sum[3] ^= 1;
    assert!(!wrong_sum.lists_consistent());
    let mut wrong_link = leaves(100, &ids, |_| 1);
    let at = wrong_link.head.iter().position(|&h| h != NONE).unwrap();
    let first = wrong_link.head[at] as usize;
    wrong_link.slots[first].prev = 7;
    assert!(!wrong_link.lists_consistent());
}
