//! `HOOKPOST_ADMIN_TOKEN`'s rules. The token opens every tenant's data, so a token that
//! can be guessed (short, a placeholder from an example, one character repeated) is
//! refused at start-up rather than trusted.

/// Fewer characters than this are refused: 32 random characters are out of any guessing
/// reach, and the generate command below gives 44.
pub const MIN_LEN: usize = 32;

/// Random tokens use many characters; one with fewer distinct ones than this was typed
/// by hand (`aaaa…`, `abab…`).
const MIN_DISTINCT: usize = 8;

/// Words that mark a value copied from an example or a dev setup, compared on the
/// token's lowercase letters and digits only (so `Change-Me`, `change_me` match).
const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "replace",
    "placeholder",
    "example",
    "admintoken",
    "devtoken",
    "testtoken",
    "secret",
    "password",
    "generate",
];

/// How to make a good token, for the messages.
pub const GENERATE: &str = "generate one with `head -c 32 /dev/urandom | base64`";

/// `Ok` for a token hookpost accepts; the reason it does not, otherwise.
pub fn check(token: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("{why}; {GENERATE}"));
    if token.chars().count() < MIN_LEN {
        return refuse(&format!("must be at least {MIN_LEN} characters"));
    }
    let folded: String = token
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if let Some(word) = PLACEHOLDERS.iter().find(|w| folded.contains(*w)) {
        return refuse(&format!("looks like a placeholder (contains `{word}`)"));
    }
    let mut distinct: Vec<char> = token.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT {
        return refuse(&format!(
            "uses fewer than {MIN_DISTINCT} different characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_pass() {
        for t in [
            "hUj3Xq0lD9v2mZ8kQ1wP4rT6yB7nC5sA0eF3gH2iJ4k=",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ] {
            assert_eq!(check(t), Ok(()), "{t}");
        }
    }

    #[test]
    fn short_placeholder_and_repetitive_tokens_are_refused() {
        let a32 = "a".repeat(32);
        let abab = "ab12".repeat(10);
        let changeme = "Change-Me".repeat(4);
        let replace = "replace-with-a-long-random-token-please";
        let dev = "DEV_ADMIN_TOKEN_0123456789abcdefghij";
        for t in [
            "change-me",
            "test-admin-token",
            "password",
            a32.as_str(),
            abab.as_str(),
            changeme.as_str(),
            replace,
            dev,
        ] {
            let e = check(t).unwrap_err();
            assert!(e.contains("head -c 32 /dev/urandom"), "{t}: {e}");
        }
    }
}
