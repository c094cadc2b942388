//! An attempt's signature headers as the log keeps them: the MACs they carry, where they
//! were their text (migration 14). `X-Hook-Signature: sha1=<40 hex digits>` is 20 bytes
//! kept; `webhook-signature: v1,<44 base64 digits>`, 32 a key (two keys, space-separated,
//! during a rotation). hookpost writes each header in one form only
//! ([`hookpost_core::signing`]), so the text read back is the text sent.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::log::corrupt;
use crate::Result;

const SHA1: &str = "sha1=";
const SHA1_MAC: usize = 20;
const STANDARD_ENTRY: &str = "v1,";
const STANDARD_MAC: usize = 32;

/// The MAC of an `X-Hook-Signature` header.
pub(crate) fn sha1_mac(header: &str) -> Result<Vec<u8>> {
    header
        .strip_prefix(SHA1)
        .and_then(|h| hex::decode(h).ok())
        .filter(|mac| mac.len() == SHA1_MAC)
        .ok_or_else(|| corrupt("X-Hook-Signature", header))
}

/// The `X-Hook-Signature` header of a MAC.
pub(crate) fn sha1_header(mac: &[u8]) -> Result<String> {
    match mac.len() {
        SHA1_MAC => Ok(format!("{SHA1}{}", hex::encode(mac))),
        n => Err(corrupt("X-Hook-Signature", format!("{n} bytes"))),
    }
}

/// The MACs of a `webhook-signature` header, one after the other.
pub(crate) fn standard_macs(header: &str) -> Result<Vec<u8>> {
    let mut macs = Vec::with_capacity(STANDARD_MAC);
    for entry in header.split(' ') {
        let mac = (entry.strip_prefix(STANDARD_ENTRY))
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|mac| mac.len() == STANDARD_MAC)
            .ok_or_else(|| corrupt("webhook-signature", header))?;
        macs.extend_from_slice(&mac);
    }
    Ok(macs)
}

/// The `webhook-signature` header of MACs one after the other.
pub(crate) fn standard_header(macs: &[u8]) -> Result<String> {
    if macs.is_empty() || !macs.len().is_multiple_of(STANDARD_MAC) {
        return Err(corrupt(
            "webhook-signature",
            format!("{} bytes", macs.len()),
        ));
    }
    let entries: Vec<String> = macs
        .chunks(STANDARD_MAC)
        .map(|mac| format!("{STANDARD_ENTRY}{}", STANDARD.encode(mac)))
        .collect();
    Ok(entries.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpost_core::signing::{sign, SigningKey};

    #[test]
    fn the_headers_sent_are_the_headers_read_back() {
        let (new, old) = (
            SigningKey::from_secret("new"),
            SigningKey::from_secret("old"),
        );
        for previous in [None, Some(&old)] {
            let s = sign(&new, previous, "dlv_1", 1_700_000_000, b"{\"a\":1}");
            let mac = sha1_mac(&s.sha1).unwrap();
            assert_eq!(mac.len(), 20);
            assert_eq!(sha1_header(&mac).unwrap(), s.sha1);
            let macs = standard_macs(&s.standard).unwrap();
            assert_eq!(macs.len(), 32 * (1 + previous.is_some() as usize));
            assert_eq!(standard_header(&macs).unwrap(), s.standard);
        }
    }

    #[test]
    fn another_form_is_refused() {
        for bad in [
            "",
            "sha1=",
            "sha1=zz",
            "md5=00",
            &format!("sha1={}", "0".repeat(42)),
        ] {
            assert!(sha1_mac(bad).is_err(), "{bad}");
        }
        for bad in ["", "v1,", "v2,AAAA", "v1,!!", "v1,AAAA"] {
            assert!(standard_macs(bad).is_err(), "{bad}");
        }
        assert!(sha1_header(&[0; 19]).is_err());
        assert!(standard_header(&[]).is_err());
        assert!(standard_header(&[0; 33]).is_err());
    }
}
