//! Canonical bytes, strict parsing, identity.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use common::*;
use dataseal_manifest::*;
use proptest::prelude::*;

#[test]
fn payload_is_rfc8785_canonical() {
    let payload = sample().to_payload().unwrap();
    let value: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(String::from_utf8(payload.clone()).unwrap(), jcs(&value));
    // Every key is ASCII and none is "/", so the bytes are also canonical DAG-JSON.
    fn keys_ok(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(o) => o
                .iter()
                .all(|(k, v)| k.is_ascii() && k != "/" && keys_ok(v)),
            serde_json::Value::Array(a) => a.iter().all(keys_ok),
            _ => true,
        }
    }
    assert!(keys_ok(&value));
}

#[test]
fn payload_round_trips_and_names_the_version() {
    let m = sample();
    let payload = m.to_payload().unwrap();
    assert_eq!(Manifest::from_payload(&payload).unwrap(), m);
    let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(v["_type"], STATEMENT_TYPE);
    assert_eq!(v["predicateType"], PREDICATE_TYPE);
    assert_eq!(v["subject"][0]["name"], "example-claims@1.2.0");
    // Any change is a new identity.
    let mut m2 = m.clone();
    m2.description.push('!');
    assert_ne!(
        manifest_cid(&payload),
        manifest_cid(&m2.to_payload().unwrap())
    );
    let cid = manifest_cid(&payload);
    assert_eq!(cid.codec(), 0x0129);
    assert!(cid.to_string().starts_with("bagu"));
}

#[test]
fn non_canonical_payloads_are_rejected() {
    let payload = String::from_utf8(sample().to_payload().unwrap()).unwrap();
    let swapped = payload
        .replacen("{\"_type\":\"https://in-toto.io/Statement/v1\",", "{", 1)
        .replacen("}", ",\"_type\":\"https://in-toto.io/Statement/v1\"}", 0);
    let reordered = {
        // Move "_type" to the end of the top-level object.
        let body = payload
            .strip_prefix("{\"_type\":\"https://in-toto.io/Statement/v1\",")
            .unwrap();
        format!(
            "{{{},\"_type\":\"https://in-toto.io/Statement/v1\"}}",
            body.strip_suffix('}').unwrap()
        )
    };
    let _ = swapped;
    let cases = [
        (format!(" {payload}"), "leading space"),
        (payload.replacen(',', ", ", 1), "space after comma"),
        (payload.replacen(":", " :", 1), "space before colon"),
        (reordered, "keys out of order"),
        (
            payload.replacen(
                "\"name\":\"Example claims\"",
                "\"name\":\"Example claim\\u0073\"",
                1,
            ),
            "needless escape",
        ),
        (
            payload.replacen("\"size\":10", "\"size\":1e1", 1),
            "exponent",
        ),
        (
            payload.replacen("\"size\":10", "\"size\":10.0", 1),
            "fraction",
        ),
        (
            payload.replacen("\"size\":10", "\"size\":010", 1),
            "leading zero",
        ),
        (
            payload.replacen("\"pii\":true", "\"pii\":true,\"pii\":true", 1),
            "duplicate key",
        ),
        (
            payload.replacen("\"publisher\":", "\"sealed\":null,\"publisher\":", 1),
            "explicit null",
        ),
        (
            payload.replacen(
                "\"name\":\"Example claims\"",
                "\"name\":\"Example claims\",\"zzz\":1",
                1,
            ),
            "unknown field",
        ),
        (payload.replacen("é", "\\u00e9", 1), "escaped non-ASCII"),
    ];
    for (text, what) in cases {
        assert!(
            Manifest::from_payload(text.as_bytes()).is_err(),
            "{what} was accepted"
        );
    }
}

#[test]
fn statement_shape_is_checked() {
    let payload = String::from_utf8(sample().to_payload().unwrap()).unwrap();
    for (from, to) in [
        (
            "https://in-toto.io/Statement/v1",
            "https://in-toto.io/Statement/v0.1",
        ),
        (PREDICATE_TYPE, "https://example.org/other"),
        (
            "\"name\":\"example-claims@1.2.0\"",
            "\"name\":\"example-claims@1.2.1\"",
        ),
    ] {
        let err = Manifest::from_payload(payload.replacen(from, to, 1).as_bytes()).unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{to}: {err}");
    }
}

#[test]
fn schema_rules_are_enforced() {
    let check = |f: &dyn Fn(&mut Manifest), field: &str| {
        let mut m = sample();
        f(&mut m);
        let err = m.to_payload().unwrap_err();
        assert!(err.to_string().contains(field), "{field}: {err}");
    };
    check(&|m| m.objects.reverse(), "objects");
    check(
        &|m| {
            let o = m.objects[0].clone();
            m.objects.insert(0, o)
        },
        "listed twice",
    );
    check(&|m| m.objects[0].sha256 = None, "objects[a.csv]");
    check(&|m| m.objects[0].size = 1 << 53, "size");
    check(&|m| m.consent = None, "consent");
    check(&|m| m.schema_version = 2, "schemaVersion");
    check(&|m| m.name = "  ".into(), "name");
    check(&|m| m.retention.as_mut().unwrap().until = None, "retention");
    check(
        &|m| m.retention.as_mut().unwrap().until = Some("2020-01-01T00:00:00Z".parse().unwrap()),
        "retention.until",
    );
    check(&|m| m.ignore.push("a[".into()), "ignore");
    check(&|m| m.sealed = Some("not base64!".into()), "sealed");
    check(
        &|m| m.was_revision_of = Some(dataseal_base::Cid::raw_sha256(b"x")),
        "wasRevisionOf",
    );
}

#[test]
fn strict_parsing_names_the_field() {
    let json = String::from_utf8(sample().to_json().unwrap()).unwrap();
    for (from, to, field) in [
        ("\"pii\":true", "\"pii\":true,\"extra\":1", "extra"),
        (
            "\"license\":\"CC-BY-4.0\"",
            "\"license\":\"Not A Licence\"",
            "license",
        ),
        ("\"version\":\"1.2.0\"", "\"version\":\"v1.2\"", "version"),
        (
            "\"datasetId\":\"example-claims\"",
            "\"datasetId\":\"Example\"",
            "dataset id",
        ),
        (
            "\"sensitivity\":\"public\"",
            "\"sensitivity\":\"secret\"",
            "secret",
        ),
        (
            "\"sensitivity\":\"public\"",
            "\"sensitivity\":\"internal\"",
            "must be encrypted",
        ),
        (
            "\"lawfulBasis\":\"consent\"",
            "\"lawfulBasis\":\"whim\"",
            "whim",
        ),
        (
            "\"created\":\"2026-11-01T12:00:00Z\"",
            "\"created\":\"2026-11-01 12:00\"",
            "YYYY",
        ),
        ("\"EU\"", "\"eu\"", "region"),
        ("\"size\":10", "\"size\":-1", "size"),
        ("\"size\":10", "\"size\":1.5", "size"),
        ("\"path\":\"a.csv\"", "\"path\":\"../a.csv\"", ".."),
        (
            "\"tier\":\"research-only\"",
            "\"tier\":\"research-only\",\"more\":true",
            "more",
        ),
    ] {
        let text = json.replacen(from, to, 1);
        assert_ne!(text, json, "{from}");
        let err = Manifest::from_json(text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    assert!(Manifest::from_json(b"").is_err());
    assert!(Manifest::from_json(b"[]").is_err());
    assert_eq!(Manifest::from_json(json.as_bytes()).unwrap(), sample());
}

#[test]
fn canonical_paths_order_by_bytes() {
    let mut paths: Vec<CanonicalPath> = ["x/z", "x-y", "é", "e", "E", "a/b/c", "a/b", "a0"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    paths.sort();
    let got: Vec<&str> = paths.iter().map(CanonicalPath::as_str).collect();
    assert_eq!(got, ["E", "a/b", "a/b/c", "a0", "e", "x-y", "x/z", "é"]);
}

#[test]
fn colliding_object_paths_are_refused_naming_both() {
    for (a, b, why) in [
        ("Data.csv", "data.csv", "same file"),
        ("caf\u{e9}.txt", "cafe\u{301}.txt", "same file"),
        ("STRASSE", "stra\u{df}e", "same file"),
        ("x", "x/y", "needs a directory"),
        ("Train/a", "train/b", "one directory two ways"),
    ] {
        let mut m = sample();
        m.objects = vec![
            ObjectEntry::public(a.parse().unwrap(), 1, Sha256Digest([1; 32])),
            ObjectEntry::public(b.parse().unwrap(), 2, Sha256Digest([2; 32])),
        ];
        m.objects.sort_by(|x, y| x.path.cmp(&y.path));
        let err = m.validate().unwrap_err();
        assert!(matches!(err, Error::PathCollision { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("{a:?}"))
                && text.contains(&format!("{b:?}"))
                && text.contains(why),
            "{text}"
        );
    }
}

#[test]
fn refused_path_forms_do_not_parse_in_a_manifest() {
    let json = String::from_utf8(sample().to_json().unwrap()).unwrap();
    for bad in [
        "c:a.csv", "con.txt", "a.csv.", "a.csv ", "LPT1.csv", "a?.csv",
    ] {
        let text = json.replacen(
            "\"path\":\"a.csv\"",
            &format!("\"path\":{}", serde_json::to_string(bad).unwrap()),
            1,
        );
        assert_ne!(text, json);
        let err = Manifest::from_json(text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
    }
}

fn arb_manifest() -> impl Strategy<Value = Manifest> {
    let paths =
        prop::collection::btree_set("[a-zA-Z0-9 ._-]{1,8}(/[a-zA-Z0-9é ._-]{1,8}){0,2}", 0..20);
    (
        paths,
        any::<u64>(),
        "\\PC{0,40}",
        any::<bool>(),
        0i64..4_000_000_000,
    )
        .prop_map(|(paths, seed, desc, commercial, created)| {
            let mut m = sample();
            m.objects = paths
                .into_iter()
                .filter_map(|p| p.parse::<CanonicalPath>().ok())
                .enumerate()
                .map(|(i, p)| {
                    ObjectEntry::public(
                        p,
                        (seed.wrapping_add(i as u64)) % (1 << 53),
                        Sha256Digest([(i % 256) as u8; 32]),
                    )
                })
                .collect();
            m.objects.sort_by(|a, b| a.path.cmp(&b.path));
            m.objects.dedup_by(|a, b| a.path == b.path);
            // Keep only paths that do not collide case-insensitively with one kept before.
            let mut kept: Vec<ObjectEntry> = Vec::new();
            for o in std::mem::take(&mut m.objects) {
                kept.push(o);
                m.objects.clone_from(&kept);
                if let Err(Error::PathCollision { .. }) = m.validate() {
                    kept.pop();
                }
            }
            m.objects = kept;
            m.description = desc;
            m.license_conditions.commercial_use = commercial;
            m.created = dataseal_base::Timestamp::from_unix_seconds(created).unwrap();
            m.retention = None;
            m
        })
}

proptest! {
    #[test]
    fn any_manifest_round_trips_canonically(m in arb_manifest()) {
        let payload = m.to_payload().unwrap();
        let value: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        prop_assert_eq!(String::from_utf8(payload.clone()).unwrap(), jcs(&value));
        prop_assert_eq!(Manifest::from_payload(&payload).unwrap(), m.clone());
        let json = m.to_json().unwrap();
        prop_assert_eq!(Manifest::from_json(&json).unwrap(), m);
    }
}
