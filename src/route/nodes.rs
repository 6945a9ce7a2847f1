//! Several shared BuildKits: which node of a comma-separated `DOCKROUTE_BUILDKIT_HOST`
//! (or `BUILDKIT_HOST` on the daemonless route) a build goes to. Pure.
//!
//! A build is sent to one node chosen by a stable hash of what it builds, so a project's
//! rebuilds land on the node that holds its cache. What is hashed is the build's
//! [`Affinity`]: the canonical context directory and the Dockerfile's path (buildx's
//! kubernetes driver, `loadbalance=sticky`, hashes the absolute context path the same way:
//! docker/buildx `commands/build.go`, `contextPathHash`; the Dockerfile is added so two
//! images built from one directory can live on two nodes).
//!
//! The order is rendezvous hashing (highest random weight): each node gets the weight
//! `SHA-256(key, node)` and the nodes are tried from the heaviest down. Unlike "hash
//! modulo the number of nodes", removing a node moves only the builds that were on it,
//! and adding one moves only the builds it now wins; every client computes the same order
//! with no shared state. The probe checks reachability in this order
//! ([`crate::probe::buildkit`]); [`choose`] then takes the first node that answers.
//!
//! Invariants: the order depends only on the list's members and the key (not on the
//! list's order or on duplicates), and equal inputs give the same order on every machine.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// The addresses of a node list as set: split at commas, each trimmed, empty entries and
/// repeats dropped (the first occurrence kept).
#[must_use]
pub fn parse_list(value: &str) -> Vec<String> {
    let mut nodes: Vec<String> = Vec::new();
    for a in value.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        if !nodes.iter().any(|n| n == a) {
            nodes.push(a.to_string());
        }
    }
    nodes
}

/// What a build is recognised by when its node is chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Affinity {
    /// The build context directory, canonical (symlinks resolved), as the probe found it.
    pub context: PathBuf,
    /// The Dockerfile's path, canonical when it exists; `None` when it is not a local file.
    pub dockerfile: Option<PathBuf>,
}

impl Affinity {
    /// The bytes hashed: the context, a NUL (which no path contains), the Dockerfile.
    #[must_use]
    pub fn key(&self) -> Vec<u8> {
        let mut k = self.context.as_os_str().as_bytes().to_vec();
        k.push(0);
        if let Some(f) = &self.dockerfile {
            k.extend_from_slice(f.as_os_str().as_bytes());
        }
        k
    }
}

/// The hash state after `key`: each node's weight continues from it, so the key is
/// hashed once per choice, not once per node.
fn keyed(key: &[u8]) -> Sha256 {
    let mut h = Sha256::new();
    // The key's length first, so that no (key, node) pair reads as another.
    h.update((key.len() as u64).to_be_bytes());
    h.update(key);
    h
}

/// A node's rendezvous weight: the first 8 bytes of SHA-256(len(key), key, node).
fn weight(keyed: &Sha256, node: &str) -> u64 {
    let mut h = keyed.clone();
    h.update(node.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first)
}

/// The nodes in the order a build with `key` tries them: heaviest weight first, ties
/// (practically never) by address. A single node needs no hashing.
#[must_use]
pub fn order<'a>(nodes: &'a [String], key: &[u8]) -> Vec<&'a str> {
    if let [one] = nodes {
        return vec![one.as_str()];
    }
    let k = keyed(key);
    let mut weighted: Vec<(u64, &str)> =
        nodes.iter().map(|n| (weight(&k, n), n.as_str())).collect();
    weighted.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    weighted.dedup_by(|a, b| a.1 == b.1);
    weighted.into_iter().map(|(_, n)| n).collect()
}

/// One node's reachability, as the probe found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeCheck {
    /// The address.
    pub address: String,
    /// Why nothing answers there; `None` when something does (or dockroute cannot tell
    /// without buildctl: `kube-pod://`, `docker-container://` …).
    pub unreachable: Option<String>,
}

/// The node a build goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Its address.
    pub address: String,
    /// Its place in the build's order, from 1.
    pub rank: usize,
    /// How many nodes the list has.
    pub of: usize,
    /// The nodes before it in the order that do not answer, and why.
    pub skipped: Vec<(String, String)>,
}

/// The first node in `key`'s order that `checks` does not mark unreachable (a node not
/// checked counts as answering: buildctl then says what is wrong itself). `Err` lists
/// every node with why it does not answer, in order, when none does (or the list is
/// empty).
///
/// # Errors
/// Every node, in order, with why it does not answer.
pub fn choose(
    nodes: &[String],
    key: &[u8],
    checks: &[NodeCheck],
) -> Result<Choice, Vec<(String, String)>> {
    let ordered = order(nodes, key);
    let mut skipped = Vec::new();
    for (i, node) in ordered.iter().enumerate() {
        let dead = checks
            .iter()
            .find(|c| c.address == *node)
            .and_then(|c| c.unreachable.clone());
        match dead {
            Some(why) => skipped.push(((*node).to_string(), why)),
            None => {
                return Ok(Choice {
                    address: (*node).to_string(),
                    rank: i + 1,
                    of: ordered.len(),
                    skipped,
                })
            }
        }
    }
    Err(skipped)
}

/// The context and Dockerfile as the key shows them in notices (`explain`).
#[must_use]
pub(crate) fn describe(affinity: Option<&Affinity>) -> String {
    match affinity {
        Some(Affinity {
            context,
            dockerfile: Some(f),
        }) => format!("{} and {}", context.display(), f.display()),
        Some(Affinity {
            context,
            dockerfile: None,
        }) => context.display().to_string(),
        None => "no local context".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &[&str]) -> Vec<String> {
        s.iter().map(ToString::to_string).collect()
    }

    fn aff(ctx: &str) -> Affinity {
        Affinity {
            context: ctx.into(),
            dockerfile: Some(format!("{ctx}/Dockerfile").into()),
        }
    }

    #[test]
    fn lists_are_split_trimmed_and_deduplicated() {
        let rows: &[(&str, &[&str])] = &[
            ("tcp://a:1", &["tcp://a:1"]),
            ("tcp://a:1,tcp://b:1", &["tcp://a:1", "tcp://b:1"]),
            (" tcp://a:1 , tcp://b:1 ,", &["tcp://a:1", "tcp://b:1"]),
            (
                "tcp://a:1,,tcp://a:1,unix:///s",
                &["tcp://a:1", "unix:///s"],
            ),
            (",", &[]),
            (" , ,", &[]),
        ];
        for (value, want) in rows {
            assert_eq!(parse_list(value), list(want), "{value:?}");
        }
    }

    #[test]
    fn the_key_separates_context_and_dockerfile() {
        let a = Affinity {
            context: "/w/a".into(),
            dockerfile: Some("/w/a/Dockerfile".into()),
        };
        assert_eq!(a.key(), b"/w/a\0/w/a/Dockerfile");
        let none = Affinity {
            context: "/w/a".into(),
            dockerfile: None,
        };
        assert_eq!(none.key(), b"/w/a\0");
    }

    #[test]
    fn the_order_is_a_permutation_independent_of_the_lists_order() {
        let nodes = list(&["tcp://bk-0:1234", "tcp://bk-1:1234", "tcp://bk-2:1234"]);
        let mut reversed = nodes.clone();
        reversed.reverse();
        for ctx in ["/w/a", "/w/b", "/srv/app", ""] {
            let key = aff(ctx).key();
            let o = order(&nodes, &key);
            let mut sorted = o.clone();
            sorted.sort_unstable();
            assert_eq!(
                sorted,
                ["tcp://bk-0:1234", "tcp://bk-1:1234", "tcp://bk-2:1234"]
            );
            assert_eq!(order(&reversed, &key), o, "{ctx}");
            // Stable: the same inputs, the same order.
            assert_eq!(order(&nodes, &key), o);
        }
        assert!(order(&[], b"k").is_empty());
    }

    /// Fixed values, so a change to what is hashed (which would move every project off
    /// its cache) cannot pass unnoticed.
    #[test]
    fn weights_are_pinned() {
        let nodes = list(&["tcp://bk-0:1234", "tcp://bk-1:1234", "tcp://bk-2:1234"]);
        let got: Vec<Vec<&str>> = ["/w/a", "/w/b", "/w/c", "/w/d"]
            .iter()
            .map(|c| order(&nodes, &aff(c).key()))
            .collect();
        let want: Vec<Vec<&str>> = PINNED.iter().map(|o| o.to_vec()).collect();
        assert_eq!(got, want);
    }

    const PINNED: [[&str; 3]; 4] = [
        ["tcp://bk-0:1234", "tcp://bk-2:1234", "tcp://bk-1:1234"],
        ["tcp://bk-0:1234", "tcp://bk-2:1234", "tcp://bk-1:1234"],
        ["tcp://bk-2:1234", "tcp://bk-0:1234", "tcp://bk-1:1234"],
        ["tcp://bk-1:1234", "tcp://bk-2:1234", "tcp://bk-0:1234"],
    ];

    #[test]
    fn builds_spread_over_the_nodes() {
        let nodes = list(&["tcp://bk-0:1234", "tcp://bk-1:1234", "tcp://bk-2:1234"]);
        let mut counts = [0usize; 3];
        for i in 0..3000 {
            let first = order(&nodes, &aff(&format!("/builds/project-{i}")).key())[0];
            counts[nodes.iter().position(|n| n == first).unwrap()] += 1;
        }
        // Each of three nodes gets a third, give or take: 1000 ± 150 is over 5 sigma.
        for c in counts {
            assert!((850..=1150).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn removing_a_node_moves_only_its_builds() {
        let all = list(&[
            "tcp://bk-0:1",
            "tcp://bk-1:1",
            "tcp://bk-2:1",
            "tcp://bk-3:1",
        ]);
        let without: Vec<String> = all
            .iter()
            .filter(|n| *n != "tcp://bk-2:1")
            .cloned()
            .collect();
        let mut moved = 0;
        for i in 0..1000 {
            let key = aff(&format!("/p/{i}")).key();
            let before = order(&all, &key);
            let after = order(&without, &key);
            if before[0] == "tcp://bk-2:1" {
                moved += 1;
                // It goes where it would have failed over to.
                assert_eq!(after[0], before[1]);
            } else {
                assert_eq!(after[0], before[0], "{i}");
            }
            // The rest of the order is unchanged too.
            let rest: Vec<&str> = before
                .into_iter()
                .filter(|n| *n != "tcp://bk-2:1")
                .collect();
            assert_eq!(after, rest);
        }
        assert!(moved > 150 && moved < 350, "{moved}");
    }

    #[test]
    fn choose_takes_the_first_node_that_answers() {
        let nodes = list(&["tcp://bk-0:1", "tcp://bk-1:1", "tcp://bk-2:1"]);
        let key = aff("/w/a").key();
        let o = order(&nodes, &key);
        let dead = |a: &str| NodeCheck {
            address: a.into(),
            unreachable: Some(format!("{a}: connection refused")),
        };
        let alive = |a: &str| NodeCheck {
            address: a.into(),
            unreachable: None,
        };
        struct Row {
            checks: Vec<NodeCheck>,
            want: Result<(usize, usize), usize>,
        }
        let rows = [
            // Nothing checked (kube-pod:// …): the first in order.
            Row {
                checks: vec![],
                want: Ok((0, 0)),
            },
            Row {
                checks: vec![alive(o[0])],
                want: Ok((0, 0)),
            },
            Row {
                checks: vec![dead(o[0]), alive(o[1])],
                want: Ok((1, 1)),
            },
            // A node not checked after a dead one counts as answering.
            Row {
                checks: vec![dead(o[0])],
                want: Ok((1, 1)),
            },
            Row {
                checks: vec![dead(o[0]), dead(o[1]), alive(o[2])],
                want: Ok((2, 2)),
            },
            // A dead node later in the order does not matter.
            Row {
                checks: vec![alive(o[0]), dead(o[1])],
                want: Ok((0, 0)),
            },
            Row {
                checks: vec![dead(o[2]), dead(o[1]), dead(o[0])],
                want: Err(3),
            },
        ];
        for (i, r) in rows.iter().enumerate() {
            match (choose(&nodes, &key, &r.checks), r.want) {
                (Ok(c), Ok((at, skipped))) => {
                    assert_eq!(c.address, o[at], "row {i}");
                    assert_eq!(c.rank, at + 1, "row {i}");
                    assert_eq!(c.of, 3, "row {i}");
                    assert_eq!(c.skipped.len(), skipped, "row {i}");
                    for (k, (addr, why)) in c.skipped.iter().enumerate() {
                        assert_eq!(addr, o[k]);
                        assert!(why.starts_with(o[k]), "{why}");
                    }
                }
                (Err(all), Err(n)) => {
                    assert_eq!(all.len(), n, "row {i}");
                    let addrs: Vec<&str> = all.iter().map(|(a, _)| a.as_str()).collect();
                    assert_eq!(addrs, o, "in order");
                }
                (got, want) => panic!("row {i}: got {got:?}, want {want:?}"),
            }
        }
        assert_eq!(choose(&[], &key, &[]), Err(vec![]));
    }

    #[test]
    fn one_node_is_always_chosen_when_it_answers() {
        let one = list(&["unix:///run/buildkit/buildkitd.sock"]);
        let c = choose(&one, b"anything", &[]).unwrap();
        assert_eq!(
            (c.address.as_str(), c.rank, c.of),
            ("unix:///run/buildkit/buildkitd.sock", 1, 1)
        );
    }

    #[test]
    fn describe_names_what_was_hashed() {
        assert_eq!(describe(Some(&aff("/w/a"))), "/w/a and /w/a/Dockerfile");
        assert_eq!(
            describe(Some(&Affinity {
                context: "/w/a".into(),
                dockerfile: None
            })),
            "/w/a"
        );
        assert_eq!(describe(None), "no local context");
    }
}
