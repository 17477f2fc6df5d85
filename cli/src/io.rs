//! Input and output: files or stdin/stdout. A file output is written to a
//! temporary file in the same directory and renamed only on success, so a
//! failed decryption leaves no output file behind.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::Failure;

enum Output {
    Stdout(io::StdoutLock<'static>),
    File(tempfile::NamedTempFile, std::path::PathBuf),
}

pub(crate) struct Streams {
    input: Box<dyn Read>,
    output: Output,
}

impl Streams {
    pub(crate) fn open(input: &str, output: &str) -> Result<Self, Failure> {
        let input: Box<dyn Read> = if input == "-" {
            Box::new(io::stdin().lock())
        } else {
            Box::new(
                File::open(input).map_err(|e| Failure::io(&format!("cannot open {input}"), e))?,
            )
        };
        let output = if output == "-" {
            Output::Stdout(io::stdout().lock())
        } else {
            let path = Path::new(output);
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let tmp = tempfile::Builder::new()
                .prefix(".kms-envelope-")
                .tempfile_in(dir)
                .map_err(|e| {
                    Failure::io(&format!("cannot create a file in {}", dir.display()), e)
                })?;
            Output::File(tmp, path.to_path_buf())
        };
        Ok(Self { input, output })
    }

    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, Failure> {
        loop {
            match self.input.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::io("read failed", e)),
            }
        }
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), Failure> {
        if data.is_empty() {
            return Ok(());
        }
        let r = match &mut self.output {
            Output::Stdout(s) => s.write_all(data),
            Output::File(f, _) => f.write_all(data),
        };
        r.map_err(|e| Failure::io("write failed", e))
    }

    /// Flush, and move a file output into place.
    pub(crate) fn commit(self) -> Result<(), Failure> {
        match self.output {
            Output::Stdout(mut s) => s.flush().map_err(|e| Failure::io("write failed", e)),
            Output::File(f, path) => {
                f.as_file()
                    .sync_all()
                    .map_err(|e| Failure::io("write failed", e))?;
                f.persist(&path).map_err(|e| {
                    Failure::io(&format!("cannot write {}", path.display()), e.error)
                })?;
                Ok(())
            }
        }
    }
}
