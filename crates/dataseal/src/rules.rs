//! What a version's sensitivity class asks of its placement.

use std::collections::BTreeSet;

use dataseal_base::Region;
use dataseal_manifest::Sensitivity;
use dataseal_reputation::Tier;

/// Where a class's replicas may be.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionRule {
    /// Anywhere (a provider of unknown region too).
    Any,
    /// Only in the regions the manifest itself allows (`regions`).
    Manifest,
    /// Only in these regions.
    Only(BTreeSet<Region>),
}

/// What one sensitivity class asks of every object's placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRule {
    /// Replicas of every object, each on a different provider.
    pub replicas: usize,
    /// Where replicas may be. A provider satisfies a region when it is in it: `DE`
    /// satisfies `DE`, `EU`, `EEA` and `GLOBAL`.
    pub regions: RegionRule,
    /// The lowest provider tier accepted (`None`: any, labelled or not).
    pub min_tier: Option<Tier>,
    /// Whether objects must be encrypted (always true for every class but `public`).
    pub encryption_required: bool,
}

/// The placement table: one [`ClassRule`] per sensitivity class.
///
/// | class | replicas | regions | minimum tier | encryption |
/// |---|---|---|---|---|
/// | `public` | 1 | any | any | optional (dataseal encrypts anyway) |
/// | `internal` | 2 | any | any | required |
/// | `restricted` | 2 | the manifest's regions | any | required |
/// | `ephemeral` | 1 | the manifest's regions | any | required |
///
/// `internal`, `restricted` and `ephemeral` versions can never be published
/// unencrypted: [`PlacementRules::set`] keeps `encryption_required` on for them, and the
/// manifest validator refuses such a manifest with a plaintext object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementRules {
    public: ClassRule,
    internal: ClassRule,
    restricted: ClassRule,
    ephemeral: ClassRule,
}

impl Default for PlacementRules {
    fn default() -> Self {
        let rule = |replicas, regions, encryption_required| ClassRule {
            replicas,
            regions,
            min_tier: None,
            encryption_required,
        };
        Self {
            public: rule(1, RegionRule::Any, false),
            internal: rule(2, RegionRule::Any, true),
            restricted: rule(2, RegionRule::Manifest, true),
            ephemeral: rule(1, RegionRule::Manifest, true),
        }
    }
}

impl PlacementRules {
    /// The rule of a class.
    #[must_use]
    pub fn rule(&self, class: Sensitivity) -> &ClassRule {
        match class {
            Sensitivity::Public => &self.public,
            Sensitivity::Internal => &self.internal,
            Sensitivity::Restricted => &self.restricted,
            Sensitivity::Ephemeral => &self.ephemeral,
        }
    }

    /// Replaces the rule of a class. Replicas are at least 1, and encryption stays
    /// required for every class but `public`.
    #[must_use]
    pub fn set(mut self, class: Sensitivity, mut rule: ClassRule) -> Self {
        rule.replicas = rule.replicas.max(1);
        if class != Sensitivity::Public {
            rule.encryption_required = true;
        }
        match class {
            Sensitivity::Public => self.public = rule,
            Sensitivity::Internal => self.internal = rule,
            Sensitivity::Restricted => self.restricted = rule,
            Sensitivity::Ephemeral => self.ephemeral = rule,
        }
        self
    }

    /// The same table with every class's replicas set to `n` (at least 1).
    #[must_use]
    pub fn with_replicas(mut self, n: usize) -> Self {
        for r in [
            &mut self.public,
            &mut self.internal,
            &mut self.restricted,
            &mut self.ephemeral,
        ] {
            r.replicas = n.max(1);
        }
        self
    }
}

/// Whether a provider in `provider` lies inside `allowed` (`DE` inside `EU`).
#[must_use]
pub fn region_within(provider: &Region, allowed: &Region) -> bool {
    dataseal_policy::region_scopes(provider).contains(&allowed.as_str())
}

/// Whether a provider at `at` (unknown: `None`) may hold a replica under `rule` for a
/// manifest allowing `manifest_regions`.
pub(crate) fn region_allowed(
    rule: &RegionRule,
    manifest_regions: &BTreeSet<Region>,
    at: Option<&Region>,
) -> bool {
    let allowed = match rule {
        RegionRule::Any => return true,
        RegionRule::Manifest => manifest_regions,
        RegionRule::Only(set) => set,
    };
    at.is_some_and(|r| allowed.iter().any(|a| region_within(r, a)))
}
