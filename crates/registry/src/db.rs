//! The two backends behind one small query interface: a transaction that executes
//! statements with positional `$n` parameters (which both SQLite and PostgreSQL read)
//! and returns rows decoded by the column kinds the caller names.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Row as _, Transaction};

use crate::Error;
use crate::error::DbResult;

/// The embedded migrations of one backend, in order: `(version, description, SQL)`.
type Migrations = &'static [(i64, &'static str, &'static str)];

const SQLITE_MIGRATIONS: Migrations = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "stewardship, reads, erasure receipts",
        include_str!("../migrations/sqlite/0002_stewardship_reads_erasure.sql"),
    ),
];

const POSTGRES_MIGRATIONS: Migrations = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "stewardship, reads, erasure receipts",
        include_str!("../migrations/postgres/0002_stewardship_reads_erasure.sql"),
    ),
];

#[derive(Debug)]
struct Embedded(Migrations);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send + 's>>
    {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// How [`crate::Registry::open_with`] opens a registry; [`OpenOptions::default`] is what
/// [`crate::Registry::open`] uses.
///
/// ```
/// use std::time::Duration;
/// use dataseal_registry::OpenOptions;
/// let read_only_use = OpenOptions::new().create(false).connect_timeout(Duration::from_secs(5));
/// assert!(!read_only_use.creates());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    create: bool,
    connect_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            create: true,
            connect_timeout: Duration::from_secs(30),
        }
    }
}

impl OpenOptions {
    /// The defaults: create a missing SQLite file; try to reach a PostgreSQL server for
    /// 30 seconds.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a missing SQLite file is created (`true`, the default) or refused with
    /// [`Error::Missing`]. PostgreSQL databases are never created.
    #[must_use]
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// How long to keep trying to connect to a PostgreSQL server (a refused connection
    /// is retried until then) and to wait for a pooled connection; default 30 seconds.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether a missing SQLite file is created.
    #[must_use]
    pub fn creates(&self) -> bool {
        self.create
    }

    /// The connection timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.connect_timeout
    }
}

/// Which database a registry lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

macro_rules! bind_all {
    ($sql:expr, $args:expr) => {{
        let mut q = sqlx::query($sql);
        for a in $args {
            q = match a.clone() {
                Arg::Text(s) => q.bind(s),
                Arg::Int(n) => q.bind(n),
                Arg::OptInt(n) => q.bind(n),
                Arg::OptText(s) => q.bind(s),
                Arg::Bytes(b) => q.bind(b),
                Arg::OptBytes(b) => q.bind(b),
            };
        }
        q
    }};
}

macro_rules! decode {
    ($row:expr, $cols:expr) => {{
        let mut values = Vec::with_capacity($cols.len());
        for (i, col) in $cols.iter().enumerate() {
            let v = match col {
                Col::Text => $row
                    .try_get::<Option<String>, _>(i)
                    .db()?
                    .map_or(Value::Null, Value::Text),
                Col::Int => $row
                    .try_get::<Option<i64>, _>(i)
                    .db()?
                    .map_or(Value::Null, Value::Int),
                Col::Bytes => $row
                    .try_get::<Option<Vec<u8>>, _>(i)
                    .db()?
                    .map_or(Value::Null, Value::Bytes),
            };
            values.push(v);
        }
        Row(values)
    }};
}

/// Runs a query on an executor (a pool or a transaction) and decodes every row.
macro_rules! fetch_rows {
    ($exec:expr, $sql:expr, $args:expr, $cols:expr) => {{
        let mut out = Vec::new();
        for row in bind_all!($sql, $args).fetch_all($exec).await.db()? {
            out.push(decode!(row, $cols));
        }
        out
    }};
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Whether a transaction writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Read,
    Write,
}

/// How long SQLite waits for another writer's lock before reporting busy.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

fn bad_url(url: &str, why: impl Into<String>) -> Error {
    // Never echo a password back.
    let shown = match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://…@{host}"),
        _ => url.to_owned(),
    };
    Error::InvalidUrl {
        url: shown,
        why: why.into(),
    }
}

impl Pool {
    pub(crate) async fn open(url: &str, open: &OpenOptions) -> Result<Self, Error> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(bad_url(url, "no file path after sqlite:"));
            }
            if path.contains('?') || path == ":memory:" {
                return Err(bad_url(
                    url,
                    "expected sqlite:PATH to a file (no options, no :memory:)",
                ));
            }
            if !open.create && !std::path::Path::new(path).exists() {
                return Err(Error::Missing(path.to_owned()));
            }
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(open.create)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            // A file on this machine: a connection cannot have been dropped by a server,
            // so no round trip to test it before each use.
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .test_before_acquire(false)
                .acquire_timeout(SQLITE_BUSY_TIMEOUT)
                .connect_with(options)
                .await
                .db()?;
            let pool = Self::Sqlite(pool);
            pool.migrate().await?;
            Ok(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(url).map_err(|e| bad_url(url, e.to_string()))?;
            let host = format!("{}:{}", options.get_host(), options.get_port());
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(open.connect_timeout)
                .connect_with(options)
                .await
                .map_err(|e| match e {
                    // A refused connection is retried until the timeout: the server
                    // cannot be reached, which is not contention.
                    sqlx::Error::PoolTimedOut => Error::Database(format!(
                        "cannot reach the PostgreSQL server at {host} within {} s",
                        open.connect_timeout.as_secs_f64()
                    )),
                    e => crate::error::db(e),
                })?;
            let pool = Self::Postgres(pool);
            pool.migrate().await?;
            Ok(pool)
        } else {
            Err(bad_url(url, "expected sqlite:PATH or postgres://…"))
        }
    }

    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Self::Sqlite(_) => BackendKind::Sqlite,
            Self::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Applies the embedded migrations not yet applied. PostgreSQL serialises concurrent
    /// openers with an advisory lock; on SQLite a racing opener may see the other's
    /// half-finished run and fail, so it tries again.
    async fn migrate(&self) -> Result<(), Error> {
        let migration = |e: sqlx::migrate::MigrateError| Error::Migrate(e.to_string());
        match self {
            Self::Sqlite(pool) => {
                let migrator = Migrator::new(Embedded(SQLITE_MIGRATIONS))
                    .await
                    .map_err(migration)?;
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match migrator.run(pool).await {
                        Ok(()) => return Ok(()),
                        Err(sqlx::migrate::MigrateError::Execute(_)) if attempt < 5 => {
                            tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                        }
                        Err(e) => return Err(migration(e)),
                    }
                }
            }
            Self::Postgres(pool) => {
                let migrator = Migrator::new(Embedded(POSTGRES_MIGRATIONS))
                    .await
                    .map_err(migration)?;
                migrator.run(pool).await.map_err(migration)
            }
        }
    }

    /// Runs one query outside an explicit transaction and returns every row: one
    /// statement sees one consistent snapshot on both backends, and saves the round
    /// trips of `BEGIN` and `COMMIT` on a hot read path.
    pub(crate) async fn fetch_all(
        &self,
        sql: &'static str,
        args: &[Arg],
        cols: &[Col],
    ) -> Result<Vec<Row>, Error> {
        Ok(match self {
            Self::Sqlite(pool) => fetch_rows!(pool, sql, args, cols),
            Self::Postgres(pool) => fetch_rows!(pool, sql, args, cols),
        })
    }

    pub(crate) async fn begin(&self, mode: Mode) -> Result<Txn, Error> {
        match self {
            // IMMEDIATE takes the write lock at once, so a writer never has to upgrade a
            // read lock (which SQLite can only refuse); writers queue on busy_timeout.
            Self::Sqlite(pool) => Ok(Txn::Sqlite(
                match mode {
                    Mode::Read => pool.begin().await,
                    Mode::Write => pool.begin_with("BEGIN IMMEDIATE").await,
                }
                .db()?,
            )),
            // Serialisable: every transaction behaves as if run alone; conflicts abort
            // with 40001, which the caller retries from the start.
            Self::Postgres(pool) => Ok(Txn::Postgres(
                match mode {
                    Mode::Read => {
                        pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                            .await
                    }
                    Mode::Write => pool.begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE").await,
                }
                .db()?,
            )),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(p) => p.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}

/// A statement parameter.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    OptInt(Option<i64>),
    OptText(Option<String>),
    Bytes(Vec<u8>),
    OptBytes(Option<Vec<u8>>),
}

/// The kind of a result column.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Col {
    Text,
    Int,
    Bytes,
}

#[derive(Clone, Debug)]
enum Value {
    Null,
    Text(String),
    Int(i64),
    Bytes(Vec<u8>),
}

/// A decoded result row.
#[derive(Clone, Debug)]
pub(crate) struct Row(Vec<Value>);

fn missing(i: usize, what: &str) -> Error {
    Error::Corrupt(format!("column {i}: expected {what}"))
}

impl Row {
    pub(crate) fn text(&self, i: usize) -> Result<String, Error> {
        match self.0.get(i) {
            Some(Value::Text(s)) => Ok(s.clone()),
            _ => Err(missing(i, "text")),
        }
    }

    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, Error> {
        match self.0.get(i) {
            Some(Value::Text(s)) => Ok(Some(s.clone())),
            Some(Value::Null) => Ok(None),
            _ => Err(missing(i, "text or null")),
        }
    }

    pub(crate) fn int(&self, i: usize) -> Result<i64, Error> {
        match self.0.get(i) {
            Some(Value::Int(n)) => Ok(*n),
            _ => Err(missing(i, "an integer")),
        }
    }

    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, Error> {
        match self.0.get(i) {
            Some(Value::Int(n)) => Ok(Some(*n)),
            Some(Value::Null) => Ok(None),
            _ => Err(missing(i, "an integer or null")),
        }
    }

    pub(crate) fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, Error> {
        match self.0.get(i) {
            Some(Value::Bytes(b)) => Ok(Some(b.clone())),
            Some(Value::Null) => Ok(None),
            _ => Err(missing(i, "bytes or null")),
        }
    }

    pub(crate) fn bytes(&self, i: usize) -> Result<Vec<u8>, Error> {
        match self.0.get(i) {
            Some(Value::Bytes(b)) => Ok(b.clone()),
            _ => Err(missing(i, "bytes")),
        }
    }
}

/// An open transaction on either backend.
#[derive(Debug)]
pub(crate) enum Txn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Txn {
    /// Runs a statement; returns the rows it affected.
    pub(crate) async fn execute(&mut self, sql: &'static str, args: &[Arg]) -> Result<u64, Error> {
        Ok(match self {
            Self::Sqlite(tx) => bind_all!(sql, args)
                .execute(&mut **tx)
                .await
                .db()?
                .rows_affected(),
            Self::Postgres(tx) => bind_all!(sql, args)
                .execute(&mut **tx)
                .await
                .db()?
                .rows_affected(),
        })
    }

    /// Runs a query; returns every row.
    pub(crate) async fn fetch_all(
        &mut self,
        sql: &'static str,
        args: &[Arg],
        cols: &[Col],
    ) -> Result<Vec<Row>, Error> {
        Ok(match self {
            Self::Sqlite(tx) => fetch_rows!(&mut **tx, sql, args, cols),
            Self::Postgres(tx) => fetch_rows!(&mut **tx, sql, args, cols),
        })
    }

    /// Runs a query; returns its first row, if any.
    pub(crate) async fn fetch_optional(
        &mut self,
        sql: &'static str,
        args: &[Arg],
        cols: &[Col],
    ) -> Result<Option<Row>, Error> {
        Ok(self.fetch_all(sql, args, cols).await?.into_iter().next())
    }

    pub(crate) async fn commit(self) -> Result<(), Error> {
        match self {
            Self::Sqlite(tx) => tx.commit().await.db(),
            Self::Postgres(tx) => tx.commit().await.db(),
        }
    }
}
