//! The policy engine: the schema, the policies, templates and links, validated strictly
//! and indexed once; and the fail-closed decision point over them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, EntityId, EntityTypeName,
    EntityUid, Policy, PolicyId, PolicySet, PrincipalConstraint, Request, ResourceConstraint,
    RestrictedExpression, Schema, SlotId, ValidationMode, Validator,
};
use dataseal_base::{Cid, DatasetId, Role};
use sha2::{Digest, Sha256};

use crate::decision::{AuditRecord, Decision, Effect};
use crate::entities::EntityStore;
use crate::request::region_scopes;
use crate::{
    AccessRequest, Action, ApprovalVerifier, CollectionId, Error, Grant, GrantVerifier, GroupId,
    Presented, Principal, Resource, ServiceAccountId, UserId,
};

/// The Cedar schema this crate ships (`schema/dataseal.cedarschema`).
pub const SCHEMA: &str = include_str!("../schema/dataseal.cedarschema");

/// The default policies this crate ships, as (file name, Cedar text).
pub const DEFAULT_POLICIES: [(&str, &str); 5] = [
    ("roles.cedar", include_str!("../policies/roles.cedar")),
    (
        "lifecycle.cedar",
        include_str!("../policies/lifecycle.cedar"),
    ),
    ("licence.cedar", include_str!("../policies/licence.cedar")),
    (
        "data-protection.cedar",
        include_str!("../policies/data-protection.cedar"),
    ),
    ("grant.cedar", include_str!("../policies/grant.cedar")),
];

/// The template that gives standing data access (`template.data-access`).
pub const DATA_ACCESS_TEMPLATE: &str = "template.data-access";

/// An entity a template slot (or a membership) can name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum EntityRef {
    /// A person.
    User(UserId),
    /// A service account.
    ServiceAccount(ServiceAccountId),
    /// A group.
    Group(GroupId),
    /// A role.
    Role(Role),
    /// A collection.
    Collection(CollectionId),
    /// A dataset.
    Dataset(DatasetId),
    /// A dataset version, by manifest CID.
    Version(Cid),
}

impl From<Principal> for EntityRef {
    fn from(p: Principal) -> Self {
        match p {
            Principal::User(u) => Self::User(u),
            Principal::ServiceAccount(s) => Self::ServiceAccount(s),
        }
    }
}

impl From<Resource> for EntityRef {
    fn from(r: Resource) -> Self {
        match r {
            Resource::Version(c) => Self::Version(c),
            Resource::Dataset(d) => Self::Dataset(d),
        }
    }
}

/// One link of a template: the template's id, the new policy's id (stable: it appears
/// in decisions and audit records), and the entities filling the template's slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateLink {
    /// The template's `@id`.
    pub template: String,
    /// The id of the linked policy.
    pub id: String,
    /// The entity for `?principal`, if the template has that slot.
    pub principal: Option<EntityRef>,
    /// The entity for `?resource`, if the template has that slot.
    pub resource: Option<EntityRef>,
}

impl TemplateLink {
    /// A link of [`DATA_ACCESS_TEMPLATE`]: `principal` (a user, service account, group
    /// or role) gets data access to `resource` (a version, dataset or collection),
    /// subject to every forbid.
    #[must_use]
    pub fn data_access(id: impl Into<String>, principal: EntityRef, resource: EntityRef) -> Self {
        Self {
            template: DATA_ACCESS_TEMPLATE.to_owned(),
            id: id.into(),
            principal: Some(principal),
            resource: Some(resource),
        }
    }
}

/// Entity type names and action ids, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Types {
    pub(crate) user: EntityTypeName,
    pub(crate) service_account: EntityTypeName,
    pub(crate) group: EntityTypeName,
    pub(crate) role: EntityTypeName,
    pub(crate) collection: EntityTypeName,
    pub(crate) dataset: EntityTypeName,
    pub(crate) version: EntityTypeName,
    actions: Vec<EntityUid>,
}

impl Types {
    fn new() -> Result<Self, Error> {
        let ty = |name: &str| {
            EntityTypeName::from_str(name).map_err(|e| Error::Schema(format!("{name}: {e}")))
        };
        let action_type = ty("Dataseal::Action")?;
        Ok(Self {
            user: ty("Dataseal::User")?,
            service_account: ty("Dataseal::ServiceAccount")?,
            group: ty("Dataseal::Group")?,
            role: ty("Dataseal::Role")?,
            collection: ty("Dataseal::Collection")?,
            dataset: ty("Dataseal::Dataset")?,
            version: ty("Dataseal::DatasetVersion")?,
            actions: Action::ALL
                .iter()
                .map(|a| {
                    EntityUid::from_type_name_and_id(action_type.clone(), EntityId::new(a.as_str()))
                })
                .collect(),
        })
    }

    pub(crate) fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }

    pub(crate) fn entity(&self, r: &EntityRef) -> EntityUid {
        match r {
            EntityRef::User(u) => Self::uid(&self.user, u.as_str()),
            EntityRef::ServiceAccount(s) => Self::uid(&self.service_account, s.as_str()),
            EntityRef::Group(g) => Self::uid(&self.group, g.as_str()),
            EntityRef::Role(r) => Self::uid(&self.role, r.as_str()),
            EntityRef::Collection(c) => Self::uid(&self.collection, c.as_str()),
            EntityRef::Dataset(d) => Self::uid(&self.dataset, d.as_str()),
            EntityRef::Version(c) => Self::uid(&self.version, &c.to_string()),
        }
    }

    pub(crate) fn principal(&self, p: &Principal) -> EntityUid {
        match p {
            Principal::User(u) => Self::uid(&self.user, u.as_str()),
            Principal::ServiceAccount(s) => Self::uid(&self.service_account, s.as_str()),
        }
    }

    pub(crate) fn resource(&self, r: &Resource) -> EntityUid {
        match r {
            Resource::Version(c) => Self::uid(&self.version, &c.to_string()),
            Resource::Dataset(d) => Self::uid(&self.dataset, d.as_str()),
        }
    }

    fn action(&self, a: Action) -> Option<&EntityUid> {
        self.actions.get(a.index())
    }
}

/// A bucket of policies sharing one principal/resource scope key, with the actions any
/// of them can apply to.
#[derive(Debug, Clone, Default)]
struct Bucket {
    set: PolicySet,
    actions: u32,
}

type ScopeKey = (Option<EntityUid>, Option<EntityUid>);

/// The policies indexed for slicing: per action, the policies whose principal and
/// resource scopes name no entity; then the policies and links scoped to a principal
/// entity only, to a resource entity only, or to both.
#[derive(Debug, Clone, Default)]
struct Index {
    unscoped: Vec<PolicySet>,
    by_principal: HashMap<EntityUid, Bucket>,
    by_resource: HashMap<EntityUid, Bucket>,
    by_pair: HashMap<EntityUid, HashMap<EntityUid, Bucket>>,
}

impl Index {
    fn bucket_mut(&mut self, key: ScopeKey) -> Option<&mut Bucket> {
        match key {
            (None, None) => None,
            (Some(p), None) => Some(self.by_principal.entry(p).or_default()),
            (None, Some(r)) => Some(self.by_resource.entry(r).or_default()),
            (Some(p), Some(r)) => Some(self.by_pair.entry(p).or_default().entry(r).or_default()),
        }
    }

    fn has_scoped(&self) -> bool {
        !(self.by_principal.is_empty() && self.by_resource.is_empty() && self.by_pair.is_empty())
    }
}

/// The schema, the default and user policies, templates and template links, validated
/// strictly against the schema and indexed for slicing — once, when they change.
///
/// [`PolicyEngine::decide`] answers requests; it never fails: anything that goes
/// wrong is a deny that says why.
#[derive(Debug, Clone)]
pub struct PolicyEngine {
    schema: Schema,
    types: Types,
    /// Per action (by [`Action::index`]): the action and its action groups.
    action_ancestors: Vec<HashSet<EntityUid>>,
    all: PolicySet,
    index: Index,
    digests: BTreeMap<String, [u8; 32]>,
    policy_hash: String,
    authorizer: Authorizer,
}

/// Builds a [`PolicyEngine`]: the defaults (unless left out), then user policies and
/// templates, then template links.
#[derive(Debug, Clone)]
pub struct PolicyEngineBuilder {
    defaults: bool,
    sources: Vec<(String, String)>,
    links: Vec<TemplateLink>,
}

impl Default for PolicyEngineBuilder {
    fn default() -> Self {
        Self {
            defaults: true,
            sources: Vec::new(),
            links: Vec::new(),
        }
    }
}

impl PolicyEngineBuilder {
    /// Leaves the default policies out (the schema stays).
    #[must_use]
    pub fn without_defaults(mut self) -> Self {
        self.defaults = false;
        self
    }

    /// Adds the policies and templates in `text` (every one with a unique `@id`);
    /// `origin` names them in errors.
    #[must_use]
    pub fn policies(mut self, origin: impl Into<String>, text: impl Into<String>) -> Self {
        self.sources.push((origin.into(), text.into()));
        self
    }

    /// Adds every `*.cedar` file of `dir`, in file-name order.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directory or a file cannot be read.
    pub fn policies_dir(mut self, dir: &Path) -> Result<Self, Error> {
        let read = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        let mut files = Vec::new();
        for entry in read {
            let path = entry
                .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?
                .path();
            if path.extension().is_some_and(|x| x == "cedar") {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            let origin = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            self.sources.push((origin, text));
        }
        Ok(self)
    }

    /// Adds a template link.
    #[must_use]
    pub fn link(mut self, link: TemplateLink) -> Self {
        self.links.push(link);
        self
    }

    /// Adds many template links.
    #[must_use]
    pub fn links(mut self, links: impl IntoIterator<Item = TemplateLink>) -> Self {
        self.links.extend(links);
        self
    }

    /// Parses, validates (strictly, against the schema) and indexes everything.
    ///
    /// # Errors
    ///
    /// [`Error::Schema`], [`Error::Policy`] (parse errors, a missing or duplicate
    /// `@id`), [`Error::Validation`] (strict validation), [`Error::Link`].
    pub fn build(self) -> Result<PolicyEngine, Error> {
        let (schema, _warnings) = Schema::from_cedarschema_str(SCHEMA)
            .map_err(|e| Error::Schema(crate::error::chain(&e)))?;
        let types = Types::new()?;
        let action_entities = schema
            .action_entities()
            .map_err(|e| Error::Schema(crate::error::chain(&e)))?;
        let mut action_ancestors = Vec::with_capacity(Action::ALL.len());
        for action in Action::ALL {
            let uid = types
                .action(action)
                .ok_or_else(|| Error::Schema(format!("action {action} missing")))?;
            let mut set: HashSet<EntityUid> = action_entities
                .ancestors(uid)
                .ok_or_else(|| Error::Schema(format!("the schema lacks action {action}")))?
                .cloned()
                .collect();
            set.insert(uid.clone());
            action_ancestors.push(set);
        }

        let mut all = PolicySet::new();
        let defaults = if self.defaults {
            DEFAULT_POLICIES.as_slice()
        } else {
            &[]
        };
        for (origin, text) in defaults {
            add_source(&mut all, origin, text)?;
        }
        for (origin, text) in &self.sources {
            add_source(&mut all, origin, text)?;
        }
        let result = Validator::new(schema.clone()).validate(&all, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result
                .validation_errors()
                .map(|e| crate::error::chain(e))
                .collect();
            return Err(Error::Validation(errors.join("; ")));
        }

        let mut engine = PolicyEngine {
            schema,
            types,
            action_ancestors,
            all,
            index: Index::default(),
            digests: BTreeMap::new(),
            policy_hash: String::new(),
            authorizer: Authorizer::new(),
        };
        for link in &self.links {
            engine.add_link_unindexed(link)?;
        }
        engine.reindex()?;
        Ok(engine)
    }
}

fn add_source(all: &mut PolicySet, origin: &str, text: &str) -> Result<(), Error> {
    let err = |message: String| Error::Policy {
        origin: origin.to_owned(),
        message,
    };
    let parsed = PolicySet::from_str(text).map_err(|e| err(crate::error::chain(&e)))?;
    // Sorted by position in the text would be nicer; sort by id for determinism.
    let mut statics: Vec<&Policy> = parsed.policies().collect();
    statics.sort_by(|a, b| a.id().cmp(b.id()));
    for policy in statics {
        let id = policy_annotation_id(policy.annotation("id"), &policy.to_string()).map_err(err)?;
        all.add(policy.new_id(PolicyId::new(id.clone())))
            .map_err(|e| err(format!("@id(\"{id}\"): {e}")))?;
    }
    let mut templates: Vec<_> = parsed.templates().collect();
    templates.sort_by(|a, b| a.id().cmp(b.id()));
    for template in templates {
        let id =
            policy_annotation_id(template.annotation("id"), &template.to_string()).map_err(err)?;
        all.add_template(template.new_id(PolicyId::new(id.clone())))
            .map_err(|e| err(format!("@id(\"{id}\"): {e}")))?;
    }
    Ok(())
}

fn policy_annotation_id(id: Option<&str>, text: &str) -> Result<String, String> {
    match id {
        Some(id) if !id.trim().is_empty() && id.trim() == id => Ok(id.to_owned()),
        Some(id) => Err(format!("@id({id:?}) is empty or has surrounding spaces")),
        None => {
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Err(format!(
                "every policy and template needs a stable @id(\"...\"); missing on `{first}`"
            ))
        }
    }
}

/// How one slice answered.
#[derive(Default)]
struct Tally {
    permits: BTreeSet<String>,
    forbids: BTreeSet<String>,
    errors: Vec<String>,
}

impl Tally {
    fn absorb(&mut self, response: &cedar_policy::Response) {
        let reasons = response.diagnostics().reason().map(ToString::to_string);
        match response.decision() {
            CedarDecision::Allow => self.permits.extend(reasons),
            CedarDecision::Deny => self.forbids.extend(reasons),
        }
        self.errors
            .extend(response.diagnostics().errors().map(ToString::to_string));
    }
}

impl PolicyEngine {
    /// The defaults, validated and indexed.
    ///
    /// # Errors
    ///
    /// As [`PolicyEngineBuilder::build`] (the shipped policies always validate; a test
    /// checks it).
    pub fn with_defaults() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder starting from the defaults.
    #[must_use]
    pub fn builder() -> PolicyEngineBuilder {
        PolicyEngineBuilder::default()
    }

    /// The schema.
    #[must_use]
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub(crate) fn types(&self) -> &Types {
        &self.types
    }

    /// SHA-256 (hex) over every policy, template and link, by id: it names the policy
    /// set in audit records.
    #[must_use]
    pub fn policy_hash(&self) -> &str {
        &self.policy_hash
    }

    /// How many policies (static and linked) and templates are loaded.
    #[must_use]
    pub fn policy_count(&self) -> (usize, usize) {
        (self.all.policies().count(), self.all.templates().count())
    }

    /// The whole policy set, unsliced.
    #[must_use]
    pub fn policy_set(&self) -> &PolicySet {
        &self.all
    }

    /// Adds a template link, validated, and indexes it (no full re-index).
    ///
    /// # Errors
    ///
    /// [`Error::Link`] for an unknown template, a taken id, slots that do not match, or
    /// a link that fails strict validation.
    pub fn add_link(&mut self, link: &TemplateLink) -> Result<(), Error> {
        let policy = self.add_link_unindexed(link)?;
        self.index_policy(&policy)?;
        self.rehash();
        Ok(())
    }

    /// Removes a template link.
    ///
    /// # Errors
    ///
    /// [`Error::Link`] if there is no link with that id.
    pub fn remove_link(&mut self, id: &str) -> Result<(), Error> {
        let err = |message: String| Error::Link {
            link: id.to_owned(),
            message,
        };
        let pid = PolicyId::new(id);
        let policy = self
            .all
            .policy(&pid)
            .filter(|p| !p.is_static())
            .cloned()
            .ok_or_else(|| err("no such link".to_owned()))?;
        self.all
            .unlink(pid.clone())
            .map_err(|e| err(crate::error::chain(&e)))?;
        let key = self.scope_key(&policy);
        if key == (None, None) {
            // In every action's slice it applies to; absent from the others.
            for set in &mut self.index.unscoped {
                set.unlink(pid.clone()).ok();
            }
        } else if let Some(bucket) = self.index.bucket_mut(key) {
            bucket
                .set
                .unlink(pid.clone())
                .map_err(|e| err(crate::error::chain(&e)))?;
        }
        self.digests.remove(id);
        self.rehash();
        Ok(())
    }

    fn add_link_unindexed(&mut self, link: &TemplateLink) -> Result<Policy, Error> {
        let err = |message: String| Error::Link {
            link: link.id.clone(),
            message,
        };
        let template_id = PolicyId::new(&link.template);
        let template = self
            .all
            .template(&template_id)
            .cloned()
            .ok_or_else(|| err(format!("no template with @id {:?}", link.template)))?;
        if let Some(p) = &link.principal
            && !matches!(
                p,
                EntityRef::User(_)
                    | EntityRef::ServiceAccount(_)
                    | EntityRef::Group(_)
                    | EntityRef::Role(_)
            )
        {
            return Err(err(format!(
                "?principal must be a user, service account, group or role, not {p:?}"
            )));
        }
        if let Some(r) = &link.resource
            && !matches!(
                r,
                EntityRef::Version(_) | EntityRef::Dataset(_) | EntityRef::Collection(_)
            )
        {
            return Err(err(format!(
                "?resource must be a version, dataset or collection, not {r:?}"
            )));
        }
        let mut slots = HashMap::new();
        if let Some(p) = &link.principal {
            slots.insert(SlotId::principal(), self.types.entity(p));
        }
        if let Some(r) = &link.resource {
            slots.insert(SlotId::resource(), self.types.entity(r));
        }
        let pid = PolicyId::new(&link.id);
        // Validate the link on its own: the template was validated at load.
        let mut alone = PolicySet::new();
        alone
            .add_template(template)
            .map_err(|e| err(crate::error::chain(&e)))?;
        alone
            .link(template_id.clone(), pid.clone(), slots.clone())
            .map_err(|e| err(crate::error::chain(&e)))?;
        let result = Validator::new(self.schema.clone()).validate(&alone, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result
                .validation_errors()
                .map(|e| crate::error::chain(e))
                .collect();
            return Err(err(errors.join("; ")));
        }
        self.all
            .link(template_id, pid.clone(), slots)
            .map_err(|e| err(crate::error::chain(&e)))?;
        let policy = self
            .all
            .policy(&pid)
            .cloned()
            .ok_or_else(|| err("link vanished".to_owned()))?;
        self.digests
            .insert(link.id.clone(), Sha256::digest(policy.to_string()).into());
        Ok(policy)
    }

    /// Rebuilds the index and the hash from `self.all`.
    fn reindex(&mut self) -> Result<(), Error> {
        self.index = Index {
            unscoped: vec![PolicySet::new(); Action::ALL.len()],
            ..Index::default()
        };
        let policies: Vec<Policy> = self.all.policies().cloned().collect();
        for policy in &policies {
            self.index_policy(policy)?;
            self.digests.insert(
                policy.id().to_string(),
                Sha256::digest(policy.to_string()).into(),
            );
        }
        for template in self.all.templates() {
            self.digests.insert(
                format!("template:{}", template.id()),
                Sha256::digest(template.to_string()).into(),
            );
        }
        self.rehash();
        Ok(())
    }

    fn rehash(&mut self) {
        let mut h = Sha256::new();
        for (id, digest) in &self.digests {
            h.update((id.len() as u64).to_be_bytes());
            h.update(id.as_bytes());
            h.update(digest);
        }
        self.policy_hash = hex::encode(h.finalize());
    }

    /// The actions (as a bit mask over [`Action::index`]) a policy can apply to.
    fn action_mask(&self, policy: &Policy) -> u32 {
        let applies = |i: usize| match policy.action_constraint() {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(uid) => self.types.actions.get(i) == Some(&uid),
            ActionConstraint::In(uids) => self
                .action_ancestors
                .get(i)
                .is_some_and(|anc| uids.iter().any(|u| anc.contains(u))),
        };
        (0..Action::ALL.len())
            .filter(|i| applies(*i))
            .fold(0, |m, i| m | (1 << i))
    }

    fn scope_key(&self, policy: &Policy) -> ScopeKey {
        let p = match policy.principal_constraint() {
            PrincipalConstraint::Any | PrincipalConstraint::Is(_) => None,
            PrincipalConstraint::In(e)
            | PrincipalConstraint::Eq(e)
            | PrincipalConstraint::IsIn(_, e) => Some(e),
        };
        let r = match policy.resource_constraint() {
            ResourceConstraint::Any | ResourceConstraint::Is(_) => None,
            ResourceConstraint::In(e)
            | ResourceConstraint::Eq(e)
            | ResourceConstraint::IsIn(_, e) => Some(e),
        };
        (p, r)
    }

    fn index_policy(&mut self, policy: &Policy) -> Result<(), Error> {
        let mask = self.action_mask(policy);
        let key = self.scope_key(policy);
        let template = match policy.template_id() {
            Some(tid) => Some(
                self.all
                    .template(tid)
                    .cloned()
                    .ok_or_else(|| Error::Policy {
                        origin: policy.id().to_string(),
                        message: format!("template {tid} missing"),
                    })?,
            ),
            None => None,
        };
        let insert = |set: &mut PolicySet| -> Result<(), Error> {
            let err = |e: cedar_policy::PolicySetError| Error::Policy {
                origin: policy.id().to_string(),
                message: format!("indexing: {e}"),
            };
            match &template {
                None => set.add(policy.clone()).map_err(err),
                Some(t) => {
                    if set.template(t.id()).is_none() {
                        set.add_template(t.clone()).map_err(err)?;
                    }
                    set.link(
                        t.id().clone(),
                        policy.id().clone(),
                        policy.template_links().unwrap_or_default(),
                    )
                    .map_err(err)
                }
            }
        };
        if key == (None, None) {
            for (i, set) in self.index.unscoped.iter_mut().enumerate() {
                if mask & (1 << i) != 0 {
                    insert(set)?;
                }
            }
        } else if let Some(bucket) = self.index.bucket_mut(key) {
            insert(&mut bucket.set)?;
            bucket.actions |= mask;
        }
        Ok(())
    }

    /// Whether `principal` holds `role` in `entities`, directly or through a group:
    /// Cedar's `principal in Dataseal::Role::"role"`. An unknown principal holds none.
    /// Governance changes check the role an actor claims with it before they are
    /// decided, so the role recorded with a change is one the principal holds.
    #[must_use]
    pub fn holds_role(&self, entities: &EntityStore, principal: &Principal, role: &Role) -> bool {
        let who = self.types.principal(principal);
        let role = self.types.entity(&EntityRef::Role(role.clone()));
        who != role && entities.entities().is_ancestor_of(&role, &who)
    }

    /// Decides a request against the slices of the policy set that can apply to it.
    ///
    /// Fails closed: the answer is Deny whenever the request cannot be built (unknown
    /// principal or resource, a context the schema refuses) and whenever Cedar reports
    /// any evaluation error, even in a policy that would have permitted. Never panics.
    #[must_use]
    pub fn decide(&self, entities: &EntityStore, request: &AccessRequest) -> Decision {
        self.decide_with(entities, request, true)
    }

    /// Verifies the grant a caller presented (if any) at the request's time, attaches it,
    /// and decides. A grant that does not verify makes the answer Deny, with the reason
    /// among the errors.
    #[must_use]
    pub fn decide_presented(
        &self,
        entities: &EntityStore,
        request: AccessRequest,
        presented: Option<&Grant>,
        verifier: &GrantVerifier,
    ) -> Decision {
        match presented.map(|g| verifier.verify(g, request.now)) {
            None => self.decide(entities, &request),
            Some(Ok(grant)) => self.decide(entities, &request.with_grant(grant)),
            Some(Err(e)) => {
                let tally = Tally {
                    errors: vec![format!("grant: {e}")],
                    ..Tally::default()
                };
                self.conclude(entities, &request, tally)
            }
        }
    }

    /// Verifies what a caller presented — the grant with `grants`, the approvals with
    /// `approvals` (for the version the request names) — at the request's time,
    /// attaches them, and decides. A grant or an approval that does not verify makes
    /// the answer Deny, with the reason among the errors; approvals presented for a
    /// request about a dataset (not a version) are refused the same way.
    #[must_use]
    pub fn decide_verified(
        &self,
        entities: &EntityStore,
        request: AccessRequest,
        presented: &Presented,
        grants: &GrantVerifier,
        approvals: &ApprovalVerifier,
    ) -> Decision {
        let mut request = request;
        if !presented.approvals.is_empty() {
            let Resource::Version(cid) = &request.resource else {
                return self.refused(
                    entities,
                    &request,
                    "approval: approvals are for dataset versions only".to_owned(),
                );
            };
            match approvals.verify(&presented.approvals, cid, request.now) {
                Ok(verified) => request = request.with_approvals(verified),
                Err(e) => return self.refused(entities, &request, format!("approval: {e}")),
            }
        }
        match presented
            .grant
            .as_ref()
            .map(|g| grants.verify(g, request.now))
        {
            None => self.decide(entities, &request),
            Some(Ok(grant)) => self.decide(entities, &request.with_grant(grant)),
            Some(Err(e)) => self.refused(entities, &request, format!("grant: {e}")),
        }
    }

    /// Builds the Deny answer for a request refused before Cedar ran.
    pub(crate) fn refused(
        &self,
        entities: &EntityStore,
        request: &AccessRequest,
        why: String,
    ) -> Decision {
        let tally = Tally {
            errors: vec![why],
            ..Tally::default()
        };
        self.conclude(entities, request, tally)
    }

    /// [`PolicyEngine::decide`] over the whole policy set in one Cedar call, without
    /// slicing: the baseline the slicing is measured and tested against.
    #[doc(hidden)]
    #[must_use]
    pub fn decide_unsliced(&self, entities: &EntityStore, request: &AccessRequest) -> Decision {
        self.decide_with(entities, request, false)
    }

    fn decide_with(&self, store: &EntityStore, req: &AccessRequest, sliced: bool) -> Decision {
        let mut tally = Tally::default();
        match self.build_request(store, req) {
            Err(message) => tally.errors.push(message),
            Ok((cedar_request, principal, resource)) => {
                let entities = store.entities();
                if sliced {
                    self.evaluate_sliced(
                        &cedar_request,
                        req.action,
                        &principal,
                        &resource,
                        store,
                        &mut tally,
                    );
                } else {
                    tally.absorb(&self.authorizer.is_authorized(
                        &cedar_request,
                        &self.all,
                        entities,
                    ));
                }
            }
        }
        self.conclude(store, req, tally)
    }

    fn evaluate_sliced(
        &self,
        request: &Request,
        action: Action,
        principal: &EntityUid,
        resource: &EntityUid,
        store: &EntityStore,
        tally: &mut Tally,
    ) {
        let entities = store.entities();
        let bit = 1u32 << action.index();
        if let Some(set) = self.index.unscoped.get(action.index()) {
            tally.absorb(&self.authorizer.is_authorized(request, set, entities));
        }
        if !self.index.has_scoped() {
            return;
        }
        let mut ps: Vec<&EntityUid> = vec![principal];
        ps.extend(entities.ancestors(principal).into_iter().flatten());
        let mut rs: Vec<&EntityUid> = vec![resource];
        rs.extend(entities.ancestors(resource).into_iter().flatten());
        let mut run = |bucket: Option<&Bucket>| {
            if let Some(bucket) = bucket
                && bucket.actions & bit != 0
            {
                tally.absorb(
                    &self
                        .authorizer
                        .is_authorized(request, &bucket.set, entities),
                );
            }
        };
        for p in &ps {
            run(self.index.by_principal.get(*p));
            if let Some(inner) = self.index.by_pair.get(*p) {
                for r in &rs {
                    run(inner.get(*r));
                }
            }
        }
        for r in &rs {
            run(self.index.by_resource.get(*r));
        }
    }

    fn build_request(
        &self,
        store: &EntityStore,
        req: &AccessRequest,
    ) -> Result<(Request, EntityUid, EntityUid), String> {
        let principal = self.types.principal(&req.principal);
        let resource = self.types.resource(&req.resource);
        let action = self
            .types
            .action(req.action)
            .ok_or_else(|| format!("unknown action {}", req.action))?
            .clone();
        if store.entities().get(&principal).is_none() {
            return Err(format!("request: unknown principal {}", req.principal));
        }
        if store.entities().get(&resource).is_none() {
            return Err(format!("request: unknown resource {}", req.resource));
        }
        let context = self
            .context(req)
            .map_err(|e| format!("request: context: {e}"))?;
        let request = Request::new(
            principal.clone(),
            action,
            resource.clone(),
            context,
            Some(&self.schema),
        )
        .map_err(|e| format!("request: {}", crate::error::chain(&e)))?;
        Ok((request, principal, resource))
    }

    fn context(&self, req: &AccessRequest) -> Result<Context, String> {
        let s = |v: &str| RestrictedExpression::new_string(v.to_owned());
        let mut approvals = Vec::new();
        if let Some(u) = req.approvals.data_owner() {
            approvals.push((
                "dataOwner".to_owned(),
                RestrictedExpression::new_entity_uid(Types::uid(&self.types.user, u.as_str())),
            ));
        }
        if let Some(u) = req.approvals.compliance_reviewer() {
            approvals.push((
                "complianceReviewer".to_owned(),
                RestrictedExpression::new_entity_uid(Types::uid(&self.types.user, u.as_str())),
            ));
        }
        let mut pairs = vec![
            (
                "now".to_owned(),
                RestrictedExpression::new_long(req.now.unix_seconds()),
            ),
            ("purpose".to_owned(), s(req.purpose.as_str())),
            ("region".to_owned(), s(req.region.as_str())),
            (
                "regionScopes".to_owned(),
                RestrictedExpression::new_set(region_scopes(&req.region).into_iter().map(s)),
            ),
            (
                "approvals".to_owned(),
                RestrictedExpression::new_record(approvals).map_err(|e| e.to_string())?,
            ),
        ];
        if let Some(grant) = &req.grant {
            let c = grant.claims();
            let (from, until) = grant.accepted_window();
            let mut fields = vec![
                ("id".to_owned(), s(c.jti.as_str())),
                ("issuer".to_owned(), s(&c.iss)),
                ("cid".to_owned(), s(&c.cid.to_string())),
                ("purpose".to_owned(), s(c.purpose.as_str())),
                ("region".to_owned(), s(c.region.as_str())),
                (
                    "actions".to_owned(),
                    RestrictedExpression::new_set(c.actions.iter().map(|a| s(a.as_str()))),
                ),
                (
                    "notBefore".to_owned(),
                    RestrictedExpression::new_long(from.unix_seconds()),
                ),
                (
                    "expires".to_owned(),
                    RestrictedExpression::new_long(until.unix_seconds()),
                ),
            ];
            if let Some(u) = grant.user() {
                fields.push((
                    "user".to_owned(),
                    RestrictedExpression::new_entity_uid(Types::uid(&self.types.user, u.as_str())),
                ));
            }
            if let Some(sa) = grant.service_account() {
                fields.push((
                    "serviceAccount".to_owned(),
                    RestrictedExpression::new_entity_uid(Types::uid(
                        &self.types.service_account,
                        sa.as_str(),
                    )),
                ));
            }
            pairs.push((
                "grant".to_owned(),
                RestrictedExpression::new_record(fields).map_err(|e| e.to_string())?,
            ));
        }
        Context::from_pairs(pairs).map_err(|e| crate::error::chain(&e))
    }

    fn conclude(&self, store: &EntityStore, req: &AccessRequest, tally: Tally) -> Decision {
        let forbid_fired = !tally.forbids.is_empty();
        let allowed = tally.errors.is_empty() && !forbid_fired && !tally.permits.is_empty();
        let determining: Vec<String> = if allowed {
            tally.permits.into_iter().collect()
        } else {
            tally.forbids.into_iter().collect()
        };
        let record = AuditRecord {
            time: req.now,
            decision: if allowed { Effect::Allow } else { Effect::Deny },
            principal: req.principal.to_string(),
            action: req.action,
            resource: req.resource.to_string(),
            purpose: req.purpose,
            region: req.region.clone(),
            grant: req.grant.as_ref().map(|g| g.id().clone()),
            policies: determining.clone(),
            forbid: forbid_fired,
            errors: tally.errors.clone(),
            policy_set: self.policy_hash.clone(),
            entities: store.hash().to_owned(),
        };
        Decision::new(allowed, determining, forbid_fired, tally.errors, record)
    }
}
