//! The `node_answers` fuzz target's checks as ordinary tests: hand-made answers (sizes
//! of 2^64 − 1, 2^62 and 8 GiB, a node linking one file thousands of times), then a
//! property test over arbitrary bytes. No answer makes any reader panic, disagree with
//! another, or exceed its memory bound.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use dataseal_btfs::fuzzing::node_answers;
use proptest::prelude::*;

/// This process's peak resident memory, where the system says.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn section(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// An input in `node_answers`' layout.
fn input(flags: u8, stat: u64, leaves: &[&[u8]], cat: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&stat.to_le_bytes());
    out.push(leaves.len() as u8);
    section(b"an arbitrary node", &mut out);
    for leaf in leaves {
        section(leaf, &mut out);
    }
    section(cat, &mut out);
    section(b"not a CAR", &mut out);
    section(b"{\"not\": \"an answer\"}", &mut out);
    out.extend_from_slice(tail);
    out
}

#[test]
fn huge_stat_sizes_and_repeated_links() {
    for stat in [u64::MAX, 1 << 62, 8 << 30, (1 << 20) + 1, 0, 5] {
        for flags in [1u8, 1 | 2, 1 | 2 | 4] {
            let data = input(flags, stat, &[b"abc", b"defg"], b"abcdefg", &[]);
            node_answers(&data).unwrap();
        }
    }
    // A node linking the file 20,000 times, each link said to hold nothing; then 32
    // times, each said to hold the file's 7 bytes; then sizes that do not add up.
    let mut tail = 0u64.to_le_bytes().to_vec();
    tail.extend_from_slice(&20_000u16.to_le_bytes());
    node_answers(&input(1 | 2 | 4, 7, &[b"", b""], b"", &tail)).unwrap();
    let mut tail = 7u64.to_le_bytes().to_vec();
    tail.extend_from_slice(&32u16.to_le_bytes());
    node_answers(&input(1 | 2 | 4, 7, &[b"abc", b"defg"], b"abcdefg", &tail)).unwrap();
    let mut tail = Vec::new();
    for size in [u64::MAX, 1 << 62] {
        tail.extend_from_slice(&size.to_le_bytes());
    }
    tail.extend_from_slice(&(8u64 << 30).to_le_bytes());
    node_answers(&input(
        1 | 2 | 4 | 8 | 16,
        7,
        &[b"abc", b"defg"],
        b"abcdefg",
        &tail,
    ))
    .unwrap();
    if let Some(peak) = peak_rss() {
        assert!(peak < 1 << 30, "peak resident memory {peak} bytes");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// No byte sequence served by a node makes any reader panic, disagree with another
    /// or exceed its memory bound.
    #[test]
    fn no_node_answer_breaks_a_reader(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert_eq!(node_answers(&data), Ok(()));
        if let Some(peak) = peak_rss() {
            prop_assert!(peak < 1 << 30, "peak resident memory {} bytes", peak);
        }
    }

    /// The same over inputs shaped like the layout, so more of them reach the DAG walks.
    #[test]
    fn no_shaped_node_answer_breaks_a_reader(
        flags in any::<u8>(),
        stat in prop_oneof![any::<u64>(), 0u64..100],
        leaves in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..4),
        cat in proptest::collection::vec(any::<u8>(), 0..200),
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let leaves: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(node_answers(&input(flags, stat, &leaves, &cat, &tail)), Ok(()));
    }
}
