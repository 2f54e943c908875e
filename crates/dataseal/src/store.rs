//! Stores named by text (`dir:PATH`, `kubo:URL`, `btfs:URL`) and the providers behind
//! them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use dataseal_base::{ProviderId, Region};
use dataseal_btfs::{Capabilities, Client};
use dataseal_transport::{DirStore, Transport};

use crate::Error;

/// The file that marks a directory as a dataseal block store.
const DIR_MARKER: &str = "dataseal-blockstore";

/// Where blocks live: an on-disk block store, or a node's RPC API.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreSpec {
    /// `dir:PATH`: the embedded on-disk block store (no server).
    Dir(PathBuf),
    /// `kubo:URL`: a node speaking the Kubo RPC API under `/api/v0` (Kubo, go-ipfs,
    /// js-ipfs); what it is is asked of it before the first request.
    Kubo(String),
    /// `btfs:URL`: a BTFS node (`/api/v1`).
    Btfs(String),
}

impl FromStr for StoreSpec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Invalid(format!(
                "invalid store {spec:?}: expected dir:PATH, kubo:URL or btfs:URL"
            ))
        };
        let (scheme, rest) = spec.split_once(':').ok_or_else(bad)?;
        if rest.is_empty() {
            return Err(bad());
        }
        match scheme {
            "dir" => Ok(Self::Dir(PathBuf::from(rest))),
            "kubo" => Ok(Self::Kubo(rest.to_owned())),
            "btfs" => Ok(Self::Btfs(rest.to_owned())),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dir(p) => write!(f, "dir:{}", p.display()),
            Self::Kubo(u) => write!(f, "kubo:{u}"),
            Self::Btfs(u) => write!(f, "btfs:{u}"),
        }
    }
}

/// An open store.
#[derive(Debug)]
pub struct Store {
    spec: StoreSpec,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Dir(DirStore),
    Node { client: Client, detect: bool },
}

impl Store {
    /// Opens the store a spec names. No request is sent to a node yet. A `dir:` store is
    /// created when `create` is set; otherwise it must already exist.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a `dir:` path that holds no block store (without
    /// `create`), or a node address that is not an `http(s)` URL; [`Error::Transport`]
    /// when the directory cannot be opened.
    pub fn open(spec: &StoreSpec, create: bool) -> Result<Self, Error> {
        let kind = match spec {
            StoreSpec::Dir(path) => {
                if !create && !path.join(DIR_MARKER).is_file() {
                    return Err(Error::Invalid(format!(
                        "store {spec}: no dataseal block store in {}",
                        path.display()
                    )));
                }
                Kind::Dir(
                    DirStore::open(path)
                        .map_err(|e| Error::transport(format!("store {spec}"), e))?,
                )
            }
            StoreSpec::Kubo(url) | StoreSpec::Btfs(url) => {
                let btfs = matches!(spec, StoreSpec::Btfs(_));
                let caps = if btfs {
                    Capabilities::btfs()
                } else {
                    Capabilities::kubo()
                };
                let client = Client::new(url, caps)
                    .map_err(|e| Error::Invalid(format!("store {spec}: {e}")))?;
                Kind::Node {
                    client,
                    detect: !btfs,
                }
            }
        };
        Ok(Self {
            spec: spec.clone(),
            kind,
        })
    }

    /// The spec it was opened from.
    #[must_use]
    pub fn spec(&self) -> &StoreSpec {
        &self.spec
    }

    /// The store as a [`Transport`].
    #[must_use]
    pub fn transport(&self) -> &dyn Transport {
        match &self.kind {
            Kind::Dir(dir) => dir,
            Kind::Node { client, .. } => client,
        }
    }

    /// The node client, for a node store.
    #[must_use]
    pub fn node(&self) -> Option<&Client> {
        match &self.kind {
            Kind::Node { client, .. } => Some(client),
            Kind::Dir(_) => None,
        }
    }

    /// The directory, for a `dir:` store.
    #[must_use]
    pub fn dir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Dir(d) => Some(d.root()),
            Kind::Node { .. } => None,
        }
    }

    /// For a `kubo:` node: asks it what it is (`version`) and adopts the matching
    /// capabilities (Kubo, an older go-ipfs or js-ipfs). A node that does not answer
    /// keeps its defaults; reads then count it as unavailable.
    pub async fn detect(&mut self) {
        if let Kind::Node { client, detect } = &mut self.kind
            && *detect
            && let Ok(version) = client.version().await
        {
            *client = client.with_capabilities(Capabilities::kubo_compatible(&version));
            *detect = false;
        }
    }
}

/// A storage provider: a named store, with where it is.
///
/// Written `[NAME[@REGION]=]SPEC`: `eu-1@DE=kubo:http://127.0.0.1:5001`, `dir:store`.
/// Without a name, the spec itself names the provider; without a region, its region is
/// unknown (and placements that restrict regions cannot use it).
#[derive(Debug)]
pub struct Provider {
    id: ProviderId,
    region: Option<Region>,
    store: Store,
}

impl Provider {
    /// Parses `[NAME[@REGION]=]SPEC` and opens the store (see [`Store::open`]).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a bad name, region or spec; the errors of [`Store::open`].
    pub fn open(text: &str, create: bool) -> Result<Self, Error> {
        // A spec starts with its scheme: an `=` before the first `:` separates a name.
        let (label, spec) = match (text.find('='), text.find(':')) {
            (Some(eq), Some(colon)) if eq < colon => (
                Some(text.get(..eq).unwrap_or_default()),
                text.get(eq + 1..).unwrap_or_default(),
            ),
            _ => (None, text),
        };
        let spec: StoreSpec = spec.parse()?;
        let (id, region) = match label {
            None => (spec.to_string(), None),
            Some(label) => match label.split_once('@') {
                Some((name, region)) => (name.to_owned(), Some(region)),
                None => (label.to_owned(), None),
            },
        };
        let id: ProviderId = id.parse().map_err(|e| {
            Error::Invalid(format!(
                "store {text:?}: provider name: {e} (name it NAME=SPEC)"
            ))
        })?;
        let region = region
            .map(|r| {
                r.parse::<Region>()
                    .map_err(|e| Error::Invalid(format!("store {text:?}: region: {e}")))
            })
            .transpose()?;
        Ok(Self {
            id,
            region,
            store: Store::open(&spec, create)?,
        })
    }

    /// A provider over an open store.
    #[must_use]
    pub fn new(id: ProviderId, region: Option<Region>, store: Store) -> Self {
        Self { id, region, store }
    }

    /// Its id.
    #[must_use]
    pub fn id(&self) -> &ProviderId {
        &self.id
    }

    /// Its region, if known.
    #[must_use]
    pub fn region(&self) -> Option<&Region> {
        self.region.as_ref()
    }

    /// Its store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Its store, mutably (to [`Store::detect`] it).
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

/// Checks that provider ids are distinct.
pub(crate) fn check_distinct(providers: &[Provider]) -> Result<(), Error> {
    for (i, p) in providers.iter().enumerate() {
        if providers.iter().skip(i + 1).any(|q| q.id == p.id) {
            return Err(Error::Invalid(format!("provider {} is listed twice", p.id)));
        }
    }
    Ok(())
}

/// What is known of a provider for placement: its entry in `candidates`, or else an
/// active provider of score 1 and no tier; the region its [`Provider`] gives when the
/// entry has none.
pub(crate) fn candidate_for(
    candidates: &[dataseal_reputation::Candidate],
    p: &Provider,
) -> dataseal_reputation::Candidate {
    let mut c = candidates
        .iter()
        .find(|c| c.provider == *p.id())
        .cloned()
        .unwrap_or_else(|| dataseal_reputation::Candidate {
            provider: p.id().clone(),
            score: 1.0,
            status: dataseal_reputation::Status::Active,
            tier: None,
            region: None,
            network_group: None,
        });
    if c.region.is_none() {
        c.region = p.region().cloned();
    }
    c
}

/// Checks that provider ids are distinct, starts the runtime a synchronous call drives
/// its I/O on, and asks every node store what it is ([`Store::detect`]).
pub(crate) fn connect(providers: &mut [Provider]) -> Result<tokio::runtime::Runtime, Error> {
    check_distinct(providers)?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        for p in providers.iter_mut() {
            p.store_mut().detect().await;
        }
    });
    Ok(rt)
}
