//! Test support: actors, CIDs, and a throw-away PostgreSQL cluster.
//!
//! The cluster is started from the binaries found on `PATH` or under
//! `/usr/lib/postgresql/*/bin`, on 127.0.0.1 with a free port and a temporary data
//! directory, as the unprivileged `postgres` user when the tests run as root, and stopped
//! when the guard drops. Without the binaries the PostgreSQL tests print `SKIPPED` and
//! pass, except under `CI=true`, where that is a failure.

#![allow(dead_code, reason = "each test binary uses part of the support")]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use dataseal_base::{Cid, DatasetId, Role, Timestamp};
use dataseal_policy::UserId;
use dataseal_registry::{Actor, Change, NewVersion, Reason, Registry};
use sqlx::Connection as _;

pub(crate) fn cid(name: &str) -> Cid {
    Cid::raw_sha256(name.as_bytes())
}

pub(crate) fn dataset(name: &str) -> DatasetId {
    DatasetId::new(name).unwrap()
}

pub(crate) fn actor(user: &str, role: &str) -> Actor {
    Actor::user(UserId::new(user).unwrap(), Role::new(role).unwrap())
}

pub(crate) fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000 + seconds).unwrap()
}

pub(crate) fn change(user: &str, role: &str, why: &str) -> Change {
    Change::new(actor(user, role), Reason::new(why).unwrap(), at(0))
}

pub(crate) fn version(name: &str, ds: &str) -> NewVersion {
    NewVersion::new(cid(name), dataset(ds))
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Where `initdb`, `pg_ctl` and `postgres` live: next to the first `initdb` on `PATH`
/// (symlinks resolved), else the newest `/usr/lib/postgresql/*/bin`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if initdb.is_file() {
                let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
                if let Some(d) = real.parent()
                    && has_all(d)
                {
                    return Some(d.to_path_buf());
                }
            }
        }
    }
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, d)| has_all(d))
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, d)| d)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "no postgres user to run the server as"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running throw-away cluster; stopped and deleted on drop.
pub(crate) struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
    databases: AtomicU32,
}

impl PgCluster {
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).current_dir(self.dir.path());
        cmd.output().unwrap()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Starts a cluster, or returns `None` (after a skip notice) when PostgreSQL is not
    /// installed; under `CI=true` a missing installation panics.
    pub(crate) fn start() -> Option<Self> {
        let Some(bin) = postgres_bin_dir() else {
            assert!(
                !ci(),
                "CI=true and PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql/*/bin)"
            );
            eprintln!(
                "SKIPPED: PostgreSQL is not installed (no initdb); install it to run these tests"
            );
            return None;
        };
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("dsreg-pg")
            .tempdir()
            .unwrap();
        if as_postgres {
            std::os::unix::fs::chown(dir.path(), Some(id_of("-u")), Some(id_of("-g"))).unwrap();
        }
        let mut cluster = Self {
            dir,
            bin,
            as_postgres,
            port: 0,
            databases: AtomicU32::new(0),
        };
        let data = cluster.data();
        let out = cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let socket_dir = cluster.dir.path().display().to_string();
        let log = cluster.dir.path().join("server.log").display().to_string();
        for attempt in 0..5 {
            let port = free_port();
            let options = format!(
                "-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
            );
            let out = cluster.run(
                "pg_ctl",
                &["-D", &data, "-l", &log, "-w", "-o", &options, "start"],
            );
            if out.status.success() {
                cluster.port = port;
                return Some(cluster);
            }
            assert!(
                attempt < 4,
                "pg_ctl start failed: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        None
    }

    pub(crate) fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// A new, empty database; returns its URL.
    pub(crate) async fn fresh_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("registry_{n}");
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        self.url(&name)
    }

    /// A registry in a new, empty database.
    pub(crate) async fn fresh_registry(&self) -> Registry {
        Registry::open(&self.fresh_database().await).await.unwrap()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}
