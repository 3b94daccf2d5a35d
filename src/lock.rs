//! One harden at a time per host: an flock on /run/harden.lock under the root.
use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::time::{Duration, Instant};

use crate::system::System;

pub struct HostLock {
    _lock: Flock<File>,
}

pub fn acquire(sys: &System, wait: Duration) -> Result<HostLock> {
    let path = sys.path("/run/harden.lock");
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let start = Instant::now();
    let mut told = false;
    loop {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(mut l) => {
                let _ = l.set_len(0);
                let _ = l.rewind();
                let _ = writeln!(l, "{}", std::process::id());
                return Ok(HostLock { _lock: l });
            }
            Err((mut f, _)) => {
                let mut pid = String::new();
                let _ = f.read_to_string(&mut pid);
                if start.elapsed() >= wait {
                    bail!(
                        "another harden (pid {}) holds {}; waited {}s. Try again when it has finished.",
                        pid.trim(),
                        path.display(),
                        wait.as_secs()
                    );
                }
                if !told {
                    eprintln!("waiting for another harden (pid {}) to finish ({})", pid.trim(), path.display());
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}
