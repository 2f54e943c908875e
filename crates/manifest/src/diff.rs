//! What changed between two versions of a dataset.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::CanonicalPath;
use crate::schema::{Manifest, ObjectEntry};

/// One changed field of the metadata that governs use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field (`license`, `licenseConditions`, `consent`, `purposes`, `regions`,
    /// `retention`, `sensitivity`, `pii`).
    pub field: &'static str,
    /// The old value, as canonical JSON.
    pub old: String,
    /// The new value, as canonical JSON.
    pub new: String,
}

/// The differences between two manifests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ManifestDiff {
    /// Objects only in the new manifest.
    pub added: Vec<CanonicalPath>,
    /// Objects only in the old manifest.
    pub removed: Vec<CanonicalPath>,
    /// Objects in both whose size or content address changed.
    pub changed: Vec<CanonicalPath>,
    /// Changes of licence, consent basis, purposes, regions, retention, sensitivity or
    /// the personal-data flag.
    pub governance: Vec<FieldChange>,
}

impl ManifestDiff {
    /// Whether nothing differs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.governance.is_empty()
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn same_content(a: &ObjectEntry, b: &ObjectEntry) -> bool {
    a.size == b.size
        && a.sha256 == b.sha256
        && a.root_cid == b.root_cid
        && a.encryption == b.encryption
}

/// Compares `old` with `new`.
#[must_use]
pub fn diff(old: &Manifest, new: &Manifest) -> ManifestDiff {
    let a: BTreeMap<&CanonicalPath, &ObjectEntry> =
        old.objects.iter().map(|o| (&o.path, o)).collect();
    let b: BTreeMap<&CanonicalPath, &ObjectEntry> =
        new.objects.iter().map(|o| (&o.path, o)).collect();
    let mut d = ManifestDiff::default();
    for (path, o) in &a {
        match b.get(path) {
            None => d.removed.push((*path).clone()),
            Some(n) if !same_content(o, n) => d.changed.push((*path).clone()),
            Some(_) => {}
        }
    }
    d.added = b
        .keys()
        .filter(|p| !a.contains_key(*p))
        .map(|p| (*p).clone())
        .collect();
    let mut field = |name: &'static str, o: String, n: String| {
        if o != n {
            d.governance.push(FieldChange {
                field: name,
                old: o,
                new: n,
            });
        }
    };
    field("license", json(&old.license), json(&new.license));
    field(
        "licenseConditions",
        json(&old.license_conditions),
        json(&new.license_conditions),
    );
    field("consent", json(&old.consent), json(&new.consent));
    field("purposes", json(&old.purposes), json(&new.purposes));
    field("regions", json(&old.regions), json(&new.regions));
    field("retention", json(&old.retention), json(&new.retention));
    field(
        "sensitivity",
        json(&old.sensitivity),
        json(&new.sensitivity),
    );
    field("pii", json(&old.pii), json(&new.pii));
    d
}
