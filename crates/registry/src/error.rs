use dataseal_base::Cid;

use crate::{HoldId, LifecycleState};

/// Everything that can go wrong in `dataseal-registry`.
///
/// Every refusal ([`Error::UnknownVersion`], [`Error::IllegalTransition`],
/// [`Error::Held`], …) leaves the registry unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry URL is neither `sqlite:PATH` nor `postgres://…`.
    #[error("invalid registry URL {url:?}: {why}")]
    InvalidUrl {
        /// The URL as given (a password in it is not repeated).
        url: String,
        /// What is wrong.
        why: String,
    },
    /// A value broke its rule.
    #[error("invalid {what} {value:?}: expected {rule}")]
    InvalidInput {
        /// What kind of value.
        what: &'static str,
        /// The rejected text.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// No SQLite registry file at this path, and [`crate::OpenOptions::create`] was
    /// `false`.
    #[error("no registry database at {0}")]
    Missing(String),
    /// The registry does not know the version.
    #[error("unknown version {0}")]
    UnknownVersion(Cid),
    /// The version is already registered.
    #[error("version {0} is already registered")]
    AlreadyRegistered(Cid),
    /// The transition is not in the table.
    #[error("version {cid}: {from} -> {to} is not an allowed transition")]
    IllegalTransition {
        /// The version.
        cid: Cid,
        /// Its state.
        from: LifecycleState,
        /// The state asked for.
        to: LifecycleState,
    },
    /// The version was not in the state the caller expected (another writer moved it).
    #[error("version {cid} is {found}, not {expected}")]
    StateMismatch {
        /// The version.
        cid: Cid,
        /// The state the caller expected.
        expected: LifecycleState,
        /// The state it is in.
        found: LifecycleState,
    },
    /// A version is approved only through [`crate::Registry::approve_verified`], after
    /// its approvals were verified: a plain transition to `approved` is refused.
    #[error(
        "version {cid}: approved only with its approvals verified (a data owner's and a compliance reviewer's), not by a plain transition"
    )]
    ApprovalRequired {
        /// The version.
        cid: Cid,
    },
    /// Legal holds refuse the transition.
    #[error("version {cid} is under {holds} legal hold(s): {to} refused")]
    Held {
        /// The version.
        cid: Cid,
        /// The state refused.
        to: LifecycleState,
        /// Active holds covering it.
        holds: u64,
    },
    /// No hold has this id.
    #[error("unknown legal hold {0}")]
    UnknownHold(HoldId),
    /// The hold was already lifted.
    #[error("legal hold {0} was already lifted")]
    HoldNotActive(HoldId),
    /// Only the role that placed a hold may lift it.
    #[error("legal hold {hold} was placed in role {placed}; role {offered} cannot lift it")]
    WrongRole {
        /// The hold.
        hold: HoldId,
        /// The role that placed it.
        placed: dataseal_base::Role,
        /// The role that tried to lift it.
        offered: dataseal_base::Role,
    },
    /// A checkpoint older than the stored one was offered.
    #[error("checkpoint {offered} is older than the stored checkpoint {stored}")]
    CheckpointRollback {
        /// The stored sequence number.
        stored: u64,
        /// The sequence number offered.
        offered: u64,
    },
    /// A different checkpoint with the stored sequence number was offered.
    #[error("a different checkpoint with sequence number {0} is already stored")]
    CheckpointMismatch(u64),
    /// A stored value does not parse: the database was changed behind the registry.
    #[error("corrupt registry: {0}")]
    Corrupt(String),
    /// The schema could not be brought up to date (or is newer than this library).
    #[error("registry schema migration failed: {0}")]
    Migrate(String),
    /// The database stayed busy, or the transaction kept failing to serialise, after
    /// several attempts; nothing was changed.
    #[error("registry busy: {0}")]
    Busy(String),
    /// The database failed (connection, I/O, constraint).
    #[error("registry database error: {0}")]
    Database(String),
}

impl Error {
    pub(crate) fn is_busy(&self) -> bool {
        matches!(self, Self::Busy(_))
    }
}

/// Maps a driver error: lock contention and serialisation failures become
/// [`Error::Busy`], which the registry retries.
pub(crate) fn db(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            // PostgreSQL: serialization_failure, deadlock_detected.
            let is_sqlite = d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            let pg_retry = !is_sqlite && (code == "40001" || code == "40P01");
            // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            let sqlite_retry =
                is_sqlite && code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            if pg_retry || sqlite_retry {
                Error::Busy(d.message().to_owned())
            } else {
                Error::Database(d.message().to_owned())
            }
        }
        sqlx::Error::PoolTimedOut => Error::Busy("timed out waiting for a connection".to_owned()),
        _ => Error::Database(e.to_string()),
    }
}

/// `.db()?` on driver results.
pub(crate) trait DbResult<T> {
    fn db(self) -> Result<T, Error>;
}

impl<T> DbResult<T> for Result<T, sqlx::Error> {
    fn db(self) -> Result<T, Error> {
        self.map_err(db)
    }
}
