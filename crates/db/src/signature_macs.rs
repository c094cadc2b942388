//! An attempt's signature headers as the log keeps them: the MACs they carry, where they
//! were their text (migration 14). `X-Hook-Signature: sha1=<40 hex digits>` is 20 bytes
//! kept; `webhook-signature: v1,<44 base64 digits>`, 32 a key (two keys, space-separated,
//! during a rotation). The forms are [`hookpost_core::signing`]'s, which writes each
//! header in one form only, so the text read back is the text sent; another form is an
//! error here.

use hookpost_core::signing;

use crate::log::corrupt;
use crate::Result;

/// The MAC of an `X-Hook-Signature` header.
pub(crate) fn sha1_mac(header: &str) -> Result<Vec<u8>> {
    signing::sha1_mac(header).ok_or_else(|| corrupt("X-Hook-Signature", header))
}

/// The `X-Hook-Signature` header of a MAC.
pub(crate) fn sha1_header(mac: &[u8]) -> Result<String> {
    signing::sha1_header_of(mac)
        .ok_or_else(|| corrupt("X-Hook-Signature", format!("{} bytes", mac.len())))
}

/// The MACs of a `webhook-signature` header, one after the other.
pub(crate) fn standard_macs(header: &str) -> Result<Vec<u8>> {
    signing::standard_macs(header).ok_or_else(|| corrupt("webhook-signature", header))
}

/// The `webhook-signature` header of MACs one after the other.
pub(crate) fn standard_header(macs: &[u8]) -> Result<String> {
    signing::standard_header_of(macs)
        .ok_or_else(|| corrupt("webhook-signature", format!("{} bytes", macs.len())))
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
