//! What a publisher says about a dataset version: every manifest field the publish does
//! not compute.

use std::collections::BTreeSet;
use std::path::Path;

use dataseal_base::{Cid, DatasetId, Purpose, Region, Timestamp};
use dataseal_manifest::{
    Agent, ConsentBasis, LicenseConditions, LicenseTier, Manifest, ObjectEntry, Provenance,
    Retention, SCHEMA_VERSION, Sensitivity, SpdxExpression, Version,
};
use serde::Deserialize;

use crate::Error;

/// The largest metadata document read, in bytes.
const MAX_META: u64 = 16 << 20;

/// The metadata of a dataset version (`--meta META.json`): every manifest field except
/// the ones a publish computes (`objects`, `sealed`, `schemaVersion`), in the manifest's
/// own field names. Unknown fields are refused.
///
/// Left out, a field takes the value that allows least: no purposes, no regions, a
/// proprietary licence tier, `internal` sensitivity, licence `LicenseRef-unspecified`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct DatasetMeta {
    /// The dataset (required, here or by [`DatasetMeta::named`]).
    pub dataset_id: Option<DatasetId>,
    /// The version (required, here or by [`DatasetMeta::named`]).
    pub version: Option<Version>,
    /// The GDPR basis.
    pub consent: Option<ConsentBasis>,
    /// The creation time (default: when the publish starts).
    pub created: Option<Timestamp>,
    /// Creators.
    #[serde(default)]
    pub creator: Vec<Agent>,
    /// A description.
    pub description: Option<String>,
    /// Ignore patterns: files left out of the version.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// The licence (SPDX).
    pub license: Option<SpdxExpression>,
    /// The licence conditions.
    pub license_conditions: Option<LicenseConditions>,
    /// A human name (default: the dataset id).
    pub name: Option<String>,
    /// Whether it holds personal data.
    pub pii: Option<bool>,
    /// Provenance.
    pub provenance: Option<Provenance>,
    /// The publisher.
    pub publisher: Option<Agent>,
    /// Allowed purposes.
    pub purposes: Option<BTreeSet<Purpose>>,
    /// Allowed regions.
    pub regions: Option<BTreeSet<Region>>,
    /// Retention.
    pub retention: Option<Retention>,
    /// The sensitivity class (default `internal`).
    pub sensitivity: Option<Sensitivity>,
    /// The parent version.
    pub was_revision_of: Option<Cid>,
}

impl DatasetMeta {
    /// Metadata for `dataset_id` at `version`, allowing nothing yet.
    #[must_use]
    pub fn named(dataset_id: DatasetId, version: Version) -> Self {
        Self {
            dataset_id: Some(dataset_id),
            version: Some(version),
            ..Self::default()
        }
    }

    /// Reads a metadata document (JSON).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read; [`Error::Invalid`] naming the field at fault.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(|e| Error::io_at("open", path, e))?;
        let mut bytes = Vec::new();
        file.take(MAX_META + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io_at("read", path, e))?;
        if bytes.len() as u64 > MAX_META {
            return Err(Error::Invalid(format!(
                "{}: larger than 16 MiB",
                path.display()
            )));
        }
        Self::from_json(&bytes).map_err(|e| match e {
            Error::Invalid(m) => Error::Invalid(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses a metadata document (JSON).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field at fault.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(de).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// The dataset id and version, `DATASET@VERSION`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when either is missing.
    pub fn identity(&self) -> Result<(DatasetId, Version), Error> {
        match (&self.dataset_id, &self.version) {
            (Some(d), Some(v)) => Ok((d.clone(), v.clone())),
            _ => Err(Error::Invalid(
                "the dataset id and version are required (datasetId and version in the metadata)"
                    .to_owned(),
            )),
        }
    }

    /// The sensitivity class (default `internal`).
    #[must_use]
    pub fn sensitivity(&self) -> Sensitivity {
        self.sensitivity.unwrap_or(Sensitivity::Internal)
    }

    /// The creation time a manifest built now records: `created` from the metadata,
    /// else `SOURCE_DATE_EPOCH` (seconds, for reproducible builds), else now.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `SOURCE_DATE_EPOCH` is set but not a number of seconds.
    pub fn created_or_now(&self) -> Result<Timestamp, Error> {
        if let Some(t) = self.created {
            return Ok(t);
        }
        match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(s) => s
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|n| Timestamp::from_unix_seconds(n).ok())
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "SOURCE_DATE_EPOCH={s:?} is not a number of seconds"
                    ))
                }),
            Err(_) => Ok(Timestamp::now()),
        }
    }

    /// The manifest of a public, unencrypted dataset version: every regular file under
    /// `src` (less the ignore patterns) as an object with its SHA-256, created at
    /// [`DatasetMeta::created_or_now`]. For encrypted versions use [`crate::Publish`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `src` is not a directory or the dataset id or version is
    /// missing; [`Error::Manifest`] when a file cannot be read or the manifest breaks a
    /// rule.
    pub fn public_manifest(&self, src: &Path) -> Result<Manifest, Error> {
        if !src.is_dir() {
            return Err(Error::Invalid(format!(
                "{} is not a directory",
                src.display()
            )));
        }
        self.identity()?;
        if self.sensitivity != Some(Sensitivity::Public) {
            return Err(Error::Invalid(format!(
                "sensitivity: an unencrypted manifest is for public data only, and the metadata says {}; set \"sensitivity\": \"public\" or publish it encrypted",
                self.sensitivity
                    .map_or("nothing (internal by default)", Sensitivity::as_str)
            )));
        }
        let created = self.created_or_now()?;
        let objects = dataseal_manifest::build_objects(src, &self.ignore, None)
            .map_err(|e| Error::manifest(format!("reading {}", src.display()), e))?;
        self.manifest(objects, created, None)
    }

    /// The manifest of these metadata over `objects`.
    pub(crate) fn manifest(
        &self,
        objects: Vec<ObjectEntry>,
        created: Timestamp,
        sealed: Option<String>,
    ) -> Result<Manifest, Error> {
        let (dataset_id, version) = self.identity()?;
        let unspecified = "LicenseRef-unspecified"
            .parse()
            .map_err(|e| Error::manifest("licence", e))?;
        let manifest = Manifest {
            consent: self.consent.clone(),
            created,
            creator: self.creator.clone(),
            name: self
                .name
                .clone()
                .unwrap_or_else(|| dataset_id.as_str().to_owned()),
            dataset_id,
            description: self.description.clone().unwrap_or_default(),
            ignore: self.ignore.clone(),
            license: self.license.clone().unwrap_or(unspecified),
            license_conditions: self
                .license_conditions
                .clone()
                .unwrap_or(LicenseConditions {
                    academic_use: false,
                    attribution: true,
                    commercial_use: false,
                    non_commercial_use: false,
                    share_alike: false,
                    tier: LicenseTier::Proprietary,
                }),
            objects,
            pii: self.pii.unwrap_or(false),
            provenance: self.provenance.clone().unwrap_or_default(),
            publisher: self.publisher.clone(),
            purposes: self.purposes.clone().unwrap_or_default(),
            regions: self.regions.clone().unwrap_or_default(),
            retention: self.retention.clone(),
            schema_version: SCHEMA_VERSION,
            sealed,
            sensitivity: self.sensitivity(),
            version,
            was_revision_of: self.was_revision_of,
        };
        manifest
            .validate()
            .map_err(|e| Error::manifest("the manifest", e))?;
        Ok(manifest)
    }
}
