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
fn string_len(rest: &[u8]) -> usize {
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
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

    #[test]
    fn a_million_brackets_need_no_stack() {
        let deep = "[".repeat(1_000_000) + &"]".repeat(1_000_000);
        assert!(deeper_than(deep.as_bytes(), 64));
        assert!(!deeper_than(deep.as_bytes(), 1_000_000));
        let open = "[".repeat(1_000_000); // not even closed
        assert!(deeper_than(open.as_bytes(), 64));
    }
}
