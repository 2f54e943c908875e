use std::collections::{BTreeSet, HashSet};

use dataseal_base::ProviderId;
use rand::{Rng, RngExt};

use dataseal_base::Region;

use crate::{Error, NetworkGroup, ScoreBreakdown, Status, Tier};

/// A provider as selection sees it: its score, status and tier from a model, and where it
/// is (from the events, or the operator's directory).
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The provider.
    pub provider: ProviderId,
    /// Its score in `[0, 1]`.
    pub score: f64,
    /// Its status.
    pub status: Status,
    /// Its tier label, if any.
    pub tier: Option<Tier>,
    /// Its region, if known.
    pub region: Option<Region>,
    /// Its network group, if known. A candidate without one counts as its own group.
    pub network_group: Option<NetworkGroup>,
}

impl Candidate {
    /// A candidate from a model's breakdown, with no region or network group.
    #[must_use]
    pub fn from_breakdown(b: &ScoreBreakdown) -> Self {
        Self {
            provider: b.provider().clone(),
            score: b.score(),
            status: b.status(),
            tier: b.tier(),
            region: None,
            network_group: None,
        }
    }
}

/// What a placement asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// How many providers (replicas).
    pub replicas: usize,
    /// The lowest tier accepted (`None`: any, labelled or not).
    pub min_tier: Option<Tier>,
    /// The regions allowed (`None`: any; otherwise a candidate must have one of them).
    pub allowed_regions: Option<BTreeSet<Region>>,
    /// Whether every replica must be in a different network group.
    pub distinct_network_groups: bool,
    /// The largest expected share of replicas given to vetting newcomers, in `[0, 1]`.
    pub exploration_share: f64,
}

impl Placement {
    /// `replicas` providers in any tier and region, distinct network groups, 5 %
    /// exploration.
    #[must_use]
    pub fn new(replicas: usize) -> Self {
        Self {
            replicas,
            min_tier: None,
            allowed_regions: None,
            distinct_network_groups: true,
            exploration_share: 0.05,
        }
    }
}

fn group_key(c: &Candidate) -> String {
    match &c.network_group {
        Some(g) => format!("g:{g}"),
        None => format!("p:{}", c.provider),
    }
}

/// Chooses `placement.replicas` providers for one object.
///
/// Eligible: active or vetting, score above 0, tier at least `min_tier`, region allowed.
/// Established (active) providers are drawn without replacement with probability
/// proportional to score (Efraimidis–Spirakis keys `u^(1/score)`), skipping any whose
/// network group is taken when groups must differ. Vetting newcomers get at most one
/// replica, with probability `min(1, exploration_share × replicas)`, so their expected
/// share of replicas is at most `exploration_share`; they fill further replicas only when
/// the established providers cannot. Randomness comes only from `rng`: a seeded generator
/// gives a reproducible placement.
///
/// ```
/// use dataseal_reputation::{Candidate, Placement, Status, choose_providers};
/// use rand::SeedableRng;
/// let c = |id: &str, score, group: &str| Candidate {
///     provider: id.parse().unwrap(), score, status: Status::Active, tier: None,
///     region: None, network_group: Some(group.parse().unwrap()),
/// };
/// let candidates = [c("a", 0.9, "AS1"), c("b", 0.8, "AS1"), c("c", 0.7, "AS2"), c("d", 0.6, "AS3")];
/// let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(7);
/// let chosen = choose_providers(&candidates, &Placement::new(3), &mut rng)?;
/// assert_eq!(chosen.len(), 3);
/// assert!(!(chosen.iter().any(|p| p.as_str() == "a") && chosen.iter().any(|p| p.as_str() == "b")));
/// # Ok::<(), dataseal_reputation::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParams`] for an exploration share outside `[0, 1]`;
/// [`Error::NotEnoughProviders`] when the constraints leave too few.
pub fn choose_providers<R: Rng + ?Sized>(
    candidates: &[Candidate],
    placement: &Placement,
    rng: &mut R,
) -> Result<Vec<ProviderId>, Error> {
    if !(0.0..=1.0).contains(&placement.exploration_share) {
        return Err(Error::InvalidParams(
            "exploration_share must be in [0, 1]".to_owned(),
        ));
    }
    let k = placement.replicas;
    let eligible: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| matches!(c.status, Status::Active | Status::Vetting))
        .filter(|c| c.score > 0.0 && c.score.is_finite())
        .filter(|c| {
            placement
                .min_tier
                .is_none_or(|min| c.tier.is_some_and(|t| t >= min))
        })
        .filter(|c| {
            placement
                .allowed_regions
                .as_ref()
                .is_none_or(|allowed| c.region.as_ref().is_some_and(|r| allowed.contains(r)))
        })
        .collect();
    // Keys are drawn for every eligible candidate in input order, so the draw does not
    // depend on which are newcomers.
    let mut established: Vec<(f64, &Candidate)> = Vec::new();
    let mut newcomers: Vec<(f64, &Candidate)> = Vec::new();
    for c in &eligible {
        let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        if c.status == Status::Vetting {
            newcomers.push((u, c));
        } else {
            established.push((u.ln() / c.score, c));
        }
    }
    let by_key = |a: &(f64, &Candidate), b: &(f64, &Candidate)| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.provider.cmp(&b.1.provider))
    };
    established.sort_by(by_key);
    newcomers.sort_by(by_key);
    let explore = rng.random::<f64>() < (placement.exploration_share * k as f64).min(1.0);
    let mut chosen: Vec<ProviderId> = Vec::with_capacity(k);
    let mut groups: HashSet<String> = HashSet::new();
    let mut take = |pool: &[(f64, &Candidate)], limit: usize, chosen: &mut Vec<ProviderId>| {
        let mut taken = 0;
        for (_, c) in pool {
            if taken == limit || chosen.len() == k {
                break;
            }
            if chosen.contains(&c.provider) {
                continue;
            }
            if placement.distinct_network_groups && !groups.insert(group_key(c)) {
                continue;
            }
            chosen.push(c.provider.clone());
            taken += 1;
        }
    };
    if explore {
        take(&newcomers, 1, &mut chosen);
    }
    take(&established, k, &mut chosen);
    take(&newcomers, k, &mut chosen);
    if chosen.len() < k {
        return Err(Error::NotEnoughProviders {
            wanted: k,
            found: chosen.len(),
        });
    }
    Ok(chosen)
}

/// Orders providers for a read: active and vetting ones by score, best first (ties by id),
/// then suspended ones (they may still hold the data); disqualified ones are left out.
#[must_use]
pub fn order_for_read(candidates: &[Candidate]) -> Vec<ProviderId> {
    let mut usable: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.status != Status::Disqualified)
        .collect();
    usable.sort_by(|a, b| {
        (a.status == Status::Suspended)
            .cmp(&(b.status == Status::Suspended))
            .then_with(|| b.score.total_cmp(&a.score))
            .then_with(|| a.provider.cmp(&b.provider))
    });
    usable.into_iter().map(|c| c.provider.clone()).collect()
}
