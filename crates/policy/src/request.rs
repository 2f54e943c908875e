//! Access requests and the Cedar context built from them.

use dataseal_base::{Region, Timestamp};
use serde::{Deserialize, Serialize};

use crate::grant::VerifiedGrant;
use crate::{Action, Approval, DataPurpose, Principal, Resource, VerifiedApprovals};

/// One question to the decision point: may `principal` do `action` to `resource`, for
/// `purpose`, in `region`, at `now`?
///
/// A grant can only be attached after its signature and window were verified
/// ([`crate::GrantVerifier::verify`]), and approvals only after theirs were
/// ([`crate::ApprovalVerifier::verify`]): only then do they become Cedar context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRequest {
    /// Who asks.
    pub principal: Principal,
    /// What they want to do.
    pub action: Action,
    /// To which version (or, for uploads, dataset).
    pub resource: Resource,
    /// Why.
    pub purpose: DataPurpose,
    /// Where.
    pub region: Region,
    /// The decision point's clock.
    pub now: Timestamp,
    /// A verified access grant, if one was presented.
    pub grant: Option<VerifiedGrant>,
    /// Verified sign-offs.
    pub approvals: VerifiedApprovals,
}

impl AccessRequest {
    /// A request without grant or approvals.
    #[must_use]
    pub fn new(
        principal: Principal,
        action: Action,
        resource: Resource,
        purpose: DataPurpose,
        region: Region,
        now: Timestamp,
    ) -> Self {
        Self {
            principal,
            action,
            resource,
            purpose,
            region,
            now,
            grant: None,
            approvals: VerifiedApprovals::default(),
        }
    }

    /// The same request with a verified grant attached.
    #[must_use]
    pub fn with_grant(mut self, grant: VerifiedGrant) -> Self {
        self.grant = Some(grant);
        self
    }

    /// The same request with these verified approvals.
    #[must_use]
    pub fn with_approvals(mut self, approvals: VerifiedApprovals) -> Self {
        self.approvals = approvals;
        self
    }
}

/// The member states of the European Union (ISO 3166-1 alpha-2).
const EU: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];
/// The members of the European Economic Area outside the EU.
const EEA_ONLY: [&str; 3] = ["IS", "LI", "NO"];

/// The region and every region group containing it: `DE` → `DE`, `EU`, `EEA`,
/// `GLOBAL`; `NO` → `NO`, `EEA`, `GLOBAL`; `EU` → `EU`, `EEA`, `GLOBAL`; `US` → `US`,
/// `GLOBAL`.
///
/// ```
/// let r: dataseal_base::Region = "DE".parse()?;
/// assert_eq!(dataseal_policy::region_scopes(&r), ["DE", "EU", "EEA", "GLOBAL"]);
/// # Ok::<(), dataseal_base::Error>(())
/// ```
#[must_use]
pub fn region_scopes(region: &Region) -> Vec<&str> {
    let r = region.as_str();
    let mut out = vec![r];
    if EU.contains(&r) {
        out.push("EU");
    }
    if EU.contains(&r) || EEA_ONLY.contains(&r) || r == "EU" {
        out.push("EEA");
    }
    if r != "GLOBAL" {
        out.push("GLOBAL");
    }
    out
}

/// The JSON form of a request (`dataseal authorize --request`), documented in the
/// README. The grant, if any, is carried as token text and the approvals as signed
/// envelopes; both are verified when the request is decided
/// ([`crate::PolicyEngine::decide_verified`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestDocument {
    /// `{"user": ID}` or `{"serviceAccount": ID}`.
    pub principal: Principal,
    /// The action's schema name.
    pub action: Action,
    /// `{"version": CID}` or `{"dataset": ID}`.
    pub resource: Resource,
    /// The purpose, one of the vocabulary ([`DataPurpose`]).
    pub purpose: DataPurpose,
    /// The region.
    pub region: Region,
    /// The caller's clock, if it says: the decision point decides at its own clock and
    /// refuses a request whose time is further from it than the allowed skew
    /// ([`RequestDocument::into_parts`]); only a what-if evaluation decides at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    /// A grant token (`v4.public.…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// Signed approvals (DSSE envelopes, see the README's approval format).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
}

/// What a caller presented beside a request, not yet verified: a grant token and
/// approval envelopes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Presented {
    /// The grant, if any.
    pub grant: Option<crate::Grant>,
    /// The approvals.
    pub approvals: Vec<Approval>,
}

impl RequestDocument {
    /// Parses the JSON form strictly (unknown fields are refused).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Request`] naming what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, crate::Error> {
        serde_json::from_slice(bytes).map_err(|e| crate::Error::Request(e.to_string()))
    }

    /// The request (without its grant and approvals) and what was presented with it (to
    /// be verified), decided at the time `clock` says.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Request`] when, under [`Clock::System`], the request's own time is
    /// more than the allowed skew away from the decision point's clock, or the skew
    /// asked for is over [`MAX_REQUEST_SKEW_SECONDS`]; when, under [`Clock::WhatIf`],
    /// the request names no time.
    pub fn into_parts(self, clock: Clock) -> Result<(AccessRequest, Presented), crate::Error> {
        let now = match clock {
            Clock::System { now, skew_seconds } => {
                if skew_seconds > MAX_REQUEST_SKEW_SECONDS {
                    return Err(crate::Error::Request(format!(
                        "a clock skew of {skew_seconds} s is over the {MAX_REQUEST_SKEW_SECONDS} s allowed"
                    )));
                }
                if let Some(t) = self.time {
                    let off = t.unix_seconds().abs_diff(now.unix_seconds());
                    if off > u64::from(skew_seconds) {
                        return Err(crate::Error::Request(format!(
                            "the request's time {t} is {off} s from the decision point's clock {now}; at most {skew_seconds} s is allowed (decisions use the decision point's clock)"
                        )));
                    }
                }
                now
            }
            Clock::WhatIf => self.time.ok_or_else(|| {
                crate::Error::Request("a what-if evaluation needs the request's time".to_owned())
            })?,
        };
        let grant = self.grant.map(crate::Grant::from_token);
        let request = AccessRequest::new(
            self.principal,
            self.action,
            self.resource,
            self.purpose,
            self.region,
            now,
        );
        Ok((
            request,
            Presented {
                grant,
                approvals: self.approvals,
            },
        ))
    }
}

/// The largest clock difference a decision point accepts between a request's time and
/// its own clock, in seconds.
pub const MAX_REQUEST_SKEW_SECONDS: u32 = 300;
/// The default clock difference accepted, in seconds.
pub const DEFAULT_REQUEST_SKEW_SECONDS: u32 = 60;

/// Whose clock a decision uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Clock {
    /// The decision point's own clock (`now`, normally [`Timestamp::now`]); a request's
    /// time, when present, must be within `skew_seconds` of it
    /// (at most [`MAX_REQUEST_SKEW_SECONDS`]).
    System {
        /// The decision point's clock.
        now: Timestamp,
        /// The difference accepted.
        skew_seconds: u32,
    },
    /// A what-if evaluation at the request's own time: never to be recorded in an audit
    /// log or to release a key.
    WhatIf,
}
