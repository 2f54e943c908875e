//! Encrypting into a pair of files, a ciphertext and its header, so that a header that
//! looks finished only ever sits beside the ciphertext it describes, wherever the
//! process is killed; and decrypting a ciphertext file into a plaintext file that appears
//! under its name only once every byte of it is authenticated.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use dataseal_base::Cid;

use crate::{Decryptor, Encryptor, Error, ObjectHeader, SeekSource, WriteSink};

/// The points of [`encrypt_to_files`] at which a process can die between two changes to
/// the destination directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Both new files are written and flushed under temporary names.
    Written,
    /// An old header under the final name is gone.
    OldHeaderRemoved,
    /// The new ciphertext is under its final name; the new header is not yet.
    CiphertextInPlace,
}

/// Encrypts `reader` with `encryptor` into `ciphertext` and writes the object's header
/// (its JSON, with a final newline) to `header`, replacing files already there; returns
/// the header and the chunk CIDs.
///
/// Killed at any point, the process leaves either the old pair, the new pair, or a
/// ciphertext with no header beside it (plus hidden `.NAME.*.tmp` files), never a header
/// beside ciphertext it does not describe: both new files are first written and flushed
/// under temporary names in their final directories; then the old header is removed,
/// the ciphertext renamed into place and the header renamed last, the directory flushed
/// after each step. On an error nothing under the final names has changed (unless the
/// error is in one of those last steps, which leave no header).
///
/// ```
/// use dataseal_base::{DataKey, ObjectId};
/// use dataseal_crypt::{ChunkSize, Decryptor, Encryptor, ObjectHeader, encrypt_to_files};
///
/// let dir = tempfile::tempdir()?;
/// let (ct, hd) = (dir.path().join("ciphertext"), dir.path().join("header.json"));
/// let key = DataKey::generate()?;
/// let enc = Encryptor::new(&key, "ds@1.0.0/a.txt".parse()?, ChunkSize::MIN)?;
/// let (header, cids) = encrypt_to_files(&enc, &b"hello"[..], &ct, &hd)?;
/// assert_eq!(cids.len(), 1);
/// let read = ObjectHeader::from_json(&std::fs::read(&hd)?)?;
/// let mut out = Vec::new();
/// Decryptor::new(&key, &read)?.decrypt(std::fs::File::open(&ct)?, &mut out)?;
/// assert_eq!(out, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`Encryptor::encrypt`]; [`Error::Io`] if a file cannot be created, written,
/// flushed, removed or renamed.
pub fn encrypt_to_files<R: Read>(
    encryptor: &Encryptor,
    reader: R,
    ciphertext: &Path,
    header: &Path,
) -> Result<(ObjectHeader, Vec<Cid>), Error> {
    encrypt_to_files_until(encryptor, reader, ciphertext, header, &mut |_| false)
}

/// [`encrypt_to_files`], dying (leaving everything as a killed process would, and
/// returning an error) at the first stage for which `dies` says so.
pub(crate) fn encrypt_to_files_until<R: Read>(
    encryptor: &Encryptor,
    reader: R,
    ciphertext: &Path,
    header: &Path,
    dies: &mut dyn FnMut(Stage) -> bool,
) -> Result<(ObjectHeader, Vec<Cid>), Error> {
    let mut ct_tmp = temp_beside(ciphertext)?;
    let mut sink = WriteSink::new(BufWriter::new(ct_tmp.as_file_mut()));
    let object = encryptor.encrypt(reader, &mut sink)?;
    let (writer, cids) = sink.finish()?;
    drop(writer);
    ct_tmp.as_file().sync_all()?;

    let mut hd_tmp = temp_beside(header)?;
    let mut json = object.to_json();
    json.push('\n');
    hd_tmp.write_all(json.as_bytes())?;
    hd_tmp.as_file().sync_all()?;

    let [ct_tmp, hd_tmp] = die_at(Stage::Written, dies, [ct_tmp, hd_tmp])?;

    // An old header goes first: from here until the new one is in place, no header
    // describes anything.
    match fs::remove_file(header) {
        Ok(()) => sync_dir(header)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let [ct_tmp, hd_tmp] = die_at(Stage::OldHeaderRemoved, dies, [ct_tmp, hd_tmp])?;

    ct_tmp.persist(ciphertext).map_err(|e| e.error)?;
    sync_dir(ciphertext)?;
    let [hd_tmp] = die_at(Stage::CiphertextInPlace, dies, [hd_tmp])?;

    hd_tmp.persist(header).map_err(|e| e.error)?;
    sync_dir(header)?;
    Ok((object, cids))
}

/// Decrypts the ciphertext file `ciphertext` with `decryptor` into the file `output`
/// (replacing one already there) and returns the number of plaintext bytes written:
/// the whole object, or with `range = Some((offset, len))` only those `len` bytes of the
/// plaintext, read and authenticated chunk by chunk from the chunks that cover them.
/// `progress` is called with the number of bytes after each write.
///
/// The plaintext is written to a hidden temporary file beside `output` (mode 0600 on
/// Unix: it is plaintext), flushed, and renamed to `output` only when every chunk has
/// authenticated; on any error it is removed and `output` is untouched, so a final name
/// never holds unauthenticated or partial plaintext. A range outside the plaintext is
/// refused before any file is created or opened.
///
/// ```
/// use dataseal_base::DataKey;
/// use dataseal_crypt::{ChunkSize, Decryptor, Encryptor, decrypt_to_file, encrypt_to_files};
///
/// let dir = tempfile::tempdir()?;
/// let (ct, hd) = (dir.path().join("ciphertext"), dir.path().join("header.json"));
/// let key = DataKey::generate()?;
/// let enc = Encryptor::new(&key, "ds@1.0.0/a.txt".parse()?, ChunkSize::MIN)?;
/// let (header, _) = encrypt_to_files(&enc, &b"hello, world"[..], &ct, &hd)?;
/// let dec = Decryptor::new(&key, &header)?;
/// let out = dir.path().join("world.txt");
/// assert_eq!(decrypt_to_file(&dec, &ct, Some((7, 5)), &out, &mut |_| {})?, 5);
/// assert_eq!(std::fs::read(&out)?, b"world");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::Range`] for a range outside the plaintext; otherwise as
/// [`Decryptor::decrypt`] (whole object) or [`Decryptor::decrypt_range`] (a range);
/// [`Error::Io`] if a file cannot be opened, created, written, flushed or renamed.
pub fn decrypt_to_file(
    decryptor: &Decryptor,
    ciphertext: &Path,
    range: Option<(u64, u64)>,
    output: &Path,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<u64, Error> {
    let plaintext_len = decryptor.header().plaintext_len();
    if let Some((offset, len)) = range
        && offset
            .checked_add(len)
            .is_none_or(|end| end > plaintext_len)
    {
        return Err(Error::Range {
            offset,
            len,
            plaintext_len,
        });
    }
    let source = File::open(ciphertext)?;
    let mut tmp = temp_beside(output)?;
    let written = {
        let mut out = Progress {
            inner: BufWriter::with_capacity(1 << 20, tmp.as_file_mut()),
            progress,
        };
        let written = match range {
            None => decryptor.decrypt(source, &mut out)?,
            Some((offset, len)) => {
                decryptor.decrypt_range(&mut SeekSource(source), offset, len, &mut out)?;
                len
            }
        };
        out.inner.flush()?;
        written
    };
    tmp.as_file().sync_all()?;
    tmp.persist(output).map_err(|e| e.error)?;
    sync_dir(output)?;
    Ok(written)
}

/// A writer that reports how many bytes went through it.
struct Progress<'a, W> {
    inner: W,
    progress: &'a mut (dyn FnMut(u64) + Send),
}

impl<W: Write> Write for Progress<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Dies at `stage` if `dies` says so: the temporary files stay, as a killed process
/// leaves them, and an error is returned; otherwise hands them back.
fn die_at<const N: usize>(
    stage: Stage,
    dies: &mut dyn FnMut(Stage) -> bool,
    temps: [tempfile::NamedTempFile; N],
) -> Result<[tempfile::NamedTempFile; N], Error> {
    if !dies(stage) {
        return Ok(temps);
    }
    for tmp in temps {
        let _ = tmp.into_temp_path().keep();
    }
    Err(Error::Io(io::Error::other(format!("killed at {stage:?}"))))
}

/// The directory `path` is in.
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A hidden temporary file beside `path`, removed if dropped.
fn temp_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{}: not a file name", path.display())))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir_of(path))
}

/// Flushes the directory `path` is in, so a removal or rename in it is durable before
/// the next one (a no-op where directories cannot be opened, as on Windows).
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir_of(path))?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "tests"
    )]

    use super::*;
    use crate::{ChunkSize, Decryptor};
    use dataseal_base::{DataKey, ObjectId};

    fn id() -> ObjectId {
        "ds@1.0.0/file.bin".parse().unwrap()
    }

    /// What the directory says: `None` without a header, else the plaintext the header
    /// and the ciphertext beside it decrypt to (a panic if they do not belong together).
    fn state(key: &DataKey, ct: &Path, hd: &Path) -> Option<Vec<u8>> {
        let header = match fs::read(hd) {
            Ok(bytes) => ObjectHeader::from_json(&bytes).unwrap(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => panic!("{e}"),
        };
        let mut out = Vec::new();
        Decryptor::new(key, &header)
            .unwrap()
            .decrypt(File::open(ct).unwrap(), &mut out)
            .expect("a header beside ciphertext it does not describe");
        Some(out)
    }

    #[test]
    fn killed_at_any_stage_a_header_only_sits_beside_its_ciphertext() {
        let key = DataKey::generate().unwrap();
        let old: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let new: Vec<u8> = (0..90_000u32).map(|i| (i % 13) as u8).collect();
        let stages = [
            Stage::Written,
            Stage::OldHeaderRemoved,
            Stage::CiphertextInPlace,
        ];
        for kill in stages {
            let dir = tempfile::tempdir().unwrap();
            let (ct, hd) = (
                dir.path().join("ciphertext"),
                dir.path().join("header.json"),
            );
            let enc = Encryptor::new(&key, id(), ChunkSize::MIN).unwrap();
            encrypt_to_files(&enc, &old[..], &ct, &hd).unwrap();
            assert_eq!(state(&key, &ct, &hd).as_deref(), Some(&old[..]));

            // A second run (a fresh salt, other bytes) killed at `kill`.
            let enc = Encryptor::new(&key, id(), ChunkSize::MIN).unwrap();
            let result =
                encrypt_to_files_until(&enc, &new[..], &ct, &hd, &mut |stage| stage == kill);
            assert!(result.is_err());
            match (kill, state(&key, &ct, &hd)) {
                (Stage::Written, Some(plain)) => assert!(plain == old),
                (Stage::OldHeaderRemoved | Stage::CiphertextInPlace, None) => {}
                (stage, other) => panic!("{stage:?}: {:?}", other.map(|p| p.len())),
            }
            // Past the last stage the new ciphertext is in place, with no header.
            if kill == Stage::CiphertextInPlace {
                assert!(fs::metadata(&ct).unwrap().len() < 150_000);
            }
            // Running again completes.
            let enc = Encryptor::new(&key, id(), ChunkSize::MIN).unwrap();
            encrypt_to_files(&enc, &new[..], &ct, &hd).unwrap();
            assert_eq!(state(&key, &ct, &hd).as_deref(), Some(&new[..]));
        }
    }

    #[test]
    fn a_failed_encryption_changes_nothing() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("the input broke"))
            }
        }
        let (key, dir, ct, hd, enc) = fresh();
        encrypt_to_files(&enc, &b"old"[..], &ct, &hd).unwrap();
        assert!(encrypt_to_files(&enc, Failing, &ct, &hd).is_err());
        assert_eq!(state(&key, &ct, &hd).as_deref(), Some(&b"old"[..]));
        // No temporary file is left behind by an error (only a kill leaves them).
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2);
    }

    /// A new key, a new directory, the paths `ciphertext` and `header.json` in it, and
    /// an encryptor at the smallest chunk size.
    fn fresh() -> (DataKey, tempfile::TempDir, PathBuf, PathBuf, Encryptor) {
        let key = DataKey::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ct = dir.path().join("ciphertext");
        let hd = dir.path().join("header.json");
        let enc = Encryptor::new(&key, id(), ChunkSize::MIN).unwrap();
        (key, dir, ct, hd, enc)
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `plain` encrypted at the smallest chunk size into `ciphertext` and `header.json`
    /// in a new directory: the directory, the ciphertext's path, an output path beside
    /// it (`plain`, not created) and the decryptor.
    fn encrypted(plain: &[u8]) -> (tempfile::TempDir, PathBuf, PathBuf, Decryptor) {
        let (key, dir, ct, hd, enc) = fresh();
        let (header, _) = encrypt_to_files(&enc, plain, &ct, &hd).unwrap();
        let dec = Decryptor::new(&key, &header).unwrap();
        let out = dir.path().join("plain");
        (dir, ct, out, dec)
    }

    #[test]
    fn decrypt_to_file_writes_the_object_or_any_range_of_it() {
        let chunk = ChunkSize::MIN.get() as u64;
        let plain: Vec<u8> = (0..3 * chunk + 17).map(|i| (i % 253) as u8).collect();
        let (dir, ct, out, dec) = encrypted(&plain);

        let mut reported = 0;
        let n = decrypt_to_file(&dec, &ct, None, &out, &mut |n| reported += n).unwrap();
        assert_eq!((n, reported), (plain.len() as u64, plain.len() as u64));
        assert_eq!(fs::read(&out).unwrap(), plain);
        // Ranges at and across every chunk boundary, and the empty range at the end.
        let len = plain.len() as u64;
        for (offset, n) in [
            (0, 1),
            (chunk - 1, 2),
            (chunk, chunk),
            (2 * chunk - 3, chunk + 6),
            (len - 1, 1),
            (len, 0),
        ] {
            let got = decrypt_to_file(&dec, &ct, Some((offset, n)), &out, &mut |_| {}).unwrap();
            assert_eq!(got, n);
            let want = &plain[offset as usize..(offset + n) as usize];
            assert_eq!(fs::read(&out).unwrap(), want, "range {offset}+{n}");
        }
        assert_eq!(names(dir.path()), ["ciphertext", "header.json", "plain"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&out).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "plaintext readable by others: {mode:o}");
        }
    }

    #[test]
    fn decrypt_to_file_leaves_nothing_under_the_final_name_on_any_failure() {
        let chunk = ChunkSize::MIN.get() as usize;
        let plain = vec![7u8; 2 * chunk + 5];
        let (dir, ct, out, dec) = encrypted(&plain);
        let ciphertext = fs::read(&ct).unwrap();

        // A range past the end: refused before anything is created.
        let missing = dir.path().join("never");
        let err = decrypt_to_file(
            &dec,
            &ct,
            Some((plain.len() as u64, 1)),
            &missing,
            &mut |_| {},
        );
        assert!(matches!(err, Err(Error::Range { .. })), "{err:?}");
        // A missing ciphertext.
        let err = decrypt_to_file(&dec, &dir.path().join("nope"), None, &missing, &mut |_| {});
        assert!(matches!(err, Err(Error::Io(_))), "{err:?}");
        assert!(!missing.exists());

        // An earlier output stays as it was when the new one fails to authenticate,
        // whether the bad byte is in the first chunk, the last, or the ciphertext is cut.
        fs::write(&out, b"earlier").unwrap();
        let last = ciphertext.len() - 1;
        for (what, bytes) in [
            ("first chunk", {
                let mut b = ciphertext.clone();
                b[3] ^= 1;
                b
            }),
            ("last chunk", {
                let mut b = ciphertext.clone();
                b[last] ^= 1;
                b
            }),
            ("truncated", ciphertext[..last].to_vec()),
        ] {
            fs::write(&ct, &bytes).unwrap();
            for range in [None, Some((0, plain.len() as u64))] {
                let err = decrypt_to_file(&dec, &ct, range, &out, &mut |_| {});
                assert!(err.is_err(), "{what}: {range:?}");
                assert_eq!(fs::read(&out).unwrap(), b"earlier", "{what}");
            }
        }
        assert_eq!(names(dir.path()), ["ciphertext", "header.json", "plain"]);
    }
}
