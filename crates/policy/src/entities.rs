//! The entity store: principals, groups, roles, collections and datasets, and dataset
//! versions built only from verified manifests.

use std::collections::{BTreeMap, HashMap, HashSet};

use cedar_policy::{Entities, Entity, EntityUid, RestrictedExpression};
use dataseal_base::dsse::{Envelope, TrustPolicy};
use dataseal_base::{DatasetId, Role, Timestamp};
use dataseal_manifest::{Manifest, VerifiedManifest};
use serde::{Deserialize, Serialize};

use crate::engine::{PolicyEngine, Types};
use crate::{CollectionId, DataPurpose, EntityRef, Error, GroupId, ServiceAccountId, UserId};
use sha2::{Digest, Sha256};

/// The lifecycle state of a dataset version, kept beside its manifest (which never
/// changes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionState {
    /// Frozen as evidence.
    pub legal_hold: bool,
    /// Withdrawn.
    pub revoked: bool,
    /// Failed or awaiting validation.
    pub quarantined: bool,
    /// Keys destroyed.
    pub erased: bool,
}

/// What the registry knows of a version beyond its manifest: who owns it, which
/// organisation, who uploaded it, whether it holds special categories of personal
/// data, and its state. Every field is required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionRecord {
    /// The data owner.
    pub owner: UserId,
    /// The owning organisation.
    pub organisation: GroupId,
    /// Who uploaded it.
    pub uploader: UserId,
    /// Whether the data holds special categories of personal data (GDPR Art. 9(1):
    /// health, biometric or genetic data, religious or political views, …). Such data
    /// is processed only under an Art. 9(2) condition the manifest names.
    pub special_category_data: bool,
    /// Its lifecycle state: every flag is required, so a record that forgets one is
    /// refused rather than read as allowing.
    pub state: VersionState,
}

/// The entities a decision reads, with a hash naming them in audit records. Built once
/// per change with [`EntityStoreBuilder`]; immutable afterwards.
#[derive(Debug, Clone)]
pub struct EntityStore {
    entities: Entities,
    /// SHA-256 of each entity's canonical JSON: kept so that a store with one version
    /// replaced ([`EntityStore::with_version`]) is hashed without re-reading the rest.
    digests: HashMap<EntityUid, [u8; 32]>,
    hash: String,
}

impl EntityStore {
    /// A builder for the engine's schema.
    #[must_use]
    pub fn builder(engine: &PolicyEngine) -> EntityStoreBuilder<'_> {
        EntityStoreBuilder {
            engine,
            entities: HashMap::new(),
        }
    }

    /// Parses an entities document (see the README: directory entities in Cedar's JSON
    /// form, and dataset versions as signed manifest envelopes with their records),
    /// verifying every envelope at `now` against `trust`: the manifest keys and
    /// thresholds of the decision point's own configuration. The document cannot add
    /// trusted keys: one that tries (`trust`, `thresholds`) is refused.
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] naming what is malformed; [`Error::Manifest`] for an envelope
    /// that does not verify.
    pub fn from_document(
        engine: &PolicyEngine,
        bytes: &[u8],
        trust: &TrustPolicy,
        now: Timestamp,
    ) -> Result<Self, Error> {
        Self::builder_from_document(engine, bytes, trust, now)?.build()
    }

    /// [`EntityStore::from_document`] without the final build: more entities (a version
    /// verified elsewhere, say) can be added before [`EntityStoreBuilder::build`].
    ///
    /// # Errors
    ///
    /// As [`EntityStore::from_document`].
    pub fn builder_from_document<'e>(
        engine: &'e PolicyEngine,
        bytes: &[u8],
        trust: &TrustPolicy,
        now: Timestamp,
    ) -> Result<EntityStoreBuilder<'e>, Error> {
        let doc: EntitiesDocument = serde_json::from_slice(bytes)
            .map_err(|e| Error::Entities(format!("entities document: {e}")))?;
        if doc.trust.is_some() || doc.thresholds.is_some() {
            return Err(Error::Entities(
                "the entities document lists manifest keys (`trust`/`thresholds`): the keys trusted to sign manifests come only from the decision point's own configuration (--trust KEY.pub=ROLE), never from the document describing the versions".to_owned(),
            ));
        }
        let mut builder = Self::builder(engine);
        for (i, value) in doc.entities.into_iter().enumerate() {
            builder
                .add_json(value)
                .map_err(|e| Error::Entities(format!("entities[{i}]: {e}")))?;
        }
        for (i, v) in doc.versions.into_iter().enumerate() {
            let json = serde_json::to_vec(&v.envelope)
                .map_err(|e| Error::Entities(format!("versions[{i}].envelope: {e}")))?;
            let envelope = Envelope::from_json(&json)
                .map_err(|e| Error::Entities(format!("versions[{i}].envelope: {e}")))?;
            let manifest = dataseal_manifest::verify_envelope(&envelope, trust, now)?;
            let record = VersionRecord {
                owner: v.owner,
                organisation: v.organisation,
                uploader: v.uploader,
                special_category_data: v.special_category_data,
                state: v.state,
            };
            builder
                .add_version(&manifest, &record)
                .map_err(|e| match e {
                    Error::Entities(m) => Error::Entities(format!("versions[{i}]: {m}")),
                    other => other,
                })?;
        }
        Ok(builder)
    }

    /// This store with the version `verified` added, or replaced, as `record` describes
    /// it: for a decision point that reads a version's state where it lives (the
    /// registry) at decision time rather than from a document loaded earlier.
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] if the version does not match the schema.
    pub fn with_version(
        &self,
        engine: &PolicyEngine,
        verified: &VerifiedManifest,
        record: &VersionRecord,
    ) -> Result<Self, Error> {
        let mut builder = Self::builder(engine);
        builder.add_version(verified, record)?;
        let added = std::mem::take(&mut builder.entities);
        let uids: Vec<EntityUid> = added.keys().cloned().collect();
        let entities = self
            .entities
            .clone()
            .upsert_entities(added.into_values(), Some(engine.schema()))
            .map_err(|e| Error::Entities(crate::error::chain(&e)))?;
        let mut digests = self.digests.clone();
        for uid in uids {
            let entity = entities
                .get(&uid)
                .ok_or_else(|| Error::Entities(format!("{uid} vanished on insertion")))?;
            digests.insert(uid, entity_digest(entity)?);
        }
        let hash = root_hash(&digests);
        Ok(Self {
            entities,
            digests,
            hash,
        })
    }

    /// The Cedar entities.
    #[must_use]
    pub fn entities(&self) -> &Entities {
        &self.entities
    }

    /// SHA-256 (hex) naming the entities: over the sorted SHA-256 digests of every
    /// entity's canonical JSON (Cedar's JSON form, object keys, sets and parent lists
    /// sorted). Equal entity sets hash alike, however built.
    #[must_use]
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// How many entities, the schema's action entities included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EntitiesDocument {
    #[serde(default)]
    entities: Vec<serde_json::Value>,
    /// Refused when present: kept only to say why.
    #[serde(default)]
    trust: Option<serde_json::Value>,
    /// Refused when present: kept only to say why.
    #[serde(default)]
    thresholds: Option<serde_json::Value>,
    #[serde(default)]
    versions: Vec<VersionDocument>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VersionDocument {
    envelope: serde_json::Value,
    owner: UserId,
    organisation: GroupId,
    uploader: UserId,
    special_category_data: bool,
    state: VersionState,
}

/// Collects entities, then validates them against the schema and computes the
/// hierarchy once ([`EntityStoreBuilder::build`]).
#[derive(Debug)]
pub struct EntityStoreBuilder<'e> {
    engine: &'e PolicyEngine,
    entities: HashMap<EntityUid, Entity>,
}

fn attr_entity(types: &Types, r: &EntityRef) -> RestrictedExpression {
    RestrictedExpression::new_entity_uid(types.entity(r))
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

/// The kebab-case JSON name of a manifest enum value (`research-only`).
fn enum_name<T: Serialize>(value: &T) -> Result<String, Error> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(Error::Entities("cannot name a manifest value".to_owned())),
    }
}

/// The manifest's purposes, each one of the vocabulary: a manifest naming another is
/// refused rather than half read.
fn purposes(m: &Manifest) -> Result<RestrictedExpression, Error> {
    let mut out = Vec::with_capacity(m.purposes.len());
    for p in &m.purposes {
        let typed = DataPurpose::try_from(p).map_err(|e| {
            Error::Entities(format!("{}@{}: purposes: {e}", m.dataset_id, m.version))
        })?;
        out.push(string(typed.as_str()));
    }
    Ok(RestrictedExpression::new_set(out))
}

/// The end of retention: the earlier of `until` and `created + durationDays`.
fn retention_end(m: &Manifest) -> Option<i64> {
    let r = m.retention.as_ref()?;
    let by_duration = r.duration_days.map(|d| {
        m.created
            .saturating_add_seconds(i64::from(d).saturating_mul(86_400))
            .unix_seconds()
    });
    let until = r.until.map(Timestamp::unix_seconds);
    match (until, by_duration) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl EntityStoreBuilder<'_> {
    fn insert(&mut self, entity: Entity) -> Result<(), Error> {
        let uid = entity.uid();
        if self.entities.contains_key(&uid) {
            return Err(Error::Entities(format!("{uid} is defined twice")));
        }
        self.entities.insert(uid, entity);
        Ok(())
    }

    fn parents(&self, of: &[EntityRef]) -> HashSet<EntityUid> {
        of.iter().map(|r| self.engine.types().entity(r)).collect()
    }

    fn with_attrs(
        &mut self,
        uid: EntityUid,
        attrs: Vec<(&str, RestrictedExpression)>,
        parents: HashSet<EntityUid>,
    ) -> Result<(), Error> {
        let attrs: HashMap<String, RestrictedExpression> =
            attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let entity = Entity::new(uid, attrs, parents)
            .map_err(|e| Error::Entities(crate::error::chain(&e)))?;
        self.insert(entity)
    }

    /// A role (`Dataseal::Role`). Roles named only as parents need not be added.
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] if it is already defined.
    pub fn add_role(&mut self, role: &Role) -> Result<&mut Self, Error> {
        let uid = self.engine.types().entity(&EntityRef::Role(role.clone()));
        self.insert(Entity::new_no_attrs(uid, HashSet::new()))?;
        Ok(self)
    }

    /// A group, member of other groups and roles.
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] if it is already defined.
    pub fn add_group(&mut self, id: &GroupId, member_of: &[EntityRef]) -> Result<&mut Self, Error> {
        let uid = self.engine.types().entity(&EntityRef::Group(id.clone()));
        let parents = self.parents(member_of);
        self.with_attrs(uid, vec![("name", string(id.as_str()))], parents)?;
        Ok(self)
    }

    /// A person, member of groups and roles.
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] if it is already defined.
    pub fn add_user(&mut self, id: &UserId, member_of: &[EntityRef]) -> Result<&mut Self, Error> {
        let uid = self.engine.types().entity(&EntityRef::User(id.clone()));
        let parents = self.parents(member_of);
        self.with_attrs(uid, Vec::new(), parents)?;
        Ok(self)
    }

    /// A service account owned by a person, member of groups and roles.
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] if it is already defined.
    pub fn add_service_account(
        &mut self,
        id: &ServiceAccountId,
        owner: &UserId,
        member_of: &[EntityRef],
    ) -> Result<&mut Self, Error> {
        let types = self.engine.types();
        let uid = types.entity(&EntityRef::ServiceAccount(id.clone()));
        let owner = attr_entity(types, &EntityRef::User(owner.clone()));
        let parents = self.parents(member_of);
        self.with_attrs(uid, vec![("owner", owner)], parents)?;
        Ok(self)
    }

    /// A collection, inside other collections.
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] if it is already defined.
    pub fn add_collection(
        &mut self,
        id: &CollectionId,
        owner: &UserId,
        inside: &[CollectionId],
    ) -> Result<&mut Self, Error> {
        let types = self.engine.types();
        let uid = types.entity(&EntityRef::Collection(id.clone()));
        let owner = attr_entity(types, &EntityRef::User(owner.clone()));
        let parents: Vec<EntityRef> = inside.iter().cloned().map(EntityRef::Collection).collect();
        let parents = self.parents(&parents);
        self.with_attrs(uid, vec![("owner", owner)], parents)?;
        Ok(self)
    }

    /// A dataset, inside collections.
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] if it is already defined.
    pub fn add_dataset(
        &mut self,
        id: &DatasetId,
        owner: &UserId,
        organisation: &GroupId,
        inside: &[CollectionId],
    ) -> Result<&mut Self, Error> {
        let types = self.engine.types();
        let uid = types.entity(&EntityRef::Dataset(id.clone()));
        let attrs = vec![
            ("owner", attr_entity(types, &EntityRef::User(owner.clone()))),
            (
                "organisation",
                attr_entity(types, &EntityRef::Group(organisation.clone())),
            ),
        ];
        let parents: Vec<EntityRef> = inside.iter().cloned().map(EntityRef::Collection).collect();
        let parents = self.parents(&parents);
        self.with_attrs(uid, attrs, parents)?;
        Ok(self)
    }

    /// A dataset version: its attributes from the verified manifest (CID, licence tier
    /// and conditions, sensitivity, purposes, regions, consent basis, retention end,
    /// PII flag), the rest from `record`. It is a member of its dataset.
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] if it is already defined.
    pub fn add_version(
        &mut self,
        verified: &VerifiedManifest,
        record: &VersionRecord,
    ) -> Result<&mut Self, Error> {
        let types = self.engine.types();
        let m = verified.manifest();
        let uid = types.entity(&EntityRef::Version(verified.cid()));
        let c = &m.license_conditions;
        let b = RestrictedExpression::new_bool;
        let licence = RestrictedExpression::new_record([
            ("academicUse".to_owned(), b(c.academic_use)),
            ("attribution".to_owned(), b(c.attribution)),
            ("commercialUse".to_owned(), b(c.commercial_use)),
            ("nonCommercialUse".to_owned(), b(c.non_commercial_use)),
            ("shareAlike".to_owned(), b(c.share_alike)),
        ])
        .map_err(|e| Error::Entities(crate::error::chain(&e)))?;
        let consent = match &m.consent {
            Some(basis) => enum_name(&basis.lawful_basis)?,
            None => "none".to_owned(),
        };
        let mut attrs = vec![
            ("cid", string(&verified.cid().to_string())),
            ("datasetId", string(m.dataset_id.as_str())),
            ("version", string(&m.version.to_string())),
            ("licenceTier", string(&enum_name(&c.tier)?)),
            ("licence", licence),
            ("sensitivity", string(&enum_name(&m.sensitivity)?)),
            ("purposes", purposes(m)?),
            (
                "regions",
                RestrictedExpression::new_set(m.regions.iter().map(|r| string(r.as_str()))),
            ),
            ("consentBasis", string(&consent)),
            ("pii", b(m.pii)),
            ("specialCategoryData", b(record.special_category_data)),
            ("legalHold", b(record.state.legal_hold)),
            ("revoked", b(record.state.revoked)),
            ("quarantined", b(record.state.quarantined)),
            ("erased", b(record.state.erased)),
            (
                "owner",
                attr_entity(types, &EntityRef::User(record.owner.clone())),
            ),
            (
                "organisation",
                attr_entity(types, &EntityRef::Group(record.organisation.clone())),
            ),
            (
                "uploader",
                attr_entity(types, &EntityRef::User(record.uploader.clone())),
            ),
        ];
        if let Some(special) = m.consent.as_ref().and_then(|c| c.special_category) {
            attrs.push(("specialCategory", string(&enum_name(&special)?)));
        }
        if let Some(end) = retention_end(m) {
            attrs.push(("retentionEnd", RestrictedExpression::new_long(end)));
        }
        let parents = self.parents(&[EntityRef::Dataset(m.dataset_id.clone())]);
        self.with_attrs(uid, attrs, parents)?;
        Ok(self)
    }

    /// One entity in Cedar's JSON form (`{"uid": {"type", "id"}, "attrs", "parents"}`),
    /// checked against the schema. Dataset versions are refused here: their attributes
    /// come only from verified manifests ([`EntityStoreBuilder::add_version`]).
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] naming what is wrong.
    pub fn add_json(&mut self, value: serde_json::Value) -> Result<&mut Self, Error> {
        // The type first, so a version is refused as such, whatever its attributes.
        let untyped = Entity::from_json_value(value.clone(), None)
            .map_err(|e| Error::Entities(crate::error::chain(&e)))?;
        if untyped.uid().type_name() == &self.engine.types().version {
            return Err(Error::Entities(format!(
                "{}: dataset versions come only from verified manifests",
                untyped.uid()
            )));
        }
        let entity = Entity::from_json_value(value, Some(self.engine.schema()))
            .map_err(|e| Error::Entities(crate::error::chain(&e)))?;
        self.insert(entity)?;
        Ok(self)
    }

    /// Validates everything against the schema, computes the hierarchy and the hash.
    ///
    /// # Errors
    ///
    /// [`Error::Entities`] if an entity does not match the schema.
    pub fn build(&mut self) -> Result<EntityStore, Error> {
        let entities = std::mem::take(&mut self.entities);
        let entities = Entities::from_entities(entities.into_values(), Some(self.engine.schema()))
            .map_err(|e| Error::Entities(crate::error::chain(&e)))?;
        let digests = entities
            .iter()
            .map(|e| Ok((e.uid(), entity_digest(e)?)))
            .collect::<Result<HashMap<_, _>, Error>>()?;
        let hash = root_hash(&digests);
        Ok(EntityStore {
            entities,
            digests,
            hash,
        })
    }
}

/// Sorts arrays (Cedar sets and parent lists have no order) and object keys, so equal
/// entity sets hash alike.
fn canonical(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(canonical).collect();
            items.sort_by_cached_key(ToString::to_string);
            Value::Array(items)
        }
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        other => other,
    }
}

/// SHA-256 of an entity's canonical JSON.
fn entity_digest(entity: &Entity) -> Result<[u8; 32], Error> {
    let json = entity
        .to_json_value()
        .map_err(|e| Error::Entities(crate::error::chain(&e)))?;
    Ok(Sha256::digest(canonical(json).to_string().as_bytes()).into())
}

/// SHA-256 (hex) over the sorted entity digests.
fn root_hash(digests: &HashMap<EntityUid, [u8; 32]>) -> String {
    let mut sorted: Vec<&[u8; 32]> = digests.values().collect();
    sorted.sort_unstable();
    let mut h = Sha256::new();
    for d in sorted {
        h.update(d);
    }
    hex::encode(h.finalize())
}
