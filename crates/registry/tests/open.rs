//! `Registry::open_with`: a missing SQLite file is refused when not created, and an
//! unreachable PostgreSQL server is reported within the connection timeout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic with context"
)]

use std::time::{Duration, Instant};

use dataseal_registry::{Error, OpenOptions, Registry};

#[tokio::test]
async fn a_missing_sqlite_file_is_not_created_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let url = format!("sqlite:{}", path.display());
    let e = Registry::open_with(&url, &OpenOptions::new().create(false))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Missing(_)), "{e}");
    assert!(!path.exists());
    Registry::open_with(&url, &OpenOptions::new())
        .await
        .unwrap()
        .close()
        .await;
    assert!(path.exists());
    // Once it exists, opening without creating works.
    Registry::open_with(&url, &OpenOptions::new().create(false))
        .await
        .unwrap()
        .close()
        .await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_database_error_within_the_timeout() {
    let started = Instant::now();
    let e = Registry::open_with(
        "postgres://nobody@127.0.0.1:1/x?sslmode=disable",
        &OpenOptions::new().connect_timeout(Duration::from_secs(1)),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Database(_)), "{e}");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
