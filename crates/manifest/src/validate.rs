//! Schema rules that types alone do not capture.

use crate::Error;
use crate::schema::{MAX_SAFE_INTEGER, Manifest, SCHEMA_VERSION};

const MAX_TEXT: usize = 64 * 1024;

fn is_padded_base64(s: &str) -> bool {
    s.len().is_multiple_of(4)
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        && s.trim_end_matches('=').bytes().all(|b| b != b'=')
        && s.len() - s.trim_end_matches('=').len() <= 2
}

impl Manifest {
    /// Checks every rule of the schema that its types do not already enforce: schema
    /// version, non-empty name, objects in canonical order with each path once and no
    /// two paths colliding on a case-insensitive or Unicode-normalising file system (see
    /// [`CanonicalPath::collision_key`](crate::CanonicalPath::collision_key)), each
    /// object either public (`sha256`) or encrypted (`encryption` and `rootCid`), only
    /// `public` versions holding public objects (`internal`, `restricted` and `ephemeral`
    /// versions are always encrypted), sizes
    /// within 2^53 − 1, a consent basis whenever `pii` is set, a retention end, valid
    /// ignore patterns, and a well-formed sealed section.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field at fault; [`Error::PathCollision`] naming two
    /// colliding object paths.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.schema_version != SCHEMA_VERSION {
            return bad(format!(
                "schemaVersion: {} is not supported (expected {SCHEMA_VERSION})",
                self.schema_version
            ));
        }
        if self.name.trim().is_empty() || self.name.len() > 1024 {
            return bad("name: must be 1-1024 bytes and not blank".to_owned());
        }
        if self.description.len() > MAX_TEXT {
            return bad("description: longer than 64 KiB".to_owned());
        }
        for pair in self.objects.windows(2) {
            if let [a, b] = pair
                && a.path >= b.path
            {
                return bad(format!(
                    "objects: {:?} {} {:?}; paths must be unique and in UTF-8 byte order",
                    a.path.as_str(),
                    if a.path == b.path {
                        "is listed twice, after"
                    } else {
                        "comes after"
                    },
                    b.path.as_str()
                ));
            }
        }
        crate::path::check_collisions(self.objects.iter().map(|o| &o.path))?;
        for o in &self.objects {
            if o.size > MAX_SAFE_INTEGER {
                return bad(format!("objects[{}].size: beyond 2^53 - 1", o.path));
            }
            match (&o.sha256, &o.encryption, &o.root_cid) {
                (Some(_), None, None) if self.sensitivity.requires_encryption() => {
                    return bad(format!(
                        "objects[{}]: a {} version must be encrypted; only public versions may hold plaintext objects",
                        o.path,
                        self.sensitivity.as_str()
                    ));
                }
                (Some(_), None, None) | (None, Some(_), Some(_)) => {}
                _ => {
                    return bad(format!(
                        "objects[{}]: needs either sha256 (public) or both encryption and rootCid (encrypted)",
                        o.path
                    ));
                }
            }
        }
        if self.pii && self.consent.is_none() {
            return bad("consent: required when pii is true".to_owned());
        }
        if let Some(r) = &self.retention {
            if r.until.is_none() && r.duration_days.is_none() {
                return bad("retention: needs until or durationDays".to_owned());
            }
            if r.until.is_some_and(|u| u <= self.created) {
                return bad("retention.until: not after created".to_owned());
            }
        }
        for pattern in &self.ignore {
            globset::Glob::new(pattern)
                .map_err(|e| Error::Invalid(format!("ignore {pattern:?}: {e}")))?;
        }
        if let Some(sealed) = &self.sealed
            && (sealed.is_empty() || !is_padded_base64(sealed))
        {
            return bad("sealed: not standard padded base64".to_owned());
        }
        if let Some(cid) = &self.was_revision_of
            && (cid.codec() != dataseal_base::codec::DAG_JSON || cid.version() != 1)
        {
            return bad("wasRevisionOf: not a manifest CID (CIDv1, dag-json)".to_owned());
        }
        Ok(())
    }
}
