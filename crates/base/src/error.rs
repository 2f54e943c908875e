/// Everything that can go wrong in `dataseal-base`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An object id was empty, too long, or held a control character.
    #[error("invalid object id: {0}")]
    InvalidObjectId(&'static str),
    /// A CID did not parse, or used a feature this crate does not accept.
    #[error("invalid CID: {0}")]
    InvalidCid(String),
    /// Key material had the wrong length or encoding.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random,
}
