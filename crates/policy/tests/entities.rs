//! Entity stores: versions only from verified manifests, strict documents, hashes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod common;

use common::*;
use dataseal_base::SigningKey;
use dataseal_base::dsse::TrustPolicy;
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
        "uploader": "ulrich", "specialCategoryData": false, "state": {"legalHold": true, "revoked": false,
        "quarantined": false, "erased": false}});
    if let Some((k, v)) = extra {
        version[k] = v;
    }
    json!({
        "entities": [{"uid": {"type": "Dataseal::User", "id": "tess"}, "attrs": {},
                      "parents": [{"type": "Dataseal::Role", "id": "trainer"}]}],
        "versions": [version],
        "signedBy": key.to_pkcs8_pem().unwrap().as_str(),
    })
}

/// The decision point's own trust: the key `key` as publisher.
fn trust(key: &SigningKey) -> TrustPolicy {
    TrustPolicy::new().trust(key.verifying_key(), "publisher".parse().unwrap())
}

fn load_with(doc: &Value, trust: &TrustPolicy) -> Result<EntityStore, Error> {
    let engine = PolicyEngine::with_defaults().unwrap();
    EntityStore::from_document(&engine, doc.to_string().as_bytes(), trust, now())
}

/// Loads a document whose versions are signed by the key in `doc`'s
/// `"signedBy"` test field, trusted by the decision point.
fn load(doc: &Value) -> Result<EntityStore, Error> {
    let key = SigningKey::from_pkcs8_pem(doc["signedBy"].as_str().unwrap()).unwrap();
    let mut doc = doc.clone();
    doc.as_object_mut().unwrap().remove("signedBy");
    load_with(&doc, &trust(&key))
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
    // An envelope signed by a key the decision point does not trust.
    let mut doc = document(&key, None);
    doc.as_object_mut().unwrap().remove("signedBy");
    let other = SigningKey::generate().unwrap();
    assert!(matches!(
        load_with(&doc, &trust(&other)),
        Err(Error::Manifest(_))
    ));
    // Not JSON at all.
    let engine = PolicyEngine::with_defaults().unwrap();
    assert!(EntityStore::from_document(&engine, b"[", &trust(&key), now()).is_err());
}

#[test]
fn manifest_keys_come_only_from_the_decision_point() {
    // The version is signed by a key that only the entities document lists; the
    // decision point trusts another key. The document's keys are never used: it is
    // refused, and without them the version does not verify.
    let rogue = SigningKey::generate().unwrap();
    let publisher = SigningKey::generate().unwrap();
    let mut doc = document(&rogue, None);
    doc.as_object_mut().unwrap().remove("signedBy");
    doc["trust"] = json!([{"publicKey": rogue.verifying_key().to_spki_pem().unwrap(),
                           "role": "publisher"}]);
    doc["thresholds"] = json!({"publisher": 1});
    let e = load_with(&doc, &trust(&publisher)).unwrap_err();
    assert!(
        e.to_string().contains("decision point's own configuration"),
        "{e}"
    );
    doc.as_object_mut().unwrap().remove("trust");
    doc.as_object_mut().unwrap().remove("thresholds");
    assert!(matches!(
        load_with(&doc, &trust(&publisher)),
        Err(Error::Manifest(_))
    ));
    // An empty trust configuration trusts nothing.
    assert!(matches!(
        load_with(&doc, &TrustPolicy::new()),
        Err(Error::Manifest(_))
    ));
    // The decision point's own key: accepted.
    assert!(load_with(&doc, &trust(&rogue)).is_ok());
}

#[test]
fn manifests_with_purposes_outside_the_vocabulary_are_refused() {
    let signer = Signer::new();
    let spec = Spec {
        purposes: vec!["training", "ads-commercial"],
        ..Spec::default()
    };
    let vm = signer.verified(&manifest(&spec, "3.0.0"));
    let engine = PolicyEngine::with_defaults().unwrap();
    let mut b = EntityStore::builder(&engine);
    let e = b.add_version(&vm, &record(&spec)).unwrap_err();
    assert!(e.to_string().contains("ads-commercial"), "{e}");
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
    let mut doc = document(&key, None);
    doc["versions"][0]
        .as_object_mut()
        .unwrap()
        .remove("specialCategoryData");
    let e = load(&doc).unwrap_err();
    assert!(e.to_string().contains("specialCategoryData"), "{e}");
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

#[test]
fn a_version_replaced_hashes_as_a_store_built_with_it() {
    let engine = PolicyEngine::with_defaults().unwrap();
    let signer = Signer::new();
    let spec = Spec::default();
    let vm = signer.verified(&manifest(&spec, "1.0.0"));
    let mut b = EntityStore::builder(&engine);
    directory(&mut b);
    let people = b.build().unwrap();
    let mut b = EntityStore::builder(&engine);
    directory(&mut b);
    b.add_version(&vm, &record(&spec)).unwrap();
    let built = b.build().unwrap();
    let overlaid = people.with_version(&engine, &vm, &record(&spec)).unwrap();
    assert_eq!(overlaid.hash(), built.hash());
    assert_eq!(overlaid.len(), built.len());
    // Another record of the same version: another hash; the first record back, the
    // first hash back.
    let mut held = spec.clone();
    held.state.legal_hold = true;
    let other = overlaid.with_version(&engine, &vm, &record(&held)).unwrap();
    assert_ne!(other.hash(), built.hash());
    let back = other.with_version(&engine, &vm, &record(&spec)).unwrap();
    assert_eq!(back.hash(), built.hash());
    assert_ne!(people.hash(), built.hash());
}

/// A role is held directly or through a group (and a group of a group), never by an
/// unknown principal, and never through a role of the same name held by someone else.
#[test]
fn roles_are_held_directly_or_through_groups() {
    let engine = PolicyEngine::with_defaults().unwrap();
    let mut b = EntityStore::builder(&engine);
    let role = |r: &str| EntityRef::Role(r.parse().unwrap());
    let group = |g: &str| EntityRef::Group(g.parse().unwrap());
    b.add_group(&"legal".parse().unwrap(), &[role("compliance-reviewer")])
        .unwrap();
    b.add_group(&"legal-emea".parse().unwrap(), &[group("legal")])
        .unwrap();
    b.add_user(&"sam".parse().unwrap(), &[role("steward")])
        .unwrap();
    b.add_user(&"carol".parse().unwrap(), &[group("legal-emea")])
        .unwrap();
    b.add_service_account(
        &"ci".parse().unwrap(),
        &"sam".parse().unwrap(),
        &[role("trainer")],
    )
    .unwrap();
    let entities = b.build().unwrap();
    let user = |u: &str| Principal::User(u.parse().unwrap());
    let holds = |p: &Principal, r: &str| engine.holds_role(&entities, p, &r.parse().unwrap());
    assert!(holds(&user("sam"), "steward"));
    assert!(!holds(&user("sam"), "compliance-reviewer"));
    assert!(
        holds(&user("carol"), "compliance-reviewer"),
        "through two groups"
    );
    assert!(!holds(&user("carol"), "steward"));
    assert!(!holds(&user("mallory"), "steward"), "unknown principal");
    let ci = Principal::ServiceAccount("ci".parse().unwrap());
    assert!(holds(&ci, "trainer"));
    assert!(!holds(&ci, "steward"), "not its owner's roles");
}
