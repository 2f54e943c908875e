//! Entity stores: versions only from verified manifests, strict documents, hashes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod common;

use common::*;
use dataseal_base::SigningKey;
use dataseal_policy::*;
use serde_json::{Value, json};

fn document(key: &SigningKey, extra: Option<(&str, Value)>) -> Value {
    let env = dataseal_manifest::sign(
        &manifest(&Spec::default(), "1.0.0"),
        key,
        "publisher".parse().unwrap(),
    )
    .unwrap();
    let envelope: Value = serde_json::from_str(&env.to_json()).unwrap();
    let mut version = json!({"envelope": envelope, "owner": "olivia", "organisation": "acme",
        "uploader": "ulrich", "state": {"legalHold": true, "revoked": false,
        "quarantined": false, "erased": false}});
    if let Some((k, v)) = extra {
        version[k] = v;
    }
    json!({
        "entities": [{"uid": {"type": "Dataseal::User", "id": "tess"}, "attrs": {},
                      "parents": [{"type": "Dataseal::Role", "id": "trainer"}]}],
        "trust": [{"publicKey": key.verifying_key().to_spki_pem().unwrap(), "role": "publisher"}],
        "versions": [version]
    })
}

fn load(doc: &Value) -> Result<EntityStore, Error> {
    let engine = PolicyEngine::with_defaults().unwrap();
    EntityStore::from_document(&engine, doc.to_string().as_bytes(), now())
}

#[test]
fn a_document_loads_and_decides() {
    let key = SigningKey::generate().unwrap();
    let doc = document(&key, None);
    let store = load(&doc).unwrap();
    // tess and the version, plus the schema's 16 action entities.
    assert_eq!(store.len(), 2 + 16);
    // Same content, same hash; another state, another hash.
    assert_eq!(load(&doc).unwrap().hash(), store.hash());
    let mut other = doc.clone();
    other["versions"][0]["state"]["legalHold"] = json!(false);
    assert_ne!(load(&other).unwrap().hash(), store.hash());
}

#[test]
fn documents_are_strict() {
    let key = SigningKey::generate().unwrap();
    // Unknown field in a version.
    let e = load(&document(&key, Some(("colour", json!("red"))))).unwrap_err();
    assert!(e.to_string().contains("colour"), "{e}");
    // A dataset version given as a plain entity.
    let mut doc = document(&key, None);
    doc["entities"].as_array_mut().unwrap().push(json!({
        "uid": {"type": "Dataseal::DatasetVersion", "id": "bafy"}, "attrs": {}, "parents": []}));
    let e = load(&doc).unwrap_err();
    assert!(e.to_string().contains("verified manifests"), "{e}");
    // A duplicate entity.
    let mut doc = document(&key, None);
    let first = doc["entities"][0].clone();
    doc["entities"].as_array_mut().unwrap().push(first);
    assert!(load(&doc).unwrap_err().to_string().contains("twice"));
    // An attribute the schema does not know.
    let mut doc = document(&key, None);
    doc["entities"][0]["attrs"] = json!({"shoeSize": 42});
    assert!(load(&doc).unwrap_err().to_string().contains("shoeSize"));
    // An envelope signed by a key the document does not trust.
    let mut doc = document(&key, None);
    let other = SigningKey::generate().unwrap();
    doc["trust"][0]["publicKey"] = json!(other.verifying_key().to_spki_pem().unwrap());
    assert!(matches!(load(&doc), Err(Error::Manifest(_))));
    // Not JSON at all.
    let engine = PolicyEngine::with_defaults().unwrap();
    assert!(EntityStore::from_document(&engine, b"[", now()).is_err());
}

#[test]
fn version_attributes_come_from_the_manifest() {
    let signer = Signer::new();
    let spec = Spec {
        retention_until: Some("2027-01-01T00:00:00Z"),
        retention_days: Some(10),
        ..Spec::default()
    };
    let vm = signer.verified(&manifest(&spec, "2.0.0"));
    let engine = PolicyEngine::with_defaults().unwrap();
    let mut b = EntityStore::builder(&engine);
    b.add_version(&vm, &record(&spec)).unwrap();
    assert!(b.add_version(&vm, &record(&spec)).is_err(), "defined twice");
    let store = b.build().unwrap();
    let json = store.entities().to_json_value().unwrap();
    let version = json
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uid"]["type"] == "Dataseal::DatasetVersion")
        .unwrap();
    let attrs = &version["attrs"];
    assert_eq!(attrs["cid"], vm.cid().to_string());
    assert_eq!(attrs["licenceTier"], "open");
    assert_eq!(attrs["sensitivity"], "internal");
    assert_eq!(attrs["consentBasis"], "none");
    // The earlier of `until` and created + 10 days (2026-01-11).
    assert_eq!(attrs["retentionEnd"], 1_768_089_600);
}

#[test]
fn a_version_state_must_be_given_whole() {
    let key = SigningKey::generate().unwrap();
    // No state at all, an empty one, or one flag missing: refused, never read as false.
    let mut doc = document(&key, None);
    doc["versions"][0].as_object_mut().unwrap().remove("state");
    let e = load(&doc).unwrap_err();
    assert!(e.to_string().contains("state"), "{e}");
    for flag in ["legalHold", "revoked", "quarantined", "erased"] {
        let mut doc = document(&key, None);
        doc["versions"][0]["state"]
            .as_object_mut()
            .unwrap()
            .remove(flag);
        let e = load(&doc).unwrap_err();
        assert!(e.to_string().contains(flag), "{flag}: {e}");
    }
    let mut doc = document(&key, None);
    doc["versions"][0]["state"] = json!({});
    assert!(load(&doc).is_err());
}
