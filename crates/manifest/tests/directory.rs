//! Building from a directory, checking against one, incremental rebuilds and diffs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use dataseal_manifest::*;
use sha2::{Digest, Sha256};

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "x/z", b"z");
    write(d.path(), "x-y", b"xy");
    write(d.path(), "B.txt", b"upper");
    write(d.path(), "a.txt", b"lower");
    write(d.path(), "é/ü.bin", &[0u8; 3000]);
    write(d.path(), "scratch.tmp", b"ignored");
    write(d.path(), "deep/a/b/c.txt", b"");
    d
}

fn paths(objects: &[ObjectEntry]) -> Vec<&str> {
    objects.iter().map(|o| o.path.as_str()).collect()
}

#[test]
fn builds_in_canonical_order_with_digests_and_ignores() {
    let d = tree();
    let objects = build_objects(d.path(), &["*.tmp".to_owned()], None).unwrap();
    assert_eq!(
        paths(&objects),
        ["B.txt", "a.txt", "deep/a/b/c.txt", "x-y", "x/z", "é/ü.bin"]
    );
    let ab = objects.iter().find(|o| o.path.as_str() == "a.txt").unwrap();
    assert_eq!(ab.size, 5);
    assert_eq!(
        ab.sha256.unwrap().0,
        <[u8; 32]>::from(Sha256::digest(b"lower"))
    );
    let all = build_objects(d.path(), &[], None).unwrap();
    assert_eq!(all.len(), 7);
    // Building twice gives the same bytes.
    let mut m = sample();
    m.pii = false;
    m.consent = None;
    m.objects = objects;
    let again = build_objects(d.path(), &["*.tmp".to_owned()], None).unwrap();
    let mut m2 = m.clone();
    m2.objects = again;
    assert_eq!(m.to_payload().unwrap(), m2.to_payload().unwrap());
}

#[cfg(unix)]
#[test]
fn symlinks_inside_are_followed_and_leaving_ones_rejected() {
    let d = tree();
    std::os::unix::fs::symlink(d.path().join("a.txt"), d.path().join("link.txt")).unwrap();
    let objects = build_objects(d.path(), &["*.tmp".to_owned()], None).unwrap();
    let link = objects
        .iter()
        .find(|o| o.path.as_str() == "link.txt")
        .unwrap();
    assert_eq!(link.size, 5);

    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret", b"s");
    std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("escape")).unwrap();
    let err = build_objects(d.path(), &[], None).unwrap_err();
    assert!(err.to_string().contains("leaves the tree"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn non_utf8_names_are_rejected() {
    use std::os::unix::ffi::OsStrExt;
    let d = tree();
    let name = std::ffi::OsStr::from_bytes(b"bad\xffname");
    fs::write(d.path().join(name), b"x").unwrap();
    let err = build_objects(d.path(), &[], None).unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn names_other_systems_cannot_write_back_are_rejected() {
    for (name, why) in [
        ("con.txt", "Windows device"),
        ("x/a:b", "':'"),
        ("trailing.", "ending in '.'"),
        ("what?.csv", "Windows refuses"),
    ] {
        let d = tree();
        write(d.path(), name, b"x");
        let err = build_objects(d.path(), &[], None).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Path { .. }), "{name}: {err:?}");
        assert!(text.contains(name) && text.contains(why), "{name}: {text}");
        // An ignored file may have any name.
        write(d.path(), "aux:1.tmp", b"x");
        assert!(build_objects(d.path(), &[name.to_owned(), "*.tmp".to_owned()], None).is_ok());
    }
}

#[cfg(target_os = "linux")]
#[test]
fn names_a_case_insensitive_system_would_merge_are_rejected() {
    for (first, second, why) in [
        ("A.txt", "a.txt", "same file"),
        ("cafe\u{301}", "caf\u{e9}", "same file"),
        ("Deep/q", "deep/a/b/c.txt", "one directory two ways"),
    ] {
        let d = tree();
        write(d.path(), first, b"1");
        write(d.path(), second, b"2");
        let err = build_objects(d.path(), &[], None).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::PathCollision { .. }), "{err:?}");
        assert!(
            text.contains(&format!("{first:?}"))
                && text.contains(&format!("{second:?}"))
                && text.contains(why),
            "{text}"
        );
        let err = check_dir(&sample(), d.path());
        assert!(matches!(err, Err(Error::PathCollision { .. })), "{err:?}");
    }
}

fn manifest_of(root: &Path) -> Manifest {
    let mut m = sample();
    m.ignore = vec!["*.tmp".into()];
    m.objects = build_objects(root, &m.ignore, None).unwrap();
    m
}

#[test]
fn check_reports_every_difference_by_name() {
    let d = tree();
    let m = manifest_of(d.path());
    let clean = check_dir(&m, d.path()).unwrap();
    assert!(clean.iter().all(|c| !c.is_failure()), "{clean:?}");
    assert_eq!(clean.len(), m.objects.len());

    fs::remove_file(d.path().join("x-y")).unwrap(); // missing
    write(d.path(), "new.txt", b"extra"); // extra
    write(d.path(), "a.txt", b"LOWER"); // changed content, same size
    write(d.path(), "B.txt", b"upper case"); // changed size
    fs::rename(d.path().join("x/z"), d.path().join("x/renamed")).unwrap(); // renamed
    write(d.path(), "more.tmp", b"still ignored");
    let checks = check_dir(&m, d.path()).unwrap();
    let failures: Vec<&FileCheck> = checks.iter().filter(|c| c.is_failure()).collect();
    let p = |s: &str| s.parse::<CanonicalPath>().unwrap();
    assert!(
        failures.contains(&&FileCheck::Missing { path: p("x-y") }),
        "{failures:?}"
    );
    assert!(failures.contains(&&FileCheck::Extra { path: p("new.txt") }));
    assert!(failures.contains(&&FileCheck::Changed {
        path: p("a.txt"),
        field: "sha256"
    }));
    assert!(failures.contains(&&FileCheck::Changed {
        path: p("B.txt"),
        field: "size"
    }));
    assert!(failures.contains(&&FileCheck::Renamed {
        from: p("x/z"),
        to: p("x/renamed")
    }));
    assert_eq!(failures.len(), 5, "{failures:?}");
    let json = serde_json::to_string(&checks).unwrap();
    assert!(json.contains("\"status\":\"renamed\""));
}

#[test]
fn incremental_rebuild_reuses_unchanged_digests_only() {
    let d = tree();
    let old = SystemTime::now() - Duration::from_secs(3600);
    for entry in walkdir::WalkDir::new(d.path()) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            fs::File::options()
                .write(true)
                .open(entry.path())
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
    }
    let mut prev = manifest_of(d.path());
    prev.created = dataseal_base::Timestamp::now();
    // Poison the previous digest of a.txt: if it is reused, the poison shows.
    let poisoned = Sha256Digest([0xee; 32]);
    prev.objects
        .iter_mut()
        .find(|o| o.path.as_str() == "a.txt")
        .unwrap()
        .sha256 = Some(poisoned);
    // x-y changes (new mtime), B.txt changes size.
    write(d.path(), "x-y", b"XY");
    write(d.path(), "B.txt", b"bigger now");
    let rebuilt = build_objects(d.path(), &prev.ignore, Some(&prev)).unwrap();
    let get = |p: &str| rebuilt.iter().find(|o| o.path.as_str() == p).unwrap();
    assert_eq!(
        get("a.txt").sha256,
        Some(poisoned),
        "unchanged file was re-read"
    );
    assert_eq!(
        get("x-y").sha256.unwrap().0,
        <[u8; 32]>::from(Sha256::digest(b"XY"))
    );
    assert_eq!(get("B.txt").size, 10);
    // Files modified within two seconds of the previous build are re-read.
    let mut racy = prev.clone();
    racy.created = dataseal_base::Timestamp::from_unix_seconds(
        i64::try_from(
            old.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
            + 1,
    )
    .unwrap();
    let rebuilt = build_objects(d.path(), &prev.ignore, Some(&racy)).unwrap();
    assert_ne!(
        rebuilt
            .iter()
            .find(|o| o.path.as_str() == "a.txt")
            .unwrap()
            .sha256,
        Some(poisoned)
    );
}

#[test]
fn diff_reports_objects_and_governance_changes() {
    let old = sample();
    let mut new = sample();
    new.objects.remove(0);
    new.objects
        .push(ObjectEntry::public("z.csv".parse().unwrap(), 1, digest(8)));
    new.objects[0].size += 1;
    new.license = "CC-BY-NC-4.0".parse().unwrap();
    new.purposes.insert("training".parse().unwrap());
    new.regions.remove(&"US".parse().unwrap());
    new.sensitivity = Sensitivity::Internal;
    new.consent.as_mut().unwrap().lawful_basis = LawfulBasis::LegitimateInterests;
    new.retention = None;
    new.description.push_str(" (edited)");
    let d = diff(&old, &new);
    assert_eq!(
        d.added
            .iter()
            .map(CanonicalPath::as_str)
            .collect::<Vec<_>>(),
        ["z.csv"]
    );
    assert_eq!(
        d.removed
            .iter()
            .map(CanonicalPath::as_str)
            .collect::<Vec<_>>(),
        ["a.csv"]
    );
    assert_eq!(
        d.changed
            .iter()
            .map(CanonicalPath::as_str)
            .collect::<Vec<_>>(),
        ["x-y"]
    );
    let fields: Vec<&str> = d.governance.iter().map(|c| c.field).collect();
    assert_eq!(
        fields,
        [
            "license",
            "consent",
            "purposes",
            "regions",
            "retention",
            "sensitivity"
        ]
    );
    assert!(diff(&old, &old).is_empty());
}
