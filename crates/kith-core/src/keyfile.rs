//! The server's 32-byte secrets kept in files (the access-log signing key,
//! the key that encrypts provider tokens): read if present, else made from
//! the OS's random source and written as hex, readable by the owner only.

use std::io::Write;
use std::path::Path;

pub fn load_or_create(path: &Path, what: &str) -> std::io::Result<[u8; 32]> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let raw = data_encoding::HEXLOWER_PERMISSIVE
                .decode(text.trim().as_bytes())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} is not a Kith {what} (64 hex digits)", path.display())))?;
            Ok(raw.try_into().expect("32 bytes"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut key = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            opts.open(path)?.write_all(data_encoding::HEXLOWER.encode(&key).as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}
