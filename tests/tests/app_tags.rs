//! Tags through the public API, over real loopback UDP.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use swim::{Cluster, CommandError, Error, Event, TagChange};
use swim_tests::net::{eventually, fast, join_all};

const LIMIT: Duration = Duration::from_secs(20);

fn change(key: &str, old: Option<&str>, new: Option<&str>) -> TagChange {
    TagChange { key: key.into(), old: old.map(Into::into), new: new.map(Into::into) }
}

/// The tag changes of `name` that `events` reports, until `count` arrive.
async fn changes_of(events: &mut swim::Events, name: &str, count: usize) -> Vec<TagChange> {
    let mut seen = Vec::new();
    let waited = tokio::time::timeout(LIMIT, async {
        while seen.len() < count {
            if let Event::MemberUpdated { member, changed_tags, .. } = events.recv().await.unwrap()
                && member.name == name
            {
                seen.extend(changed_tags);
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "{count} tag changes of {name} arrive; saw {seen:?}");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_gossiped_reported_as_changes_and_filtered_on() {
    let mut members = Vec::new();
    for (i, role) in ["cache", "db", "cache"].into_iter().enumerate() {
        let c = Cluster::builder(format!("tag{i}"))
            .config(fast())
            .bind("127.0.0.1:0".parse().unwrap())
            .tag("role", role)
            .tag("zone", "eu-1")
            .start()
            .await
            .unwrap();
        members.push(c);
    }
    join_all(&members).await;
    let caches = || async {
        let mut names: Vec<String> =
            members[1].members_with_tag("role", "cache").await.unwrap().iter().map(|m| m.name.to_string()).collect();
        names.sort();
        names
    };
    assert!(eventually(LIMIT, || async { caches().await == ["tag0", "tag2"] }).await, "tags arrive with the join");
    let seen = members[1].member("tag0").await.unwrap().unwrap();
    assert_eq!(seen.tags().iter().collect::<Vec<_>>(), [("role", "cache"), ("zone", "eu-1")]);

    let mut events = members[0].events();
    members[2].set_tag("role", "db").await.unwrap();
    assert_eq!(changes_of(&mut events, "tag2", 1).await, [change("role", Some("cache"), Some("db"))]);
    members[2].set_tag("shard", "7").await.unwrap();
    members[2].remove_tag("zone").await.unwrap();
    let changes = changes_of(&mut events, "tag2", 2).await;
    assert!(changes.contains(&change("shard", None, Some("7"))), "{changes:?}");
    assert!(changes.contains(&change("zone", Some("eu-1"), None)), "{changes:?}");
    let tag2 = members[0].member("tag2").await.unwrap().unwrap();
    assert_eq!(tag2.tags().iter().collect::<Vec<_>>(), [("role", "db"), ("shard", "7")]);
    assert!(tag2.has_tag("shard", "7") && tag2.tag("zone").is_none());
    assert!(eventually(LIMIT, || async { caches().await == ["tag0"] }).await, "the filter follows the change");

    for m in &members {
        m.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_that_do_not_fit_or_would_overwrite_raw_metadata_are_refused_and_change_nothing() {
    let c = Cluster::builder("alone").config(fast()).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
    c.set_tag("role", "db").await.unwrap();
    let before = c.local_member().await.unwrap();

    let big = "x".repeat(600);
    match c.set_tag("blob", big).await {
        Err(Error::Command(CommandError::TooLarge { what: "tags", len, limit: 512 })) => assert!(len > 600),
        other => panic!("a tag past the metadata budget is refused, got {other:?}"),
    }
    assert!(matches!(c.set_tag("", "v").await, Err(Error::Tags(swim::TagsError::EmptyKey { .. }))));
    let long_key = "k".repeat(256);
    assert!(matches!(c.set_tag(long_key, "v").await, Err(Error::Tags(swim::TagsError::KeyTooLong { len: 256, .. }))));
    let after = c.local_member().await.unwrap();
    assert_eq!((after.meta, after.incarnation), (before.meta, before.incarnation), "nothing changed");

    c.set_metadata("raw=bytes").await.unwrap();
    assert!(matches!(c.set_tag("role", "db").await, Err(Error::MetadataNotTags)));
    assert!(matches!(c.remove_tag("role").await, Err(Error::MetadataNotTags)));
    assert_eq!(c.local_member().await.unwrap().meta, "raw=bytes", "raw metadata is not overwritten by one tag");
    c.set_tags([("role", "db"), ("shard", "1")]).await.unwrap();
    assert_eq!(c.local_member().await.unwrap().tag("shard"), Some("1"), "set_tags replaces it");
    c.shutdown().await.unwrap();

    let both = Cluster::builder("both").bind("127.0.0.1:0".parse().unwrap()).metadata("raw").tag("a", "b");
    assert!(matches!(both.start().await, Err(Error::MetadataNotTags)));
}
