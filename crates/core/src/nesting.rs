//! How deep JSON nests, found by a loop over its bytes: serde_json checks its recursion
//! limit only when it builds values, and an event's `data` is kept as raw bytes, which
//! it skips over with no limit at all. A recursive check would be the attack's target.

/// Whether `json` (valid JSON) has arrays or objects nested more than `max` deep: a
/// scalar is 0 deep, `{}` is 1, `{"a":[1]}` is 2.
pub fn deeper_than(json: &[u8], max: usize) -> bool {
    let (mut depth, mut i) = (0usize, 0);
    while let Some(&b) = json.get(i) {
        match b {
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => i += string_len(&json[i + 1..]),
            _ => {}
        }
        i += 1;
    }
    false
}

/// Bytes up to and including a string's closing quote; `rest` starts after the opening one.
/// Strings are most of an event's bytes: `memchr2` skips to the next quote or escape
/// many bytes at a time.
fn string_len(rest: &[u8]) -> usize {
    let mut i = 0;
    while let Some(at) = rest.get(i..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) {
        i += at;
        if rest[i] == b'"' {
            return i + 1;
        }
        // An escape: the byte after it is never the closing quote.
        i += 2;
    }
    rest.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_containers_and_not_brackets_inside_strings() {
        let rows: &[(&str, usize)] = &[
            ("1", 0),
            ("\"[[[\"", 0),
            ("{}", 1),
            ("[]", 1),
            (r#"{"a":[1,{"b":[]}]}"#, 4),
            (r#"{"a":"}}}[[[\"[[[","b":[[]],"c":{}}"#, 3),
            (r#"{"a\\":"{{","b":{}}"#, 2),
            (r#"[[1],[2],[[3]]]"#, 3),
        ];
        for (json, depth) in rows {
            assert!(
                !deeper_than(json.as_bytes(), *depth),
                "{json} within {depth}"
            );
            if *depth > 0 {
                assert!(
                    deeper_than(json.as_bytes(), depth - 1),
                    "{json} over {}",
                    depth - 1
                );
            }
        }
    }

    /// The reading before strings were skipped with `memchr2`: one byte at a time.
    fn deeper_than_bytewise(json: &[u8], max: usize) -> bool {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for &b in json {
            match (in_string, escaped, b) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') => in_string = false,
                (true, false, _) => {}
                (false, _, b'"') => in_string = true,
                (false, _, b'{' | b'[') => {
                    depth += 1;
                    if depth > max {
                        return true;
                    }
                }
                (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
                (false, _, _) => {}
            }
        }
        false
    }

    #[test]
    fn agrees_with_a_byte_at_a_time_reading_on_every_cut_of_tricky_strings() {
        let doc = r#"{"a\\":"{{","b":["x\"[[[\\",{"c":"\\\"]]"}],"d":[[["\u005b"]]],"e":"\\"}"#;
        for end in 0..=doc.len() {
            let cut = &doc.as_bytes()[..end];
            for max in 0..6 {
                assert_eq!(
                    deeper_than(cut, max),
                    deeper_than_bytewise(cut, max),
                    "{:?} within {max}",
                    String::from_utf8_lossy(cut)
                );
            }
        }
        assert!(!deeper_than(doc.as_bytes(), 4) && deeper_than(doc.as_bytes(), 3));
    }

    #[test]
    fn a_million_brackets_need_no_stack() {
        let deep = "[".repeat(1_000_000) + &"]".repeat(1_000_000);
        assert!(deeper_than(deep.as_bytes(), 64));
        assert!(!deeper_than(deep.as_bytes(), 1_000_000));
        let open = "[".repeat(1_000_000); // not even closed
        assert!(deeper_than(open.as_bytes(), 64));
    }
}
