//! The registry: every operation is one transaction, retried from the start when the
//! database reports contention, so it either happens whole or not at all.

use std::time::Duration;

use dataseal_base::{Cid, DatasetId, Role, Timestamp};
use dataseal_policy::GrantId;

use crate::db::{Arg, BackendKind, Col, Mode, OpenOptions, Pool, Row, Txn};
use crate::types::{parse_principal, principal_text};
use crate::{
    Actor, Change, DecisionView, Error, GrantRevocation, Hold, HoldId, HoldScope, KnownVersion,
    LifecycleState, NewVersion, ReadRecord, Reason, SourceId, Stewardship, StoredCheckpoint,
    TransitionRecord, VersionStatus,
};

/// How many times an operation is tried when the database reports contention.
const MAX_ATTEMPTS: u32 = 50;

/// Runs `$body` (an expression using the transaction `$tx` and evaluating to a
/// `Result`) in a fresh transaction, commits on `Ok`, rolls back on `Err`, and starts
/// over on [`Error::Busy`].
macro_rules! in_tx {
    ($self:expr, $mode:expr, |$tx:ident| $body:expr) => {{
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome: Result<_, Error> = async {
                let mut $tx = $self.pool.begin($mode).await?;
                let value = $body?;
                $tx.commit().await?;
                Ok(value)
            }
            .await;
            match outcome {
                Err(e) if e.is_busy() && attempt < MAX_ATTEMPTS => back_off(attempt).await,
                other => break other,
            }
        }
    }};
}

/// Waits before the next attempt of a transaction a concurrent one made busy: a
/// little more each time, with jitter from the clock so that two processes that
/// collided do not collide again in step.
async fn back_off(attempt: u32) {
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            % 7,
    );
    let ms = u64::from(attempt.min(10)) * 3 + jitter;
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// The registry: the mutable system of record beside the immutable manifests.
///
/// Open it with [`Registry::open`] on `sqlite:PATH` (embedded, the default) or
/// `postgres://…`; the schema is migrated on open. Cloning shares the connection pool.
#[derive(Debug, Clone)]
pub struct Registry {
    pool: Pool,
}

fn text(s: impl ToString) -> Arg {
    Arg::Text(s.to_string())
}

fn int_of(n: u64, what: &'static str) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| Error::InvalidInput {
        what,
        value: n.to_string(),
        rule: "at most 2^63 - 1",
    })
}

fn uint(n: i64) -> Result<u64, Error> {
    u64::try_from(n).map_err(|_| Error::Corrupt(format!("negative count {n}")))
}

fn time(n: i64) -> Result<Timestamp, Error> {
    Timestamp::from_unix_seconds(n).map_err(|e| Error::Corrupt(e.to_string()))
}

fn cid(s: &str) -> Result<Cid, Error> {
    s.parse()
        .map_err(|_| Error::Corrupt(format!("stored CID {s:?}")))
}

fn state(s: &str) -> Result<LifecycleState, Error> {
    s.parse()
        .map_err(|_| Error::Corrupt(format!("stored state {s:?}")))
}

/// Reads a `Change` from four columns starting at `i`: principal, role, reason, at.
fn change_at(row: &Row, i: usize) -> Result<Change, Error> {
    let role: Role = row
        .text(i + 1)?
        .parse()
        .map_err(|_| Error::Corrupt("stored role".to_owned()))?;
    let reason: Reason = row
        .text(i + 2)?
        .parse()
        .map_err(|_| Error::Corrupt("stored reason".to_owned()))?;
    Ok(Change {
        actor: Actor {
            principal: parse_principal(&row.text(i)?)?,
            role,
        },
        reason,
        at: time(row.int(i + 3)?)?,
    })
}

fn change_args(c: &Change) -> [Arg; 4] {
    [
        Arg::Text(principal_text(&c.actor.principal)),
        text(&c.actor.role),
        text(&c.reason),
        Arg::Int(c.at.unix_seconds()),
    ]
}

/// The common table `lineage`: version `$1` and every version it derives from through
/// parent links (text, so a statement can `concat!` it).
macro_rules! lineage_cte {
    () => {
        "WITH RECURSIVE lineage(cid) AS ( \
            SELECT CAST($1 AS TEXT) \
            UNION \
            SELECT p.parent FROM version_parents p JOIN lineage l ON p.cid = l.cid)"
    };
}

/// Active holds covering version `$1` of dataset `$2`.
const COUNT_HOLDS: &str = concat!(
    lineage_cte!(),
    " SELECT COUNT(*) FROM holds h WHERE h.lifted_at IS NULL AND ( \
        (h.scope_kind = 'version' AND h.scope_key = $1) \
        OR (h.scope_kind = 'dataset' AND h.scope_key = $2) \
        OR (h.scope_kind = 'source' AND h.scope_key IN ( \
            SELECT s.source FROM version_sources s JOIN lineage l ON s.cid = l.cid)))"
);

/// Every hold, active or lifted, covering version `$1` of dataset `$2`.
const HOLDS_COVERING: &str = concat!(
    lineage_cte!(),
    " SELECT h.id, h.scope_kind, h.scope_key, h.principal, h.role, h.reason, h.at, \
        h.lifted_principal, h.lifted_role, h.lifted_reason, h.lifted_at, \
        h.placed_revision, h.lifted_revision \
     FROM holds h WHERE ( \
        (h.scope_kind = 'version' AND h.scope_key = $1) \
        OR (h.scope_kind = 'dataset' AND h.scope_key = $2) \
        OR (h.scope_kind = 'source' AND h.scope_key IN ( \
            SELECT s.source FROM version_sources s JOIN lineage l ON s.cid = l.cid))) \
     ORDER BY h.id"
);

const HOLD_COLS: [Col; 13] = [
    Col::Int,  // id
    Col::Text, // scope_kind
    Col::Text, // scope_key
    Col::Text, // principal
    Col::Text, // role
    Col::Text, // reason
    Col::Int,  // at
    Col::Text, // lifted_principal
    Col::Text, // lifted_role
    Col::Text, // lifted_reason
    Col::Int,  // lifted_at
    Col::Int,  // placed_revision
    Col::Int,  // lifted_revision
];

/// What a decision reads about version `$1` in one statement: its row, its active holds
/// (on it, its dataset, or a source of its lineage), the withdrawn sources of its
/// lineage, the revocation of grant `$2` (NULL: none asked), and the approval envelopes
/// kept for it: one row per envelope, oldest first, or one row with a NULL envelope
/// when there is none. No row: unknown.
const DECISION_VIEW: &str = concat!(
    lineage_cte!(),
    ", lineage_sources(source) AS ( \
        SELECT s.source FROM version_sources s JOIN lineage l ON s.cid = l.cid) ",
    "SELECT v.dataset_id, v.state, v.retention_until, v.revision, \
        v.owner, v.organisation, v.uploader, v.special_category, \
        (SELECT COUNT(*) FROM holds h WHERE h.lifted_at IS NULL AND ( \
            (h.scope_kind = 'version' AND h.scope_key = v.cid) \
            OR (h.scope_kind = 'dataset' AND h.scope_key = v.dataset_id) \
            OR (h.scope_kind = 'source' AND h.scope_key IN ( \
                SELECT source FROM lineage_sources)))), \
        (SELECT COUNT(*) FROM withdrawn_sources w WHERE w.source IN ( \
            SELECT source FROM lineage_sources)), \
        g.principal, g.role, g.reason, g.at, a.envelope \
     FROM versions v LEFT JOIN revoked_grants g ON g.grant_id = $2 \
     LEFT JOIN approval_envelopes a ON a.cid = v.cid \
     WHERE v.cid = $1 ORDER BY a.id"
);

const DECISION_VIEW_COLS: [Col; 15] = [
    Col::Text,  // dataset_id
    Col::Text,  // state
    Col::Int,   // retention_until
    Col::Int,   // revision
    Col::Text,  // owner
    Col::Text,  // organisation
    Col::Text,  // uploader
    Col::Int,   // special_category
    Col::Int,   // active holds
    Col::Int,   // withdrawn sources
    Col::Text,  // revoked grant: principal
    Col::Text,  // role
    Col::Text,  // reason
    Col::Int,   // at
    Col::Bytes, // approval envelope
];

/// Every registered version derived from source `$1`, directly or through parents.
const DERIVED: &str = "WITH RECURSIVE derived(cid) AS ( \
        SELECT cid FROM version_sources WHERE source = $1 \
        UNION \
        SELECT p.cid FROM version_parents p JOIN derived d ON p.parent = d.cid) \
    SELECT cid FROM derived ORDER BY cid";

fn hold_from_row(row: &Row) -> Result<Hold, Error> {
    let id = HoldId(row.int(0)?);
    let scope = HoldScope::parse(&row.text(1)?, &row.text(2)?)?;
    let placed = change_at(row, 3)?;
    let lifted = match row.opt_int(10)? {
        None => None,
        Some(_) => Some(change_at(row, 7)?),
    };
    Ok(Hold {
        id,
        scope,
        placed,
        lifted,
        placed_revision: row.opt_int(11)?.map(uint).transpose()?,
        lifted_revision: row.opt_int(12)?.map(uint).transpose()?,
    })
}

/// The one number a `SELECT COUNT(*)` query answers.
async fn count(tx: &mut Txn, sql: &'static str, args: &[Arg]) -> Result<i64, Error> {
    tx.fetch_optional(sql, args, &[Col::Int])
        .await?
        .ok_or_else(|| Error::Corrupt("COUNT returned no row".to_owned()))?
        .int(0)
}

async fn count_holds(tx: &mut Txn, cid: &Cid, dataset: &str) -> Result<u64, Error> {
    uint(count(tx, COUNT_HOLDS, &[text(cid), text(dataset)]).await?)
}

/// [`Registry::status`] within a transaction.
async fn status_in(tx: &mut Txn, cid: &Cid) -> Result<VersionStatus, Error> {
    Ok(view_in(tx, cid, None).await?.0)
}

/// A version's status and, when `grant` names one, that grant's revocation (none for
/// an unknown version), in one statement ([`DECISION_VIEW`]).
async fn view_in(
    tx: &mut Txn,
    cid: &Cid,
    grant: Option<&GrantId>,
) -> Result<(VersionStatus, Option<GrantRevocation>), Error> {
    let Some(row) = tx
        .fetch_optional(
            DECISION_VIEW,
            &[text(cid), Arg::OptText(grant.map(ToString::to_string))],
            &DECISION_VIEW_COLS,
        )
        .await?
    else {
        return Ok((VersionStatus::Unknown, None));
    };
    view_from_row(cid, grant, &row)
}

/// A version's status and the grant's revocation from a row of [`DECISION_VIEW`].
fn view_from_row(
    cid: &Cid,
    grant: Option<&GrantId>,
    row: &Row,
) -> Result<(VersionStatus, Option<GrantRevocation>), Error> {
    let dataset = row.text(0)?;
    let known = KnownVersion {
        cid: *cid,
        dataset: dataset
            .parse::<DatasetId>()
            .map_err(|_| Error::Corrupt(format!("stored dataset id {dataset:?}")))?,
        state: state(&row.text(1)?)?,
        active_holds: uint(row.int(8)?)?,
        consent_withdrawn: row.int(9)? > 0,
        retention_until: row.opt_int(2)?.map(time).transpose()?,
        revision: uint(row.int(3)?)?,
        stewardship: stewardship_from(row, 4, cid)?,
    };
    let revocation = match (grant, row.opt_int(13)?) {
        (Some(id), Some(_)) => Some(GrantRevocation {
            grant: id.clone(),
            revoked: change_at(row, 10)?,
        }),
        _ => None,
    };
    Ok((VersionStatus::Known(Box::new(known)), revocation))
}

/// [`Registry::grant_revocation`] within a transaction.
async fn revocation_in(tx: &mut Txn, grant: &GrantId) -> Result<Option<GrantRevocation>, Error> {
    let row = tx
        .fetch_optional(
            "SELECT principal, role, reason, at FROM revoked_grants WHERE grant_id = $1",
            &[text(grant)],
            &[Col::Text, Col::Text, Col::Text, Col::Int],
        )
        .await?;
    row.map(|row| {
        Ok(GrantRevocation {
            grant: grant.clone(),
            revoked: change_at(&row, 0)?,
        })
    })
    .transpose()
}

/// The approval envelopes kept for a version, oldest first, within a transaction.
async fn envelopes_in(tx: &mut Txn, cid: &Cid) -> Result<Vec<Vec<u8>>, Error> {
    let rows = tx
        .fetch_all(
            "SELECT envelope FROM approval_envelopes WHERE cid = $1 ORDER BY id",
            &[text(cid)],
            &[Col::Bytes],
        )
        .await?;
    rows.iter()
        .map(|r| r.bytes(0))
        .collect::<Result<Vec<_>, _>>()
}

/// [`Error::StateMismatch`] unless the version is in the state the caller expected.
fn expect_state(
    cid: &Cid,
    expected: Option<LifecycleState>,
    found: LifecycleState,
) -> Result<(), Error> {
    match expected {
        Some(expected) if expected != found => Err(Error::StateMismatch {
            cid: *cid,
            expected,
            found,
        }),
        _ => Ok(()),
    }
}

/// Moves a version within a transaction: the table, holds, a compare-and-set on state
/// and revision, and the history row.
async fn move_in(
    tx: &mut Txn,
    cid: &Cid,
    expected: Option<LifecycleState>,
    to: LifecycleState,
    change: &Change,
) -> Result<u64, Error> {
    let (dataset, from, _, revision) = require_version(tx, cid).await?;
    expect_state(cid, expected, from)?;
    if !from.can_move_to(to) {
        return Err(Error::IllegalTransition {
            cid: *cid,
            from,
            to,
        });
    }
    if to.refused_while_held() {
        let holds = count_holds(tx, cid, &dataset).await?;
        if holds > 0 {
            return Err(Error::Held {
                cid: *cid,
                to,
                holds,
            });
        }
    }
    let next = next_revision(cid, revision)?;
    // The compare-and-set: state and revision as read, or nothing.
    let n = tx
        .execute(
            "UPDATE versions SET state = $2, revision = revision + 1 \
             WHERE cid = $1 AND state = $3 AND revision = $4",
            &[text(cid), text(to), text(from), Arg::Int(revision)],
        )
        .await?;
    if n != 1 {
        return Err(Error::Busy(format!("version {cid} changed concurrently")));
    }
    let [p, r, why, at] = change_args(change);
    tx.execute(
        "INSERT INTO transitions \
         (cid, revision, from_state, to_state, principal, role, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            text(cid),
            Arg::Int(next),
            text(from),
            text(to),
            p,
            r,
            why,
            at,
        ],
    )
    .await?;
    uint(next)
}

/// `(dataset, state, retention_until, revision)` of a version.
async fn load_version(
    tx: &mut Txn,
    cid: &Cid,
) -> Result<Option<(String, LifecycleState, Option<i64>, i64)>, Error> {
    let Some(row) = tx
        .fetch_optional(
            "SELECT dataset_id, state, retention_until, revision FROM versions WHERE cid = $1",
            &[text(cid)],
            &[Col::Text, Col::Text, Col::Int, Col::Int],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        row.text(0)?,
        state(&row.text(1)?)?,
        row.opt_int(2)?,
        row.int(3)?,
    )))
}

/// [`load_version`], for an operation on a version that must be registered.
async fn require_version(
    tx: &mut Txn,
    cid: &Cid,
) -> Result<(String, LifecycleState, Option<i64>, i64), Error> {
    load_version(tx, cid)
        .await?
        .ok_or(Error::UnknownVersion(*cid))
}

/// Who answers for a version (columns `i..i + 4`: owner, organisation, uploader,
/// special category), if it was registered with it.
fn stewardship_from(row: &Row, i: usize, cid: &Cid) -> Result<Option<Stewardship>, Error> {
    let (Some(owner), Some(organisation), Some(uploader), Some(special)) = (
        row.opt_text(i)?,
        row.opt_text(i + 1)?,
        row.opt_text(i + 2)?,
        row.opt_int(i + 3)?,
    ) else {
        return Ok(None);
    };
    let corrupt = |what: &str| Error::Corrupt(format!("stored {what} of {cid}"));
    Ok(Some(Stewardship {
        owner: owner.parse().map_err(|_| corrupt("owner"))?,
        organisation: organisation.parse().map_err(|_| corrupt("organisation"))?,
        uploader: uploader.parse().map_err(|_| corrupt("uploader"))?,
        special_category_data: special != 0,
    }))
}

fn read_from_row(row: &Row) -> Result<ReadRecord, Error> {
    Ok(ReadRecord {
        cid: cid(&row.text(0)?)?,
        principal: parse_principal(&row.text(1)?)?,
        job: row.opt_text(2)?,
        receipt: row.opt_bytes(3)?,
        at: time(row.int(4)?)?,
    })
}

const READ_COLS: [Col; 5] = [Col::Text, Col::Text, Col::Text, Col::Bytes, Col::Int];

fn next_revision(cid: &Cid, revision: i64) -> Result<i64, Error> {
    revision
        .checked_add(1)
        .ok_or_else(|| Error::Corrupt(format!("version {cid}: revision {revision} cannot grow")))
}

/// Adds one to a version's revision (the compare-and-set on `revision` catches any
/// writer that got in between) and returns the new revision.
async fn bump_revision(tx: &mut Txn, cid: &Cid, seen: i64) -> Result<i64, Error> {
    let next = next_revision(cid, seen)?;
    let n = tx
        .execute(
            "UPDATE versions SET revision = revision + 1 WHERE cid = $1 AND revision = $2",
            &[text(cid), Arg::Int(seen)],
        )
        .await?;
    if n == 1 {
        Ok(next)
    } else {
        Err(Error::Busy(format!("version {cid} changed concurrently")))
    }
}

impl Registry {
    /// Opens (creating it if needed) the registry at `url` and brings its schema up to
    /// date: `sqlite:PATH` (or `sqlite://PATH`) for an embedded file (created if missing), or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?OPTIONS]` for a server.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for any other URL; [`Error::Database`] if the database
    /// cannot be reached or created; [`Error::Migrate`] if the schema cannot be brought
    /// up to date, or was written by a newer version of this library.
    pub async fn open(url: &str) -> Result<Self, Error> {
        Self::open_with(url, &OpenOptions::default()).await
    }

    /// As [`Registry::open`], with the options given: whether a missing SQLite file is
    /// created, and how long to try to reach a PostgreSQL server.
    ///
    /// # Errors
    ///
    /// As [`Registry::open`], and [`Error::Missing`] for a SQLite file that does not
    /// exist when `options` do not create it; a PostgreSQL server that cannot be reached
    /// within the timeout is [`Error::Database`].
    pub async fn open_with(url: &str, options: &OpenOptions) -> Result<Self, Error> {
        Ok(Self {
            pool: Pool::open(url, options).await?,
        })
    }

    /// Which database the registry lives in.
    #[must_use]
    pub fn backend(&self) -> BackendKind {
        self.pool.kind()
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Registers a version as `quarantined`, with its lineage and retention end,
    /// recording `change` as revision 0 of its history.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRegistered`] if the CID is known; [`Error::InvalidInput`] if the
    /// version names itself as its parent. Nothing changes on any error.
    pub async fn register(&self, version: &NewVersion, change: &Change) -> Result<(), Error> {
        if version.parents.contains(&version.cid) {
            return Err(Error::InvalidInput {
                what: "parent version",
                value: version.cid.to_string(),
                rule: "a version other than the one registered",
            });
        }
        in_tx!(self, Mode::Write, |tx| async {
            if load_version(&mut tx, &version.cid).await?.is_some() {
                return Err(Error::AlreadyRegistered(version.cid));
            }
            let steward = version.stewardship.as_ref();
            tx.execute(
                "INSERT INTO versions (cid, dataset_id, state, retention_until, revision, \
                 owner, organisation, uploader, special_category) \
                 VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8)",
                &[
                    text(version.cid),
                    text(&version.dataset),
                    text(LifecycleState::Quarantined),
                    Arg::OptInt(version.retention_until.map(Timestamp::unix_seconds)),
                    Arg::OptText(steward.map(|s| s.owner.to_string())),
                    Arg::OptText(steward.map(|s| s.organisation.to_string())),
                    Arg::OptText(steward.map(|s| s.uploader.to_string())),
                    Arg::OptInt(steward.map(|s| i64::from(s.special_category_data))),
                ],
            )
            .await?;
            for parent in &version.parents {
                tx.execute(
                    "INSERT INTO version_parents (cid, parent) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                    &[text(version.cid), text(parent)],
                )
                .await?;
            }
            for source in &version.sources {
                tx.execute(
                    "INSERT INTO version_sources (cid, source) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                    &[text(version.cid), text(source)],
                )
                .await?;
            }
            let [p, r, why, at] = change_args(change);
            tx.execute(
                "INSERT INTO transitions \
                 (cid, revision, from_state, to_state, principal, role, reason, at) \
                 VALUES ($1, 0, NULL, $2, $3, $4, $5, $6)",
                &[
                    text(version.cid),
                    text(LifecycleState::Quarantined),
                    p,
                    r,
                    why,
                    at,
                ],
            )
            .await?;
            Ok::<_, Error>(())
        }
        .await)
    }

    /// Moves a version to `to` from whatever state it is in, if the transition table
    /// allows it; returns the version's new revision.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`]; [`Error::IllegalTransition`] if the table forbids the
    /// move; [`Error::Held`] if a legal hold covers the version and `to` is `expired`,
    /// `archived` or `erased`; [`Error::ApprovalRequired`] for `approved`, which only
    /// [`Registry::approve_verified`] reaches. Nothing changes on any error.
    pub async fn transition(
        &self,
        cid: &Cid,
        to: LifecycleState,
        change: &Change,
    ) -> Result<u64, Error> {
        self.move_version(cid, None, to, change).await
    }

    /// Keeps one more approval envelope of a version and moves it to `approved`, in one
    /// transaction: both happen, or neither. The caller must have verified the
    /// version's approvals (a data owner's and a compliance reviewer's, from trusted
    /// approver keys, neither by the uploader), this one among them; the registry holds
    /// no approver keys, so it checks only that at least two approval envelopes are kept
    /// once this one is.
    ///
    /// # Errors
    ///
    /// As [`Registry::transition`] (a version that is not quarantined cannot move to
    /// `approved`); [`Error::ApprovalRequired`] when fewer than two approval envelopes
    /// would be kept.
    pub async fn approve_verified(
        &self,
        cid: &Cid,
        envelope: &[u8],
        change: &Change,
    ) -> Result<u64, Error> {
        in_tx!(self, Mode::Write, |tx| async {
            require_version(&mut tx, cid).await?;
            tx.execute(
                "INSERT INTO approval_envelopes (cid, envelope, recorded_at) VALUES ($1, $2, $3)",
                &[
                    text(cid),
                    Arg::Bytes(envelope.to_vec()),
                    Arg::Int(change.at.unix_seconds()),
                ],
            )
            .await?;
            let kept = count(
                &mut tx,
                "SELECT COUNT(*) FROM approval_envelopes WHERE cid = $1",
                &[text(cid)],
            )
            .await?;
            if kept < 2 {
                return Err(Error::ApprovalRequired { cid: *cid });
            }
            move_in(&mut tx, cid, None, LifecycleState::Approved, change).await
        }
        .await)
    }

    /// As [`Registry::transition`], but only if the version is in state `from`: a
    /// compare-and-set for callers that decided on what they read earlier.
    ///
    /// # Errors
    ///
    /// As [`Registry::transition`], and [`Error::StateMismatch`] if the version is not
    /// in `from`.
    pub async fn transition_from(
        &self,
        cid: &Cid,
        from: LifecycleState,
        to: LifecycleState,
        change: &Change,
    ) -> Result<u64, Error> {
        self.move_version(cid, Some(from), to, change).await
    }

    async fn move_version(
        &self,
        cid: &Cid,
        expected: Option<LifecycleState>,
        to: LifecycleState,
        change: &Change,
    ) -> Result<u64, Error> {
        in_tx!(self, Mode::Write, |tx| async {
            if to == LifecycleState::Approved {
                // Only approve_verified approves; the version and the expected state
                // are still checked first, so the error names the first thing wrong.
                let (_, from, _, _) = require_version(&mut tx, cid).await?;
                expect_state(cid, expected, from)?;
                return Err(Error::ApprovalRequired { cid: *cid });
            }
            move_in(&mut tx, cid, expected, to, change).await
        }
        .await)
    }

    /// A version's history, oldest first: its registration, then every transition.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`].
    pub async fn history(&self, cid: &Cid) -> Result<Vec<TransitionRecord>, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            require_version(&mut tx, cid).await?;
            let rows = tx
                .fetch_all(
                    "SELECT revision, from_state, to_state, principal, role, reason, at \
                     FROM transitions WHERE cid = $1 ORDER BY revision",
                    &[text(cid)],
                    &[
                        Col::Int,
                        Col::Text,
                        Col::Text,
                        Col::Text,
                        Col::Text,
                        Col::Text,
                        Col::Int,
                    ],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    let c = change_at(row, 3)?;
                    Ok(TransitionRecord {
                        revision: uint(row.int(0)?)?,
                        from: row.opt_text(1)?.as_deref().map(state).transpose()?,
                        to: state(&row.text(2)?)?,
                        actor: c.actor,
                        reason: c.reason,
                        at: c.at,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()
        }
        .await)
    }

    /// What a decision needs to know about a version now: [`VersionStatus::Unknown`]
    /// for a version the registry has never seen (the caller denies).
    ///
    /// # Errors
    ///
    /// Only database failures.
    pub async fn status(&self, cid: &Cid) -> Result<VersionStatus, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            status_in(&mut tx, cid).await
        }
        .await)
    }

    /// Everything a decision reads about a version, in one statement (one consistent
    /// snapshot, one round trip): its [`Registry::status`], the revocation of the grant
    /// presented (when `grant` names one), and the approval envelopes kept for it,
    /// oldest first (none for an unknown version).
    ///
    /// # Errors
    ///
    /// Only database failures.
    pub async fn decision_view(
        &self,
        cid: &Cid,
        grant: Option<&GrantId>,
    ) -> Result<DecisionView, Error> {
        let args = [text(cid), Arg::OptText(grant.map(ToString::to_string))];
        let mut attempt: u32 = 0;
        let rows = loop {
            attempt += 1;
            match self
                .pool
                .fetch_all(DECISION_VIEW, &args, &DECISION_VIEW_COLS)
                .await
            {
                Err(e) if e.is_busy() && attempt < MAX_ATTEMPTS => back_off(attempt).await,
                other => break other?,
            }
        };
        let Some(first) = rows.first() else {
            return Ok(DecisionView {
                status: VersionStatus::Unknown,
                grant_revocation: None,
                approvals: Vec::new(),
            });
        };
        let (status, grant_revocation) = view_from_row(cid, grant, first)?;
        let approvals = rows
            .iter()
            .filter_map(|row| row.opt_bytes(14).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DecisionView {
            status,
            grant_revocation,
            approvals,
        })
    }

    /// Places a legal hold. A version scope needs a registered version; dataset and
    /// source scopes may name ones with no version yet, and cover versions registered
    /// later.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`] for a version scope naming an unknown version.
    pub async fn place_hold(&self, scope: &HoldScope, change: &Change) -> Result<HoldId, Error> {
        in_tx!(self, Mode::Write, |tx| async {
            let placed_revision = match scope {
                HoldScope::Version(cid) => {
                    let (_, _, _, revision) = require_version(&mut tx, cid).await?;
                    Some(bump_revision(&mut tx, cid, revision).await?)
                }
                _ => None,
            };
            let [p, r, why, at] = change_args(change);
            let row = tx
                .fetch_optional(
                    "INSERT INTO holds \
                     (scope_kind, scope_key, principal, role, reason, at, placed_revision) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    &[
                        text(scope.kind()),
                        Arg::Text(scope.key()),
                        p,
                        r,
                        why,
                        at,
                        Arg::OptInt(placed_revision),
                    ],
                    &[Col::Int],
                )
                .await?
                .ok_or_else(|| Error::Corrupt("INSERT returned no id".to_owned()))?;
            Ok(HoldId(row.int(0)?))
        }
        .await)
    }

    /// Lifts a legal hold; only the role that placed it may.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownHold`]; [`Error::HoldNotActive`] if it was already lifted;
    /// [`Error::WrongRole`] if `change` is in another role than the one that placed it.
    pub async fn lift_hold(&self, id: HoldId, change: &Change) -> Result<(), Error> {
        in_tx!(self, Mode::Write, |tx| async {
            let row = tx
                .fetch_optional(
                    "SELECT scope_kind, scope_key, role, lifted_at FROM holds WHERE id = $1",
                    &[Arg::Int(id.0)],
                    &[Col::Text, Col::Text, Col::Text, Col::Int],
                )
                .await?
                .ok_or(Error::UnknownHold(id))?;
            if row.opt_int(3)?.is_some() {
                return Err(Error::HoldNotActive(id));
            }
            let placed: Role = row
                .text(2)?
                .parse()
                .map_err(|_| Error::Corrupt("stored role".to_owned()))?;
            if placed != change.actor.role {
                return Err(Error::WrongRole {
                    hold: id,
                    placed,
                    offered: change.actor.role.clone(),
                });
            }
            let lifted_revision = match HoldScope::parse(&row.text(0)?, &row.text(1)?)? {
                HoldScope::Version(cid) => {
                    let (_, _, _, revision) = require_version(&mut tx, &cid).await?;
                    Some(bump_revision(&mut tx, &cid, revision).await?)
                }
                _ => None,
            };
            let [p, r, why, at] = change_args(change);
            let n = tx
                .execute(
                    "UPDATE holds SET lifted_principal = $2, lifted_role = $3, \
                     lifted_reason = $4, lifted_at = $5, lifted_revision = $6 \
                     WHERE id = $1 AND lifted_at IS NULL",
                    &[Arg::Int(id.0), p, r, why, at, Arg::OptInt(lifted_revision)],
                )
                .await?;
            if n != 1 {
                return Err(Error::Busy(format!("{id} changed concurrently")));
            }
            Ok(())
        }
        .await)
    }

    /// One hold by id, active or lifted.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownHold`].
    pub async fn hold(&self, id: HoldId) -> Result<Hold, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            let row = tx
                .fetch_optional(
                    "SELECT id, scope_kind, scope_key, principal, role, reason, at, \
                     lifted_principal, lifted_role, lifted_reason, lifted_at, \
                     placed_revision, lifted_revision \
                     FROM holds WHERE id = $1",
                    &[Arg::Int(id.0)],
                    &HOLD_COLS,
                )
                .await?
                .ok_or(Error::UnknownHold(id))?;
            hold_from_row(&row)
        }
        .await)
    }

    /// Every hold, active or lifted, that covers a version (by version, dataset or
    /// source scope), oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`].
    pub async fn holds_covering(&self, cid: &Cid) -> Result<Vec<Hold>, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            let (dataset, _, _, _) = require_version(&mut tx, cid).await?;
            let rows = tx
                .fetch_all(HOLDS_COVERING, &[text(cid), text(dataset)], &HOLD_COLS)
                .await?;
            rows.iter()
                .map(hold_from_row)
                .collect::<Result<Vec<_>, _>>()
        }
        .await)
    }

    /// Revokes a grant by id; returns `false` if it was already revoked (the first
    /// revocation is kept).
    ///
    /// # Errors
    ///
    /// Only database failures.
    pub async fn revoke_grant(&self, grant: &GrantId, change: &Change) -> Result<bool, Error> {
        in_tx!(self, Mode::Write, |tx| async {
            let [p, r, why, at] = change_args(change);
            let n = tx
                .execute(
                    "INSERT INTO revoked_grants (grant_id, principal, role, reason, at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (grant_id) DO NOTHING",
                    &[text(grant), p, r, why, at],
                )
                .await?;
            Ok::<_, Error>(n == 1)
        }
        .await)
    }

    /// The revocation of a grant, if it was revoked.
    ///
    /// # Errors
    ///
    /// Only database failures.
    pub async fn grant_revocation(
        &self,
        grant: &GrantId,
    ) -> Result<Option<GrantRevocation>, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            revocation_in(&mut tx, grant).await
        }
        .await)
    }

    /// Records that consent was withdrawn for a source, and returns every registered
    /// version derived from it, directly or through parent versions, sorted by CID. From
    /// now on [`Registry::status`] reports those versions, and any registered later
    /// from the same lineage, as `consent_withdrawn`.
    ///
    /// # Errors
    ///
    /// Only database failures.
    pub async fn withdraw_consent(
        &self,
        source: &SourceId,
        change: &Change,
    ) -> Result<Vec<Cid>, Error> {
        in_tx!(self, Mode::Write, |tx| async {
            let [p, r, why, at] = change_args(change);
            tx.execute(
                "INSERT INTO withdrawn_sources (source, principal, role, reason, at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source) DO NOTHING",
                &[text(source), p, r, why, at],
            )
            .await?;
            derived(&mut tx, source).await
        }
        .await)
    }

    /// Who withdrew consent for a source, in which role, why and when; `None` if
    /// consent was never withdrawn.
    ///
    /// # Errors
    ///
    /// Only database failures.
    pub async fn consent_withdrawal(&self, source: &SourceId) -> Result<Option<Change>, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            let row = tx
                .fetch_optional(
                    "SELECT principal, role, reason, at FROM withdrawn_sources \
                     WHERE source = $1",
                    &[text(source)],
                    &[Col::Text, Col::Text, Col::Text, Col::Int],
                )
                .await?;
            row.map(|row| change_at(&row, 0)).transpose()
        }
        .await)
    }

    /// Every registered version derived from a source, directly or through parent
    /// versions, sorted by CID.
    ///
    /// # Errors
    ///
    /// Only database failures.
    pub async fn derived_from(&self, source: &SourceId) -> Result<Vec<Cid>, Error> {
        in_tx!(self, Mode::Read, |tx| derived(&mut tx, source).await)
    }

    /// Sets (or clears) the end of a version's retention.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`].
    pub async fn set_retention(&self, cid: &Cid, until: Option<Timestamp>) -> Result<(), Error> {
        in_tx!(self, Mode::Write, |tx| async {
            let n = tx
                .execute(
                    "UPDATE versions SET retention_until = $2 WHERE cid = $1",
                    &[text(cid), Arg::OptInt(until.map(Timestamp::unix_seconds))],
                )
                .await?;
            if n == 0 {
                return Err(Error::UnknownVersion(*cid));
            }
            Ok(())
        }
        .await)
    }

    /// Versions whose retention ended at or before `now`, that no legal hold covers,
    /// and that are not yet expired, archived or erased: what a retention sweep acts
    /// on. Sorted by CID.
    ///
    /// # Errors
    ///
    /// Only database failures.
    pub async fn past_retention(&self, now: Timestamp) -> Result<Vec<Cid>, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            let rows = tx
                .fetch_all(
                    "SELECT cid, dataset_id FROM versions \
                     WHERE retention_until IS NOT NULL AND retention_until <= $1 \
                     AND state NOT IN ('expired', 'archived', 'erased') ORDER BY cid",
                    &[Arg::Int(now.unix_seconds())],
                    &[Col::Text, Col::Text],
                )
                .await?;
            let mut out = Vec::new();
            for row in rows {
                let c = cid(&row.text(0)?)?;
                if count_holds(&mut tx, &c, &row.text(1)?).await? == 0 {
                    out.push(c);
                }
            }
            out.sort();
            Ok::<_, Error>(out)
        }
        .await)
    }

    /// Stores the audit log's latest signed checkpoint (opaque bytes) with its sequence
    /// number. Storing the same checkpoint again is a no-op.
    ///
    /// # Errors
    ///
    /// [`Error::CheckpointRollback`] for a sequence number below the stored one;
    /// [`Error::CheckpointMismatch`] for different bytes under the stored number;
    /// [`Error::InvalidInput`] for a sequence number above 2^63 − 1.
    pub async fn store_checkpoint(
        &self,
        sequence: u64,
        bytes: &[u8],
        at: Timestamp,
    ) -> Result<(), Error> {
        let seq = int_of(sequence, "checkpoint sequence number")?;
        in_tx!(self, Mode::Write, |tx| async {
            let stored = tx
                .fetch_optional(
                    "SELECT sequence, bytes FROM audit_checkpoint WHERE slot = 1",
                    &[],
                    &[Col::Int, Col::Bytes],
                )
                .await?;
            match stored {
                None => {
                    tx.execute(
                        "INSERT INTO audit_checkpoint (slot, sequence, bytes, stored_at) \
                         VALUES (1, $1, $2, $3)",
                        &[
                            Arg::Int(seq),
                            Arg::Bytes(bytes.to_vec()),
                            Arg::Int(at.unix_seconds()),
                        ],
                    )
                    .await?;
                }
                Some(row) => {
                    let old = row.int(0)?;
                    if seq < old {
                        return Err(Error::CheckpointRollback {
                            stored: uint(old)?,
                            offered: sequence,
                        });
                    }
                    if seq == old {
                        if row.bytes(1)? == bytes {
                            return Ok(());
                        }
                        return Err(Error::CheckpointMismatch(sequence));
                    }
                    tx.execute(
                        "UPDATE audit_checkpoint SET sequence = $1, bytes = $2, stored_at = $3 \
                         WHERE slot = 1",
                        &[
                            Arg::Int(seq),
                            Arg::Bytes(bytes.to_vec()),
                            Arg::Int(at.unix_seconds()),
                        ],
                    )
                    .await?;
                }
            }
            Ok(())
        }
        .await)
    }

    /// The stored checkpoint, if any.
    ///
    /// # Errors
    ///
    /// Only database failures.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            let row = tx
                .fetch_optional(
                    "SELECT sequence, bytes, stored_at FROM audit_checkpoint WHERE slot = 1",
                    &[],
                    &[Col::Int, Col::Bytes, Col::Int],
                )
                .await?;
            row.map(|row| {
                Ok(StoredCheckpoint {
                    sequence: uint(row.int(0)?)?,
                    bytes: row.bytes(1)?,
                    stored_at: time(row.int(2)?)?,
                })
            })
            .transpose()
        }
        .await)
    }

    /// Keeps an approval envelope (opaque bytes, verified elsewhere) for a version.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`].
    pub async fn record_approval_envelope(
        &self,
        cid: &Cid,
        envelope: &[u8],
        at: Timestamp,
    ) -> Result<(), Error> {
        in_tx!(self, Mode::Write, |tx| async {
            require_version(&mut tx, cid).await?;
            tx.execute(
                "INSERT INTO approval_envelopes (cid, envelope, recorded_at) VALUES ($1, $2, $3)",
                &[
                    text(cid),
                    Arg::Bytes(envelope.to_vec()),
                    Arg::Int(at.unix_seconds()),
                ],
            )
            .await?;
            Ok(())
        }
        .await)
    }

    /// The approval envelopes kept for a version, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`].
    pub async fn approval_envelopes(&self, cid: &Cid) -> Result<Vec<Vec<u8>>, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            require_version(&mut tx, cid).await?;
            envelopes_in(&mut tx, cid).await
        }
        .await)
    }

    /// Records a read a fetch made (who, for which job, with its signed receipt).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`]; [`Error::InvalidInput`] for a job name over 256 bytes.
    pub async fn record_read(&self, read: &ReadRecord) -> Result<(), Error> {
        if read
            .job
            .as_ref()
            .is_some_and(|j| j.len() > 256 || j.is_empty())
        {
            return Err(Error::InvalidInput {
                what: "job",
                value: read.job.clone().unwrap_or_default(),
                rule: "1-256 bytes",
            });
        }
        in_tx!(self, Mode::Write, |tx| async {
            require_version(&mut tx, &read.cid).await?;
            tx.execute(
                "INSERT INTO reads (cid, principal, job, receipt, at) VALUES ($1, $2, $3, $4, $5)",
                &[
                    text(read.cid),
                    Arg::Text(principal_text(&read.principal)),
                    Arg::OptText(read.job.clone()),
                    Arg::OptBytes(read.receipt.clone()),
                    Arg::Int(read.at.unix_seconds()),
                ],
            )
            .await?;
            Ok(())
        }
        .await)
    }

    /// The reads recorded of a version, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`].
    pub async fn reads_of(&self, cid: &Cid) -> Result<Vec<ReadRecord>, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            require_version(&mut tx, cid).await?;
            let rows = tx
                .fetch_all(
                    "SELECT cid, principal, job, receipt, at FROM reads WHERE cid = $1 ORDER BY id",
                    &[text(cid)],
                    &READ_COLS,
                )
                .await?;
            rows.iter()
                .map(read_from_row)
                .collect::<Result<Vec<_>, _>>()
        }
        .await)
    }

    /// The reads recorded of every version derived from `source` (directly or through
    /// parents): the jobs that already used data whose consent is withdrawn, with their
    /// receipts. Oldest first.
    ///
    /// # Errors
    ///
    /// Only database failures.
    pub async fn reads_derived_from(&self, source: &SourceId) -> Result<Vec<ReadRecord>, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            let rows = tx
                .fetch_all(
                    "WITH RECURSIVE derived(cid) AS ( \
                        SELECT cid FROM version_sources WHERE source = $1 \
                        UNION \
                        SELECT p.cid FROM version_parents p JOIN derived d ON p.parent = d.cid) \
                     SELECT r.cid, r.principal, r.job, r.receipt, r.at \
                     FROM reads r JOIN derived d ON r.cid = d.cid ORDER BY r.id",
                    &[text(source)],
                    &READ_COLS,
                )
                .await?;
            rows.iter()
                .map(read_from_row)
                .collect::<Result<Vec<_>, _>>()
        }
        .await)
    }

    /// Keeps the signed erasure receipt of an erased version (opaque bytes, signed and
    /// verified elsewhere), replacing one kept earlier: an erasure that was interrupted
    /// and carried out again keeps the last, complete receipt.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`]; [`Error::StateMismatch`] if the version is not erased.
    pub async fn record_erasure_receipt(
        &self,
        cid: &Cid,
        receipt: &[u8],
        at: Timestamp,
    ) -> Result<(), Error> {
        in_tx!(self, Mode::Write, |tx| async {
            let (_, found, _, _) = require_version(&mut tx, cid).await?;
            if found != LifecycleState::Erased {
                return Err(Error::StateMismatch {
                    cid: *cid,
                    expected: LifecycleState::Erased,
                    found,
                });
            }
            tx.execute("DELETE FROM erasure_receipts WHERE cid = $1", &[text(cid)])
                .await?;
            tx.execute(
                "INSERT INTO erasure_receipts (cid, receipt, at) VALUES ($1, $2, $3)",
                &[
                    text(cid),
                    Arg::Bytes(receipt.to_vec()),
                    Arg::Int(at.unix_seconds()),
                ],
            )
            .await?;
            Ok(())
        }
        .await)
    }

    /// The erasure receipt kept for a version, if it was erased and one was recorded.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`].
    pub async fn erasure_receipt(&self, cid: &Cid) -> Result<Option<Vec<u8>>, Error> {
        in_tx!(self, Mode::Read, |tx| async {
            require_version(&mut tx, cid).await?;
            let row = tx
                .fetch_optional(
                    "SELECT receipt FROM erasure_receipts WHERE cid = $1",
                    &[text(cid)],
                    &[Col::Bytes],
                )
                .await?;
            row.map(|r| r.bytes(0)).transpose()
        }
        .await)
    }
}

async fn derived(tx: &mut Txn, source: &SourceId) -> Result<Vec<Cid>, Error> {
    let rows = tx.fetch_all(DERIVED, &[text(source)], &[Col::Text]).await?;
    let mut out = rows
        .iter()
        .map(|r| cid(&r.text(0)?))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    Ok(out)
}
