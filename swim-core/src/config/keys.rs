//! Secret keys and the encryption settings that hold them.

use core::fmt;
use core::time::Duration;

use swim_wire::crypto::{KEY_LEN, key_id};

/// A 256-bit cluster key for AES-256-GCM. Its `Debug` shows only its id, so
/// keys do not end up in logs; its bytes are zeroed when it is dropped.
///
/// Keys are written as 64 hexadecimal digits (what a key file holds):
///
/// ```
/// use swim_protocol::SecretKey;
/// let key = SecretKey::generate().unwrap();
/// let text = key.to_hex();
/// assert_eq!(text.len(), 64);
/// assert_eq!(text.parse::<SecretKey>().unwrap(), key);
/// assert!(format!("{key:?}").starts_with("SecretKey(id "));
/// assert!(!format!("{key:?}").contains(&text[..8]));
/// assert!("not a key".parse::<SecretKey>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub [u8; KEY_LEN]);

impl SecretKey {
    /// The key's id, as carried in packet headers.
    pub fn id(&self) -> u32 {
        key_id(&self.0)
    }

    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Self, swim_wire::crypto::RandomError> {
        let mut key = SecretKey([0; KEY_LEN]);
        swim_wire::crypto::fill_random(&mut key.0)?;
        Ok(key)
    }

    /// The key as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(2 * KEY_LEN);
        for byte in self.0 {
            for nibble in [byte >> 4, byte & 0x0f] {
                out.push(char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')));
            }
        }
        out
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Why a text is not a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyParseError {
    /// The text (whitespace around it aside) is not 64 characters long.
    Length(usize),
    /// The character at this position is not a hexadecimal digit.
    NotHex(usize),
}

impl fmt::Display for KeyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyParseError::Length(len) => {
                write!(f, "a key is {} hexadecimal digits, found {len} characters", 2 * KEY_LEN)
            }
            KeyParseError::NotHex(at) => write!(f, "character {at} of the key is not a hexadecimal digit"),
        }
    }
}

impl std::error::Error for KeyParseError {}

impl core::str::FromStr for SecretKey {
    type Err = KeyParseError;

    /// Reads 64 hexadecimal digits (either case); whitespace around them,
    /// such as a key file's final newline, is ignored.
    fn from_str(text: &str) -> Result<Self, KeyParseError> {
        let digits = text.trim().as_bytes();
        if digits.len() != 2 * KEY_LEN {
            return Err(KeyParseError::Length(text.trim().chars().count()));
        }
        let value = |at: usize| -> Result<u8, KeyParseError> {
            let c = digits.get(at).copied().unwrap_or(0);
            char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok()).ok_or(KeyParseError::NotHex(at))
        };
        let mut key = SecretKey([0; KEY_LEN]);
        for (i, byte) in key.0.iter_mut().enumerate() {
            *byte = value(2 * i)? << 4 | value(2 * i + 1)?;
        }
        Ok(key)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(id {:08x})", self.id())
    }
}

/// Encryption of every datagram and sync frame (AES-256-GCM).
///
/// Moving a running cluster from plaintext to encryption, without downtime:
/// 1. give every member the keys with `encrypt_outgoing: false,
///    accept_plaintext: true` (all still send plaintext, all can open);
/// 2. then `encrypt_outgoing: true` everywhere (all send sealed, still
///    accepting plaintext from members not yet restarted);
/// 3. then `accept_plaintext: false` everywhere.
///
/// The reverse order turns encryption off. Keys rotate at runtime with
/// [`Node::add_key`](crate::Node::add_key), [`Node::use_key`](crate::Node::use_key)
/// and [`Node::remove_key`](crate::Node::remove_key).
///
/// ```
/// use swim_protocol::{Config, Encryption, SecretKey};
/// // Nonces are drawn by the node itself, from the operating system.
/// let config = Config::lan().with(|c| c.security.encryption = Some(Encryption::new(SecretKey([7; 32]))));
/// assert!(config.validate().is_ok());
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq)]
pub struct Encryption {
    /// Installed keys; the first seals, all open.
    pub keys: Vec<SecretKey>,
    /// Whether outgoing packets are sealed.
    #[cfg_attr(feature = "serde", serde(default = "crate::config_serde::yes"))]
    pub encrypt_outgoing: bool,
    /// Whether plaintext packets are accepted.
    #[cfg_attr(feature = "serde", serde(default))]
    pub accept_plaintext: bool,
    /// Packets whose sender clock differs from this node's by more than this
    /// are refused (replay protection; members' clocks must agree that well).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::config_serde::duration", default = "crate::config_serde::minute")
    )]
    pub max_age: Duration,
}

impl Encryption {
    /// Encryption with one key: seal everything, accept nothing unsealed,
    /// refuse packets a minute off.
    ///
    /// There is no nonce setting: every node draws its own nonce epoch from
    /// the operating system when it is created, so no configuration (a
    /// constant copied between members, or kept across restarts) can make
    /// two packets share a nonce under one key.
    pub fn new(key: SecretKey) -> Self {
        Encryption {
            keys: vec![key],
            encrypt_outgoing: true,
            accept_plaintext: false,
            max_age: Duration::from_secs(60),
        }
    }
}
