//! Random identifiers and secrets.

use base64::Engine;
use rand::RngCore;

/// `prefix_` followed by 26 lowercase base32 characters (128 random bits).
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    generated_id_of(prefix, &bytes)
}

/// A new hook secret: `whsec_` and the base64 of 32 random bytes (README, "What a receiver gets").
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Like [`random_id`], but ids made later sort later (as text): the first 8 bytes are
/// microseconds since the epoch, strictly increasing within the process. Lists that
/// show things in creation order use it to order what was made in the same millisecond.
pub fn ordered_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let next = |last: u64| now.max(last + 1);
    let last = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(next(last)))
        .expect("the update always applies");
    let at = next(last);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&at.to_be_bytes());
    rand::thread_rng().fill_bytes(&mut bytes[8..]);
    generated_id_of(prefix, &bytes)
}

/// A random UUID (version 4, RFC 9562), lowercase and hyphenated.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// 32 random bytes, URL-safe base64 (43 characters): console session ids, CSRF tokens
/// and portal links.
pub fn url_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API key: `hpk_` and 32 random bytes, URL-safe.
pub fn new_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("hpk_{}", base32(&bytes))
}

/// Whether `id` has the form [`random_id`] and [`ordered_id`] give it: `prefix_` and 26
/// characters of their alphabet. Ids from a URL are checked with it before they name a
/// store key.
pub fn is_generated(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|body| body.len() == 26 && body.bytes().all(|b| DIGIT[b as usize] < 32))
}

/// The 128 bits of an id of [`random_id`]'s or [`ordered_id`]'s form ([`generated_id_of`]'s
/// inverse); `None` for another form, including one whose last character carries bits
/// that no 128 bits encode to.
pub fn generated_bits(prefix: &str, id: &str) -> Option<[u8; 16]> {
    if !is_generated(prefix, id) {
        return None;
    }
    let (mut bits, mut buffer, mut held, mut out) = ([0u8; 16], 0u32, 0u32, 0);
    for &c in &id.as_bytes()[prefix.len() + 1..] {
        buffer = (buffer << 5) | u32::from(DIGIT[c as usize]);
        held += 5;
        if held >= 8 {
            held -= 8;
            *bits.get_mut(out)? = (buffer >> held) as u8;
            out += 1;
        }
    }
    // 26 characters carry 130 bits: the 2 after the 128th are 0 in an encoding.
    (buffer & ((1 << held) - 1) == 0).then_some(bits)
}

/// The id `prefix_…` of 128 bits, as [`random_id`] and [`ordered_id`] write it.
pub fn generated_id_of(prefix: &str, bits: &[u8; 16]) -> String {
    format!("{prefix}_{}", base32(bits))
}

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Each byte's value as a digit of [`ALPHABET`], 32 for a byte that is none: a hook id
/// is read on every delivery's log write, one lookup a character.
const DIGIT: [u8; 256] = {
    let mut digit = [32; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        digit[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    digit
};

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_is_version_4_and_new_each_time() {
        let a = uuid_v4();
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(a.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
        assert!(parts[2].starts_with('4'), "version 4: {a}");
        assert!(
            matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "RFC variant: {a}"
        );
        assert_ne!(a, uuid_v4());
    }

    #[test]
    fn ordered_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1000).map(|_| ordered_id("hook")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids[0].starts_with("hook_") && ids[0].len() == 5 + 26);
    }

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = random_id("evt");
        let b = random_id("evt");
        assert!(a.starts_with("evt_") && a.len() == 4 + 26);
        assert_ne!(a, b);
    }

    #[test]
    fn generated_ids_pass_the_format_check_and_lookalikes_do_not() {
        assert!(is_generated("hook", &ordered_id("hook")));
        assert!(is_generated("key", &random_id("key")));
        let hook = ordered_id("hook");
        for bad in [
            "hook".to_owned(),
            "hook_".to_owned(),
            format!("{hook}:attempts"),
            format!("{hook}x"),
            hook[..hook.len() - 1].to_owned(),
            hook.replace("hook_", "key_"),
            hook.to_uppercase(),
            format!("hook_{}", "i".repeat(26)),
        ] {
            assert!(!is_generated("hook", &bad), "{bad}");
        }
    }

    #[test]
    fn a_generated_id_is_its_bits_and_back() {
        for id in [ordered_id("hook"), random_id("hook")] {
            let bits = generated_bits("hook", &id).unwrap();
            assert_eq!(generated_id_of("hook", &bits), id);
        }
        for bits in [[0u8; 16], [0xff; 16]] {
            let id = generated_id_of("hook", &bits);
            assert_eq!(generated_bits("hook", &id), Some(bits), "{id}");
        }
        // What migration 15's SQL makes of an id, as read from PostgreSQL.
        let bits = generated_bits("hook", "hook_003644gyhr5y7mzc22mmbzbpy8").unwrap();
        assert_eq!(hex::encode(bits), "000662121e8e0be3d3ec10a945fd76f2");
        let lowest = generated_id_of("hook", &[0; 16]);
        assert_eq!(lowest, format!("hook_{}", "0".repeat(26)));
    }

    #[test]
    fn only_an_encoding_of_128_bits_has_bits() {
        let hook = ordered_id("hook");
        // The last character's 2 lowest bits lie past the 128th: set, no bits encode to it.
        let last = ALPHABET
            .iter()
            .position(|&a| a == *hook.as_bytes().last().unwrap());
        let past = ALPHABET[last.unwrap() | 1] as char;
        for bad in [
            format!("{}{past}", &hook[..hook.len() - 1]),
            hook.replace("hook_", "key_"),
            hook[..hook.len() - 1].to_owned(),
            hook.to_uppercase(),
            "hook_1".to_owned(),
        ] {
            assert_eq!(generated_bits("hook", &bad), None, "{bad}");
        }
    }

    #[test]
    fn bits_keep_the_order_of_their_ids() {
        let ids: Vec<String> = (0..200).map(|_| random_id("hook")).collect();
        let mut by_text = ids.clone();
        by_text.sort();
        let mut by_bits = ids.clone();
        by_bits.sort_by_key(|id| generated_bits("hook", id).unwrap());
        assert_eq!(by_text, by_bits);
    }

    #[test]
    fn secrets_decode_to_32_bytes() {
        let s = new_secret();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(s.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(raw.len(), 32);
    }
}
