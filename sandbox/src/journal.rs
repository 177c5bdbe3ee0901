//! What makes a sandbox survive a restart: every change appended to a
//! journal file (one JSON line each), replayed at start and compacted into a
//! fresh file once it holds mostly history.
//!
//! Lines are written before the change is visible to clients and flushed to
//! the operating system at once, so killing the process loses nothing that
//! was answered; a torn last line (power loss mid-write) is skipped.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::keys::ObjectKey;
use crate::patch::Managers;

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Line {
    Put {
        revision: u64,
        key: ObjectKey,
        object: Value,
    },
    Delete {
        revision: u64,
        key: ObjectKey,
    },
    Managers {
        key: ObjectKey,
        managers: Managers,
    },
}

/// The state a journal held.
#[derive(Default)]
pub struct Replayed {
    pub revision: u64,
    pub objects: BTreeMap<ObjectKey, Value>,
    pub managers: BTreeMap<ObjectKey, Managers>,
}

pub struct Journal {
    path: PathBuf,
    file: File,
    lines: usize,
}

impl Journal {
    /// Opens (or creates) `<directory>/objects.jsonl` and replays it.
    pub fn open(directory: &Path) -> io::Result<(Journal, Replayed)> {
        // Private to its owner: the objects include Secrets.
        std::os::unix::fs::DirBuilderExt::mode(fs::DirBuilder::new().recursive(true), 0o700)
            .create(directory)?;
        let path = directory.join("objects.jsonl");
        let mut replayed = Replayed::default();
        let mut lines = 0;
        if path.exists() {
            for line in BufReader::new(File::open(&path)?).lines() {
                let line = line?;
                let Ok(parsed) = serde_json::from_str::<Line>(&line) else {
                    tracing::warn!(path = %path.display(), "skipping an unreadable line of the sandbox journal");
                    continue;
                };
                lines += 1;
                match parsed {
                    Line::Put {
                        revision,
                        key,
                        object,
                    } => {
                        replayed.revision = replayed.revision.max(revision);
                        replayed.objects.insert(key, object);
                    }
                    Line::Delete { revision, key } => {
                        replayed.revision = replayed.revision.max(revision);
                        replayed.objects.remove(&key);
                        replayed.managers.remove(&key);
                    }
                    Line::Managers { key, managers } => {
                        replayed.managers.insert(key, managers);
                    }
                }
            }
        }
        let file = private(OpenOptions::new().create(true).append(true)).open(&path)?;
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        Ok((Journal { path, file, lines }, replayed))
    }

    pub fn put(&mut self, revision: u64, key: &ObjectKey, object: &Value) {
        self.append(&Line::Put {
            revision,
            key: key.clone(),
            object: object.clone(),
        });
    }

    pub fn delete(&mut self, revision: u64, key: &ObjectKey) {
        self.append(&Line::Delete {
            revision,
            key: key.clone(),
        });
    }

    pub fn managers(&mut self, key: &ObjectKey, managers: &Managers) {
        self.append(&Line::Managers {
            key: key.clone(),
            managers: managers.clone(),
        });
    }

    /// Whether the journal is mostly history and worth rewriting.
    pub fn wants_compaction(&self, live_objects: usize) -> bool {
        self.lines > 4 * live_objects + 1_000
    }

    /// Rewrites the journal as just the current state (written aside, then renamed).
    pub fn compact<'a>(
        &mut self,
        revision: u64,
        objects: impl Iterator<Item = (&'a ObjectKey, &'a Value)>,
        managers: impl Iterator<Item = (&'a ObjectKey, &'a Managers)>,
    ) -> io::Result<()> {
        let aside = self.path.with_extension("jsonl.new");
        let mut file =
            private(OpenOptions::new().write(true).create(true).truncate(true)).open(&aside)?;
        let mut lines = 0;
        for (key, object) in objects {
            let line = Line::Put {
                revision,
                key: key.clone(),
                object: object.clone(),
            };
            writeln!(file, "{}", serde_json::to_string(&line)?)?;
            lines += 1;
        }
        for (key, managers) in managers {
            let line = Line::Managers {
                key: key.clone(),
                managers: managers.clone(),
            };
            writeln!(file, "{}", serde_json::to_string(&line)?)?;
            lines += 1;
        }
        file.sync_all()?;
        fs::rename(&aside, &self.path)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.lines = lines;
        Ok(())
    }

    fn append(&mut self, line: &Line) {
        let written = serde_json::to_string(line)
            .map_err(io::Error::other)
            .and_then(|text| writeln!(self.file, "{text}"))
            .and_then(|()| self.file.flush());
        match written {
            Ok(()) => self.lines += 1,
            Err(error) => {
                tracing::error!(%error, path = %self.path.display(), "cannot write the sandbox journal")
            }
        }
    }
}

/// Created readable and writable by the owner only (mode 0600).
fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600)
}
