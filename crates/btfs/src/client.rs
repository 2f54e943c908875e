use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use dataseal_base::{Cid, codec};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, Url};

use crate::wire::{self, ChannelBody};
use crate::{Capabilities, Error, MissingBlocks, NodeVersion};

/// The `User-Agent` every request carries. A node never sees a client pretending to be
/// one of its own versions: BTFS answers HTTP 400 to a `/go-btfs/…` agent that is not
/// its own version.
pub const USER_AGENT: &str = concat!("dataseal-btfs/", env!("CARGO_PKG_VERSION"));

/// The largest JSON answer read (a pin list of a busy node fits).
const MAX_JSON_ANSWER: usize = 64 << 20;
/// The largest error answer read.
const MAX_ERROR_ANSWER: usize = 64 << 10;

/// Whether a call looks up blocks the node may not hold, and so how it is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Not a lookup (`add`, `block/put`, `pin/ls`, …).
    None,
    /// A lookup of one block.
    Block,
    /// A lookup of a whole DAG.
    Dag,
}

/// Settings for a [`Client`]: its node's [`Capabilities`] and the time limits, which are
/// the caller's to choose.
///
/// ```
/// use dataseal_btfs::{Capabilities, Client};
/// use std::time::Duration;
///
/// let client = Client::builder("http://127.0.0.1:5001")
///     .capabilities(Capabilities::btfs())
///     .timeout(Duration::from_secs(600))
///     .connect_timeout(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(client.capabilities().api_prefix, "/api/v1");
/// # Ok::<(), dataseal_btfs::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    url: String,
    caps: Capabilities,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
}

impl ClientBuilder {
    /// The node's capabilities (default: [`Capabilities::kubo`]).
    pub fn capabilities(mut self, caps: Capabilities) -> Self {
        self.caps = caps;
        self
    }

    /// A limit on each whole request, answer included (default: none). A CAR export or
    /// a large `add` is one request: set this to what the largest transfer may take,
    /// and bound single operations by dropping their futures (e.g. with
    /// `tokio::time::timeout`) instead.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// A limit on establishing each connection (default: 10 s).
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = Some(limit);
        self
    }

    /// Builds the client. No request is sent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] if the address is not an `http` or `https` URL with a
    /// host, or the TLS setup fails.
    pub fn build(self) -> Result<Client, Error> {
        let invalid = |detail: String| Error::InvalidUrl {
            url: self.url.clone(),
            detail,
        };
        let mut url = Url::parse(&self.url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid("expected http://HOST[:PORT] or https://…".into()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a node address has no query or fragment".into()));
        }
        // Accept the address with or without the API prefix.
        let path = url.path().trim_end_matches('/').to_owned();
        let path = path
            .strip_suffix(self.caps.api_prefix.trim_end_matches('/'))
            .unwrap_or(&path)
            .to_owned();
        url.set_path(&path);
        let base = url.as_str().trim_end_matches('/').to_owned();

        let tls = tls_config().map_err(invalid)?;
        let mut http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .no_proxy()
            .tls_backend_preconfigured(tls)
            .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)));
        if let Some(limit) = self.timeout {
            http = http.timeout(limit);
        }
        let http = http.build().map_err(|e| invalid(chain(&e)))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                caps: self.caps,
            }),
        })
    }
}

/// rustls with the `ring` provider and the platform's certificate verifier.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_platform_verifier()
        .map(|builder| builder.with_no_client_auth())
        .map_err(|e| e.to_string())
}

/// An error and its causes, as one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// An HTTP RPC client for one BTFS, Kubo or js-ipfs node.
///
/// Implements [`Transport`](dataseal_transport::Transport); see the crate documentation
/// for what each method sends and checks. Cloning is cheap and clones share
/// connections. Every future it returns can be dropped to cancel the request.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The address without the API prefix and without a trailing `/`.
    base: String,
    caps: Capabilities,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.base)
            .field("api_prefix", &self.inner.caps.api_prefix)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the node at `url` (`http://HOST:PORT`, with or without the API
    /// prefix) with default time limits.
    ///
    /// # Errors
    ///
    /// As [`ClientBuilder::build`].
    pub fn new(url: &str, caps: Capabilities) -> Result<Self, Error> {
        Self::builder(url).capabilities(caps).build()
    }

    /// A builder for a client of the node at `url`.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder {
            url: url.to_owned(),
            caps: Capabilities::kubo(),
            timeout: None,
            connect_timeout: None,
        }
    }

    /// The same client (sharing connections) with other capabilities.
    #[must_use]
    pub fn with_capabilities(&self, caps: Capabilities) -> Self {
        Self {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                base: self.inner.base.clone(),
                caps,
            }),
        }
    }

    /// The node's capabilities.
    #[must_use]
    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.caps
    }

    /// The node's address, without the API prefix.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.inner.base
    }

    pub(crate) fn endpoint(&self, command: &str) -> String {
        format!(
            "{}{}/{command}",
            self.inner.base,
            self.inner.caps.api_prefix.trim_end_matches('/')
        )
    }

    /// The node's peer id (`id`): the cheapest question, to see that it answers.
    ///
    /// # Errors
    ///
    /// [`Error::Unreachable`], [`Error::Timeout`], [`Error::Http`], [`Error::Malformed`].
    pub async fn id(&self) -> Result<String, Error> {
        let (endpoint, body) = self.json("id", &[], Lookup::None).await?;
        wire::peer_id(&endpoint, &body)
    }

    /// What the node says it is (`version`).
    ///
    /// # Errors
    ///
    /// As [`Client::id`].
    pub async fn version(&self) -> Result<NodeVersion, Error> {
        let (endpoint, body) = self.json("version", &[], Lookup::None).await?;
        wire::version(&endpoint, &body)
    }

    /// Sends one POST request; returns the answer if its status is a success.
    pub(crate) async fn post(
        &self,
        command: &str,
        query: &[(&str, String)],
        form: Option<Form>,
        lookup: Lookup,
    ) -> Result<(String, Response), Error> {
        let endpoint = self.endpoint(command);
        let mut url = Url::parse(&endpoint).map_err(|e| Error::InvalidUrl {
            url: endpoint.clone(),
            detail: e.to_string(),
        })?;
        {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
            match (lookup, self.inner.caps.missing_blocks) {
                (Lookup::None, _) => {}
                (_, MissingBlocks::Offline) => {
                    pairs.append_pair("offline", "true");
                }
                (Lookup::Block, MissingBlocks::WaitUpTo { block, .. }) => {
                    pairs.append_pair("timeout", &format!("{}ms", block.as_millis().max(1)));
                }
                (Lookup::Dag, MissingBlocks::WaitUpTo { dag, .. }) => {
                    pairs.append_pair("timeout", &format!("{}ms", dag.as_millis().max(1)));
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let mut request = self.inner.http.post(url);
        if let Some(form) = form {
            request = request.multipart(form);
        }
        let response = request
            .send()
            .await
            .map_err(|e| request_error(&endpoint, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok((endpoint, response));
        }
        let body = read_limited(&endpoint, response, MAX_ERROR_ANSWER)
            .await
            .unwrap_or_default();
        Err(Error::Http {
            endpoint,
            status: status.as_u16(),
            message: wire::error_message(&body),
        })
    }

    /// Sends a request and reads its (JSON) answer whole.
    pub(crate) async fn json(
        &self,
        command: &str,
        query: &[(&str, String)],
        lookup: Lookup,
    ) -> Result<(String, Bytes), Error> {
        let (endpoint, response) = self.post(command, query, None, lookup).await?;
        let body = read_limited(&endpoint, response, MAX_JSON_ANSWER)
            .await
            .map_err(|e| match e {
                Error::BlockTooLarge { limit, .. } => Error::malformed(
                    &endpoint,
                    format!("the answer is longer than {limit} bytes"),
                ),
                other => other,
            })?;
        Ok((endpoint, body))
    }

    /// Turns a node's "I do not have it" into [`Error::NotFound`].
    pub(crate) fn missing(&self, err: Error, cid: &Cid, lookup: Lookup) -> Error {
        let timed = lookup != Lookup::None
            && matches!(
                self.inner.caps.missing_blocks,
                MissingBlocks::WaitUpTo { .. }
            );
        match err {
            Error::Http { ref message, .. } if wire::says_missing(message, timed) => {
                Error::NotFound(*cid)
            }
            other => other,
        }
    }

    /// The query parameters that make `block/put` store `cid`'s codec and version.
    pub(crate) fn block_put_params(&self, cid: &Cid) -> Result<Vec<(&'static str, String)>, Error> {
        use crate::BlockPutStyle as S;
        let v0 = cid.version() == 0;
        let codec = cid.codec();
        let name = match codec {
            codec::RAW => "raw",
            codec::DAG_PB => "dag-pb",
            0x71 => "dag-cbor",
            codec::DAG_JSON => "dag-json",
            other => {
                return Err(Error::Unsupported(format!(
                    "storing a block of codec 0x{other:x}"
                )));
            }
        };
        let mut params = vec![("mhtype", "sha2-256".to_owned())];
        match self.inner.caps.block_put {
            S::CidCodec if v0 => params.push(("format", "v0".to_owned())),
            S::CidCodec => params.push(("cid-codec", name.to_owned())),
            S::Format => {
                let format = match (v0, name) {
                    (true, _) => "v0",
                    (false, "dag-pb") => "protobuf",
                    (false, "dag-cbor") => "cbor",
                    (false, "raw") => "raw",
                    (false, other) => {
                        return Err(Error::Unsupported(format!(
                            "storing a {other} block: the legacy block/put format has no name for it"
                        )));
                    }
                };
                params.push(("format", format.to_owned()));
            }
            S::FormatAndVersion => {
                params.push(("format", name.to_owned()));
                params.push(("version", if v0 { "0" } else { "1" }.to_owned()));
            }
        }
        Ok(params)
    }

    /// One file part of a multipart request, its bytes streamed from `body`.
    pub(crate) fn file_form(body: ChannelBody) -> Form {
        file_part(Part::stream(reqwest::Body::wrap(body)))
    }

    /// One file part holding `data`.
    pub(crate) fn bytes_form(data: Bytes) -> Form {
        let len = data.len() as u64;
        file_part(Part::stream_with_length(reqwest::Body::from(data), len))
    }
}

/// A form with one file part (js-ipfs refuses a part without a content type).
fn file_part(part: Part) -> Form {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("application/octet-stream"),
    );
    Form::new().part("file", part.file_name("blob").headers(headers))
}

/// What a failed `send` means.
pub(crate) fn request_error(endpoint: &str, err: &reqwest::Error) -> Error {
    if err.is_timeout() {
        Error::Timeout {
            endpoint: endpoint.to_owned(),
        }
    } else {
        Error::Unreachable {
            endpoint: endpoint.to_owned(),
            detail: chain(err),
        }
    }
}

/// Reads an answer whole, refusing one longer than `limit` ([`Error::BlockTooLarge`]) as
/// soon as it says so or gets there.
pub(crate) async fn read_limited(
    endpoint: &str,
    mut response: Response,
    limit: usize,
) -> Result<Bytes, Error> {
    let too_large = |len: u64| Error::BlockTooLarge {
        len,
        limit: limit as u64,
    };
    if let Some(len) = response.content_length()
        && len > limit as u64
    {
        return Err(too_large(len));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| request_error(endpoint, &e))?
    {
        let len = body.len().saturating_add(chunk.len());
        if len > limit {
            return Err(too_large(len as u64));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// An I/O error for a request body that must stop.
pub(crate) fn abort(reason: &str) -> io::Error {
    io::Error::other(reason.to_owned())
}
