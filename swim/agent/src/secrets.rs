//! `keygen` and `gen-certs`: the files that secure a cluster, written
//! readable by their owner only.

use std::path::Path;

use swim::SecretKey;
use swim::tls::ClusterCa;

use crate::cli::{GenCertsArgs, KeygenArgs};

/// Writes `text` to a new file only its owner can read (never over an
/// existing one).
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

/// `keygen [--out FILE]`.
pub(crate) fn keygen(args: &KeygenArgs) -> Result<(), String> {
    let key = SecretKey::generate().map_err(|e| format!("no randomness: {e}"))?;
    match &args.out {
        Some(path) => {
            write_private(path, &format!("{}\n", key.to_hex()))?;
            println!("wrote key {:08x} to {}; copy it to every member (--key-file)", key.id(), path.display());
        }
        None => println!("{}", key.to_hex()),
    }
    Ok(())
}

/// `gen-certs --out DIR --names a,b`: the CA (made with its key on first
/// use, then reused so that members added later join the same cluster)
/// and a certificate and key per name.
pub(crate) fn gen_certs(args: &GenCertsArgs) -> Result<(), String> {
    let out = &args.out;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let (ca_pem, ca_key) = (out.join("ca.pem"), out.join("ca.key"));
    let ca = if ca_key.exists() {
        ClusterCa::from_pem("swim agents", &read(&ca_pem)?, &read(&ca_key)?)
            .map_err(|e| format!("{}: {e}", ca_key.display()))?
    } else {
        let ca = ClusterCa::generate("swim agents").map_err(|e| e.to_string())?;
        write_private(&ca_key, &ca.key_pem())?;
        std::fs::write(&ca_pem, ca.cert_pem()).map_err(|e| format!("{}: {e}", ca_pem.display()))?;
        ca
    };
    for name in &args.names {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(format!("`{name}` cannot name a member's files"));
        }
        let id = ca.issue(name).map_err(|e| format!("{name}: {e}"))?;
        let cert = out.join(format!("{name}.pem"));
        std::fs::write(&cert, id.cert_pem()).map_err(|e| format!("{}: {e}", cert.display()))?;
        write_private(&out.join(format!("{name}.key")), id.key_pem())?;
    }
    println!("wrote ca.pem, ca.key (keep it private) and a certificate and key per member to {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_new_and_owner_only() {
        let dir = std::env::temp_dir().join(format!("swim-agent-secrets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k");
        write_private(&path, "secret").unwrap();
        assert!(write_private(&path, "again").is_err(), "never over an existing file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        gen_certs(&GenCertsArgs { out: dir.join("certs"), names: vec!["a".into(), "b".into()] }).unwrap();
        for f in ["ca.pem", "ca.key", "a.pem", "a.key", "b.pem", "b.key"] {
            assert!(dir.join("certs").join(f).exists(), "{f}");
        }
        let bad = GenCertsArgs { out: dir.join("certs"), names: vec!["../x".into()] };
        assert!(gen_certs(&bad).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
