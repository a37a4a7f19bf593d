//! Reading a whole file, transparently decompressing gzip.

use crate::error::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes of `path`, decompressed if the file starts with the gzip magic number (whatever its
/// name). Errors name the file.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|e| Error::format(path, format!("corrupt gzip data: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    #[test]
    fn raw_and_gzip_give_the_same_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let raw = dir.path().join("raw.bin");
        std::fs::write(&raw, &data).expect("write");
        let gz = dir.path().join("named-without-gz-suffix");
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&data).expect("compress");
        std::fs::write(&gz, enc.finish().expect("compress")).expect("write");
        assert_eq!(read_maybe_gz(&raw).expect("raw"), data);
        assert_eq!(read_maybe_gz(&gz).expect("gz"), data);
    }

    #[test]
    fn corrupt_gzip_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.gz");
        std::fs::write(&path, [0x1f, 0x8b, 8, 0, 1, 2, 3]).expect("write");
        let err = read_maybe_gz(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: corrupt gzip data", path.display())),
            "{err}"
        );
    }
}
