//! The one error type of this crate.

/// Everything that can go wrong in `dataseal-policy`.
///
/// A denied request is not an error: [`crate::PolicyEngine::decide`] returns a
/// [`crate::Decision`] whatever happens, and every failure on the way is a deny.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Cedar schema did not parse.
    #[error("schema: {0}")]
    Schema(String),
    /// A policy or template did not parse, or broke a rule of this crate (no `@id`, a
    /// duplicate id).
    #[error("policy {origin}: {message}")]
    Policy {
        /// Where the policy text came from (a file name, `defaults`, …).
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The policies do not validate against the schema in strict mode.
    #[error("policy validation (strict): {0}")]
    Validation(String),
    /// A template link was refused.
    #[error("template link {link}: {message}")]
    Link {
        /// The id of the link.
        link: String,
        /// What is wrong.
        message: String,
    },
    /// Entity data was malformed or does not match the schema.
    #[error("entities: {0}")]
    Entities(String),
    /// A request was malformed.
    #[error("request: {0}")]
    Request(String),
    /// An identifier broke its rule.
    #[error("invalid {what} {value:?}: {rule}")]
    InvalidId {
        /// What kind of identifier.
        what: &'static str,
        /// The rejected text.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// An access grant was malformed or refused.
    #[error("grant: {0}")]
    Grant(#[from] crate::grant::GrantError),
    /// An approval was malformed or refused.
    #[error("approval: {0}")]
    Approval(#[from] crate::approval::ApprovalError),
    /// The audit log is broken; the fault says where.
    #[error("audit log: {0}")]
    Audit(#[from] crate::audit::AuditFault),
    /// Reading or writing a file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A dataseal-base value was invalid.
    #[error(transparent)]
    Base(#[from] dataseal_base::Error),
    /// A manifest did not verify.
    #[error(transparent)]
    Manifest(#[from] dataseal_manifest::Error),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// An error and its sources, on one line (Cedar's own messages keep the detail, such
/// as the attribute at fault, in the source chain).
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
