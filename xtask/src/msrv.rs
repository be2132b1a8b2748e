//! `cargo xtask msrv`: the oldest Rust each workspace package can be built
//! with, as its dependency graph declares it (`cargo metadata`), against the
//! `rust-version` the package declares. Fails if a declared value is below
//! what a dependency needs.
//!
//! For each package: the largest `rust-version` among the package itself,
//! everything it depends on to build (normal and build dependencies,
//! transitively, for every platform) and its own dev-dependencies (needed
//! for its tests) with theirs. What our own code needs beyond that (the
//! edition, the standard library functions it calls) is checked by the
//! compiler only; the workspace's floor is 1.85 (edition 2024,
//! `Waker::noop`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A version as its numeric components, compared component by component.
type Version = Vec<u64>;

/// `1.85` and `1.85.0` are the same version: padded to three components.
fn parse(v: &str) -> Option<Version> {
    let mut parts: Version = v.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    parts.resize(parts.len().max(3), 0);
    Some(parts)
}

fn show(v: &Version) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask msrv".into());
    }
    let output = std::process::Command::new(crate::cargo())
        .current_dir(crate::root())
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    check(&metadata)
}

fn check(metadata: &Value) -> Result<(), String> {
    let field = |v: &'_ Value, name: &str| v.get(name).cloned().unwrap_or(Value::Null);
    let list = |v: &Value, name: &str| field(v, name).as_array().cloned().unwrap_or_default();
    let text = |v: &Value, name: &str| field(v, name).as_str().map(str::to_owned);
    // Each package's name and declared rust-version.
    let mut packages: BTreeMap<String, (String, Option<Version>)> = BTreeMap::new();
    for p in list(metadata, "packages") {
        let id = text(&p, "id").ok_or("a package without an id")?;
        let name = text(&p, "name").unwrap_or_default();
        let rust = text(&p, "rust_version").and_then(|v| parse(&v));
        packages.insert(id, (name, rust));
    }
    // The resolved graph: (dependency, is it a dev-dependency only).
    let mut deps: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    let resolve = field(metadata, "resolve");
    for node in list(&resolve, "nodes") {
        let id = text(&node, "id").ok_or("a node without an id")?;
        let mut edges = Vec::new();
        for d in list(&node, "deps") {
            let pkg = text(&d, "pkg").ok_or("a dependency without a package")?;
            let dev_only = list(&d, "dep_kinds").iter().all(|k| k.get("kind").and_then(Value::as_str) == Some("dev"));
            edges.push((pkg, dev_only));
        }
        deps.insert(id, edges);
    }
    let members: Vec<String> =
        list(metadata, "workspace_members").iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
    let mut failures = Vec::new();
    let mut overall: Version = Vec::new();
    for member in &members {
        let (name, declared) = packages.get(member).cloned().ok_or("a workspace member without a package")?;
        let (needed, by, crates) = requirement(member, true, &packages, &deps, &members);
        let (users, users_by, _) = requirement(member, false, &packages, &deps, &members);
        let declared_text = declared.as_ref().map_or("none".to_owned(), show);
        let ok = declared.as_ref().is_some_and(|d| *d >= needed);
        println!(
            "msrv: package={name} declared={declared_text} needed={} by={by} crates={crates} users={} by={users_by} {}",
            show(&needed),
            show(&users),
            if ok { "ok" } else { "TOO LOW" }
        );
        if !ok {
            failures.push(format!("{name} declares rust-version {declared_text}, but {by} needs {}", show(&needed)));
        }
        overall = overall.max(needed);
    }
    println!("msrv: workspace needs={}", show(&overall));
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

/// The largest `rust-version` among what `member` depends on (transitively,
/// normal and build dependencies; and the member's own dev-dependencies when
/// `with_dev`), which declares it, and how many crates were looked at.
/// Workspace members are gone through but their own declarations do not
/// count: they are what is being computed.
fn requirement(
    member: &str,
    with_dev: bool,
    packages: &BTreeMap<String, (String, Option<Version>)>,
    deps: &BTreeMap<String, Vec<(String, bool)>>,
    members: &[String],
) -> (Version, String, usize) {
    let edges = |id: &str, dev: bool| -> Vec<String> {
        let list = deps.get(id).map(Vec::as_slice).unwrap_or_default();
        list.iter().filter(|(_, dev_only)| dev || !dev_only).map(|(p, _)| p.clone()).collect()
    };
    let mut stack = edges(member, with_dev);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let (mut needed, mut by): (Version, String) = (Vec::new(), "nothing".to_owned());
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some((name, Some(rust))) = packages.get(&id).filter(|_| !members.contains(&id))
            && *rust > needed
        {
            needed = rust.clone();
            by = name.clone();
        }
        stack.extend(edges(&id, false));
    }
    (needed, by, seen.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_component() {
        assert!(parse("1.88").unwrap() > parse("1.85.1").unwrap());
        assert!(parse("1.100").unwrap() > parse("1.88").unwrap());
        assert_eq!(show(&parse("1.70").unwrap()), "1.70.0");
        assert_eq!(parse("1.85"), parse("1.85.0"));
        assert_eq!(parse("1.x"), None);
    }

    #[test]
    fn a_declared_value_below_a_dependency_is_refused() {
        let metadata: Value = serde_json::from_str(
            r#"{
            "packages": [
                {"id": "a", "name": "app", "rust_version": "1.85"},
                {"id": "b", "name": "lib", "rust_version": "1.80"},
                {"id": "c", "name": "deep", "rust_version": "1.88"},
                {"id": "d", "name": "devtool", "rust_version": "1.90"},
                {"id": "e", "name": "devs-dev", "rust_version": "1.99"}
            ],
            "workspace_members": ["a"],
            "resolve": {"nodes": [
                {"id": "a", "deps": [{"pkg": "b", "dep_kinds": [{"kind": null}]}, {"pkg": "d", "dep_kinds": [{"kind": "dev"}]}]},
                {"id": "b", "deps": [{"pkg": "c", "dep_kinds": [{"kind": "build"}]}]},
                {"id": "c", "deps": []},
                {"id": "d", "deps": [{"pkg": "e", "dep_kinds": [{"kind": "dev"}]}]},
                {"id": "e", "deps": []}
            ]}
        }"#,
        )
        .unwrap();
        let err = check(&metadata).unwrap_err();
        assert_eq!(err, "app declares rust-version 1.85.0, but devtool needs 1.90.0");
    }
}
