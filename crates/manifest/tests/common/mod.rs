//! A sample manifest and helpers shared by the tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers: a failure should panic")]

use std::collections::BTreeSet;

use dataseal_manifest::*;

pub(crate) fn digest(byte: u8) -> Sha256Digest {
    Sha256Digest([byte; 32])
}

pub(crate) fn sample() -> Manifest {
    Manifest {
        consent: Some(ConsentBasis {
            evidence: Some(Evidence {
                digest: Some(DigestSet::sha256(digest(9))),
                uri: "https://example.org/consent/42".into(),
            }),
            lawful_basis: LawfulBasis::Consent,
            special_category: None,
        }),
        created: "2026-11-01T12:00:00Z".parse().unwrap(),
        creator: vec![Agent {
            email: Some("data@example.org".into()),
            name: "Example Lab".into(),
            url: None,
        }],
        dataset_id: "example-claims".parse().unwrap(),
        description: "Claims with \"quotes\", a tab\t, a newline\n, é and 😀.".into(),
        ignore: vec!["*.tmp".into()],
        license: "CC-BY-4.0".parse().unwrap(),
        license_conditions: LicenseConditions {
            academic_use: true,
            attribution: true,
            commercial_use: false,
            non_commercial_use: true,
            share_alike: false,
            tier: LicenseTier::ResearchOnly,
        },
        name: "Example claims".into(),
        objects: vec![
            ObjectEntry::public("a.csv".parse().unwrap(), 10, digest(1)),
            ObjectEntry::public("x-y".parse().unwrap(), 0, digest(2)),
            ObjectEntry::public("x/z".parse().unwrap(), 5, digest(3)),
            ObjectEntry::public("é.txt".parse().unwrap(), 7, digest(4)),
        ],
        pii: true,
        provenance: Provenance {
            approvals: vec![Approval {
                agent: Agent::named("Carol"),
                role: "compliance".parse().unwrap(),
                time: "2026-11-01T13:00:00Z".parse().unwrap(),
            }],
            reviewers: vec![Agent::named("Bob")],
            was_derived_from: vec![Source {
                digest: Some(DigestSet::sha256(digest(5))),
                license: Some("CC0-1.0".parse().unwrap()),
                retrieved: Some("2026-10-01T00:00:00Z".parse().unwrap()),
                uri: "https://example.org/raw.tar".into(),
            }],
            was_generated_by: vec![Activity {
                code_digest: DigestSet::new(
                    [(
                        "gitCommit".to_owned(),
                        "0123456789abcdef0123456789abcdef01234567".to_owned(),
                    )]
                    .into(),
                )
                .unwrap(),
                ended_at_time: None,
                name: "dedupe and split".into(),
                parameters_digest: Some(DigestSet::sha256(digest(6))),
                started_at_time: Some("2026-10-02T00:00:00Z".parse().unwrap()),
            }],
        },
        publisher: Some(Agent::named("Example Inc.")),
        purposes: BTreeSet::from(["research".parse().unwrap(), "evaluation".parse().unwrap()]),
        regions: BTreeSet::from(["EU".parse().unwrap(), "US".parse().unwrap()]),
        retention: Some(Retention {
            duration_days: None,
            on_expiry: RetentionAction::Delete,
            until: Some("2030-01-01T00:00:00Z".parse().unwrap()),
        }),
        schema_version: 1,
        sealed: None,
        sensitivity: Sensitivity::Public,
        version: "1.2.0".parse().unwrap(),
        was_revision_of: None,
    }
}

/// RFC 8785 canonical JSON of a value, written independently of serde's field order:
/// keys sorted by UTF-16 code units, ECMAScript string escaping, integers only.
pub(crate) fn jcs(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            assert!(n.is_i64() || n.is_u64(), "float in canonical JSON: {n}");
            n.to_string()
        }
        Value::String(s) => {
            let mut out = String::from('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(a) => format!("[{}]", a.iter().map(jcs).collect::<Vec<_>>().join(",")),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", jcs(&Value::String((*k).clone())), jcs(&o[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}
