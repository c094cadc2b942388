//! The parts of an event's `data` that its hooks' filters read, taken in one pass over
//! the raw bytes: the paths of every condition go into a small trie, and the pass skips
//! each subtree no path enters. Building a `Value` of the whole payload cost 10-20 ms on a
//! hostile 1 MiB event (an array of 512k numbers, an object of 65k keys); the pass costs
//! about what skipping its bytes costs.
//!
//! What is kept is exact for every operator: scalars as they are (strings whole), objects
//! with only the keys a path enters, arrays up to the last index a path names and, where
//! a condition reads the array itself, its first few elements and, for a longer one, its
//! raw text: `contains` reads the elements from that text when it runs, paid from the
//! budget element by element, so that the pass builds next to nothing for an array of
//! 500,000 numbers that one filter searches (or fails closed on). A condition whose path
//! was not selected fails closed.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{budget, scalar_eq, Budget, Filter, Path, Segment, MAX_CONTAINS_ITEMS};

/// What a path needs where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Want {
    /// Only a way to deeper paths.
    Through,
    /// A condition reads the value itself.
    Target,
    /// The whole value, as a full parse gives it (an ordering key).
    Whole,
}

/// An array a condition reads itself is kept as values up to this many elements; a
/// longer one is searched from its raw text (building 10,000 values per array costs more
/// than reading them again for the few conditions a budget pays for).
const SMALL_ARRAY: usize = 32;

/// Above this many keys, a node finds a key through a hash map.
const LINEAR_KEYS: usize = 8;

#[derive(Debug)]
struct Node {
    want: Want,
    keys: Vec<(Box<str>, usize)>,
    by_key: Option<HashMap<Box<str>, usize>>,
    /// Bit `n - 1` is set when a key of `n` bytes is among `keys` (names are 1..=64 bytes).
    key_lens: u64,
    /// Sorted by index.
    indices: Vec<(usize, usize)>,
}

impl Node {
    fn new() -> Node {
        Node {
            want: Want::Through,
            keys: Vec::new(),
            by_key: None,
            key_lens: 0,
            indices: Vec::new(),
        }
    }

    fn key(&self, key: &str) -> Option<usize> {
        let len = key.len();
        if len == 0 || len > 64 || self.key_lens & (1 << (len - 1)) == 0 {
            return None;
        }
        match &self.by_key {
            Some(map) => map.get(key).copied(),
            None => self.keys.iter().find(|(k, _)| &**k == key).map(|(_, n)| *n),
        }
    }

    fn index(&self, i: usize) -> Option<usize> {
        let at = self.indices.binary_search_by_key(&i, |(j, _)| *j).ok()?;
        Some(self.indices[at].1)
    }
}

/// The trie of the paths an event's filters (and ordering keys) read.
#[derive(Debug)]
struct Paths(Vec<Node>);

impl Paths {
    fn add(&mut self, path: &Path, want: Want) {
        let mut n = 0;
        for seg in &path.0 {
            let found = match seg {
                Segment::Key(k) => self.0[n].key(k),
                Segment::Index(i) => self.0[n].index(*i),
            };
            n = match found {
                Some(child) => child,
                None => self.push(n, seg),
            };
        }
        self.0[n].want = self.0[n].want.max(want);
    }

    fn push(&mut self, parent: usize, seg: &Segment) -> usize {
        let child = self.0.len();
        self.0.push(Node::new());
        let node = &mut self.0[parent];
        match seg {
            Segment::Key(k) => {
                node.keys.push((k.as_str().into(), child));
                node.key_lens |= 1 << (k.len() - 1);
                if node.keys.len() > LINEAR_KEYS {
                    node.by_key = Some(node.keys.iter().cloned().collect());
                }
            }
            Segment::Index(i) => {
                let at = node.indices.partition_point(|(j, _)| j < i);
                node.indices.insert(at, (*i, child));
            }
        }
        child
    }

    fn child(&self, n: usize, seg: &Segment) -> Option<usize> {
        match seg {
            Segment::Key(k) => self.0[n].key(k),
            Segment::Index(i) => self.0[n].index(*i),
        }
    }
}

/// The parts of one event's `data` its hooks read: made once per event, shared by all
/// of its hooks' filters ([`Filter::matches`]) and ordering keys ([`Payload::value`]).
#[derive(Debug)]
pub struct Payload {
    paths: Paths,
    value: Value,
    /// The part of the data's text that holds the arrays searched from it (`raw` points
    /// into it); empty when there are none.
    text: Box<str>,
    /// (trie node, start, end): the raw text of an array a condition reads itself.
    raw: Vec<(usize, usize, usize)>,
    /// What the pass cost, paid from the event's budget before any filter runs.
    units: u64,
}

impl Payload {
    /// Takes from `data` (the event's raw JSON) what `filters` read and, whole, the values
    /// at `whole` (ordering keys). `None` when `data` is not JSON; the callers pass data
    /// a parse already checked, so the subtrees skipped are not checked again.
    pub fn select<'a>(
        data: &str,
        filters: impl IntoIterator<Item = &'a Filter>,
        whole: impl IntoIterator<Item = &'a Path>,
    ) -> Option<Payload> {
        let mut paths = Paths(vec![Node::new()]);
        let mut last: Option<&Path> = None;
        for f in filters {
            f.each_path(&mut |p| {
                // Conditions side by side often share a path.
                if last != Some(p) {
                    paths.add(p, Want::Target);
                }
                last = Some(p);
            });
        }
        for p in whole {
            paths.add(p, Want::Whole);
        }
        let mut pass = Pass::new(data);
        let value = pass.build(&paths, 0).ok()?;
        if pass.peek().is_some() {
            return None; // trailing bytes
        }
        // Only the stretch of the data that holds the searched arrays is kept.
        let from = pass.raw.iter().map(|r| r.1).min().unwrap_or(0);
        let to = pass.raw.iter().map(|r| r.2).max().unwrap_or(0);
        let raw = pass.raw.iter().map(|&(n, s, e)| (n, s - from, e - from));
        Some(Payload {
            paths,
            value,
            text: data[from..to].into(),
            raw: raw.collect(),
            units: budget::pass(data.len()),
        })
    }

    /// The event's budget of `units` with this pass already paid from it.
    pub fn budget(&self, units: u64) -> Budget {
        let mut budget = Budget::new(units);
        // Out of units already: every filter fails closed.
        let _ = budget.spend(self.units);
        budget
    }

    /// What was selected, in the data's own shape: `Path::lookup` finds in it what it
    /// finds in the whole data for every path selected whole.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The value at a condition's path (`Some(None)`: absent) and, for an array, its raw
    /// text, paid from `budget`; `None` when the budget ran out or the path was not
    /// selected as a target.
    pub(super) fn lookup_within(
        &self,
        path: &Path,
        budget: &mut Budget,
    ) -> Option<Option<(&Value, Option<&str>)>> {
        let (mut n, mut v) = (0, &self.value);
        let mut found = true;
        for seg in &path.0 {
            budget.spend(budget::STEP)?;
            n = self.paths.child(n, seg)?;
            if found {
                match (seg, v) {
                    (Segment::Key(k), Value::Object(m)) => m.get(k.as_str()),
                    (Segment::Index(i), Value::Array(a)) => a.get(*i),
                    _ => None,
                }
                .map_or_else(|| found = false, |next| v = next);
            }
        }
        if self.paths.0[n].want < Want::Target {
            return None;
        }
        // A repeated key was taken again: the last one counts, as in a full parse.
        let raw = self.raw.iter().rev().find(|r| r.0 == n);
        let raw = raw.map(|&(_, start, end)| &self.text[start..end]);
        Some(found.then_some((v, raw)))
    }
}

/// Whether the array `text` (as kept for a condition that reads the array itself) has an
/// element equal to `needle` among its first [`MAX_CONTAINS_ITEMS`]: each element is read
/// and paid for as it is reached.
pub(super) fn raw_contains(text: &str, needle: &Value, budget: &mut Budget) -> Option<bool> {
    let mut pass = Pass::new(text);
    pass.i = 1; // past `[`
    if pass.peek() == Some(b']') {
        return Some(false);
    }
    for _ in 0..MAX_CONTAINS_ITEMS {
        let start = pass.i;
        budget.spend(budget::ELEMENT)?;
        // The text was checked by the pass: a failure here is not expected.
        let item = pass.element().ok()?;
        budget.spend(budget::read(pass.i - start))?;
        budget.spend(budget::compare(&item, needle))?;
        if scalar_eq(&item, needle) {
            return Some(true);
        }
        if pass.peek() != Some(b',') {
            break;
        }
        pass.i += 1;
    }
    Some(false)
}

/// Malformed JSON (the callers pass data that was already checked).
struct Bad;

/// A cursor over the raw data. Recursion follows the trie only (at most 16 deep); the
/// subtrees skipped are walked with a counter.
struct Pass<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    /// (trie node, start, end) of each array a condition reads itself.
    raw: Vec<(usize, usize, usize)>,
}

impl<'a> Pass<'a> {
    fn new(s: &'a str) -> Pass<'a> {
        Pass {
            s,
            b: s.as_bytes(),
            i: 0,
            raw: Vec::new(),
        }
    }

    fn peek(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), Bad> {
        if self.peek() != Some(c) {
            return Err(Bad);
        }
        self.i += 1;
        Ok(())
    }

    /// At a string: its raw contents (between the quotes) and whether it has escapes.
    fn string(&mut self) -> Result<(usize, usize, bool), Bad> {
        self.eat(b'"')?;
        let (start, mut escaped) = (self.i, false);
        loop {
            self.i += quote_or_backslash(&self.b[self.i..]).ok_or(Bad)?;
            if self.b[self.i] == b'"' {
                self.i += 1;
                return Ok((start, self.i - 1, escaped));
            }
            escaped = true;
            self.i += 2;
        }
    }

    fn decoded(&self, (start, end, escaped): (usize, usize, bool)) -> Result<String, Bad> {
        match escaped {
            false => Ok(self.s[start..end].to_owned()),
            true => serde_json::from_str(&self.s[start - 1..=end]).map_err(|_| Bad),
        }
    }

    /// Moves past one value without looking into it.
    fn skip(&mut self) -> Result<(), Bad> {
        match self.peek().ok_or(Bad)? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => self.close(0),
            _ => self.scalar_token().map(drop),
        }
    }

    /// Moves past the bracket that closes the container `depth` levels up (0: the one
    /// about to open), jumping over runs of bytes that cannot open or close anything.
    fn close(&mut self, mut depth: usize) -> Result<(), Bad> {
        loop {
            // 64 bytes at a time where they allow it; a block with an escape or with a
            // string running past it, and the last bytes, one step at a time.
            if let Some(block) = self.b.get(self.i..self.i + 64).and_then(Block::of) {
                match block.close(&mut depth) {
                    Some(at) => {
                        self.i += at + 1;
                        return Ok(());
                    }
                    None => {
                        self.i += 64;
                        continue;
                    }
                }
            }
            self.i += plain_run(&self.b[self.i..]);
            match *self.b.get(self.i).ok_or(Bad)? {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Ok(());
                    }
                }
                b'"' => {
                    self.string()?;
                    continue;
                }
                _ => {}
            }
            self.i += 1;
        }
    }

    /// A number, `true`, `false` or `null`: its bytes.
    fn scalar_token(&mut self) -> Result<&str, Bad> {
        self.peek();
        let start = self.i;
        let len = self.b[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.'))
            .count();
        self.i += len;
        match len {
            0 => Err(Bad),
            _ => Ok(&self.s[start..self.i]),
        }
    }

    fn scalar(&mut self) -> Result<Value, Bad> {
        if self.peek() == Some(b'"') {
            let s = self.string()?;
            return self.decoded(s).map(Value::String);
        }
        let token = self.scalar_token()?;
        Ok(match token {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            _ => {
                small_int(token).map_or_else(|| serde_json::from_str(token).map_err(|_| Bad), Ok)?
            }
        })
    }

    /// The value at trie node `n`.
    fn build(&mut self, paths: &Paths, n: usize) -> Result<Value, Bad> {
        let node = &paths.0[n];
        match self.peek().ok_or(Bad)? {
            _ if node.want == Want::Whole => {
                let start = self.i;
                self.skip()?;
                serde_json::from_str(&self.s[start..self.i]).map_err(|_| Bad)
            }
            b'{' => self.object(paths, node),
            b'[' => self.array(paths, n),
            _ => self.scalar(),
        }
    }

    /// Only the keys a path enters; the last of a repeated key wins, as in a full parse.
    fn object(&mut self, paths: &Paths, node: &Node) -> Result<Value, Bad> {
        self.i += 1;
        let mut map = Map::new();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(map));
        }
        loop {
            let raw = self.string()?;
            let child = match raw.2 {
                false => node.key(&self.s[raw.0..raw.1]),
                true => node.key(&self.decoded(raw)?),
            };
            self.eat(b':')?;
            match child {
                Some(c) => {
                    let value = self.build(paths, c)?;
                    map.insert(self.decoded(raw)?, value);
                }
                None => self.skip()?,
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(Bad),
            }
        }
    }

    /// Elements up to the last index a path names, the ones in between standing as nulls.
    /// Where a condition reads the array itself, its first [`SMALL_ARRAY`] elements are
    /// kept as values and, when it is longer, its raw text too, for `contains` to read.
    fn array(&mut self, paths: &Paths, n: usize) -> Result<Value, Bad> {
        let node = &paths.0[n];
        let searched = node.want != Want::Through;
        let start = self.i;
        self.i += 1;
        let reach = node.indices.last().map_or(0, |(i, _)| i + 1);
        let (mut items, mut long) = (Vec::new(), false);
        let mut next = node.indices.iter().peekable();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        for k in 0.. {
            long |= searched && k == SMALL_ARRAY;
            match next.peek() {
                Some(&&(i, child)) if i == k => {
                    next.next();
                    items.push(self.build(paths, child)?);
                }
                _ if searched && k < SMALL_ARRAY => items.push(self.element()?),
                _ if k < reach => {
                    self.skip()?;
                    items.push(Value::Null);
                }
                // Nothing reads further: the rest goes in one jump.
                _ => {
                    self.close(1)?;
                    break;
                }
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(Bad),
            }
        }
        if long {
            self.raw.push((n, start, self.i));
        }
        Ok(Value::Array(items))
    }

    /// An element `contains` compares with a scalar: containers never equal one.
    fn element(&mut self) -> Result<Value, Bad> {
        match self.peek() {
            Some(b'{' | b'[') => self.skip().map(|()| Value::Object(Map::new())),
            _ => self.scalar(),
        }
    }
}

/// A plain integer that fits, as a full parse makes it (`-0` and the rest go to serde).
fn small_int(token: &str) -> Option<Value> {
    let (neg, digits) = match token.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, token),
    };
    let ok = (1..=18).contains(&digits.len())
        && digits.bytes().all(|c| c.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !ok || (neg && digits == "0") {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    Some(match neg {
        true => Value::from(-n),
        false => Value::from(n as u64),
    })
}

/// How many bytes from the start are none of `"`, `[`, `]`, `{`, `}`, eight at a time.
fn plain_run(b: &[u8]) -> usize {
    let mut at = 0;
    for chunk in b.chunks_exact(8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // `[`/`{` and `]`/`}` differ only in bit 5: fold them together first.
        let folded = x & !(ONES * 0x20);
        let hit = has(x, b'"') | has(folded, b'[') | has(folded, b']');
        if hit != 0 {
            return at + hit.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    at + b[at..]
        .iter()
        .take_while(|c| !matches!(c, b'"' | b'[' | b']' | b'{' | b'}'))
        .count()
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte of `x` that equals `c`, exact for the first such byte.
fn has(x: u64, c: u8) -> u64 {
    let y = x ^ (ONES * u64::from(c));
    y.wrapping_sub(ONES) & !y & (ONES * 0x80)
}

/// The brackets of 64 bytes that lie outside strings, one bit a byte, found eight bytes
/// at a time. Only for a block that starts outside a string, holds no backslash and ends
/// outside a string (an even number of quotes): then every quote opens or closes one.
struct Block {
    open: u64,
    close: u64,
}

impl Block {
    fn of(b: &[u8]) -> Option<Block> {
        let (mut quote, mut open, mut close) = (0u64, 0u64, 0u64);
        for (k, chunk) in b.chunks_exact(8).enumerate() {
            let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            if eq(x, b'\\') != 0 {
                return None;
            }
            // `[`/`{` and `]`/`}` differ only in bit 5: fold them together first.
            let folded = x & !(ONES * 0x20);
            quote |= bits(eq(x, b'"')) << (8 * k);
            open |= bits(eq(folded, b'[')) << (8 * k);
            close |= bits(eq(folded, b']')) << (8 * k);
        }
        if quote.count_ones() % 2 == 1 {
            return None;
        }
        // Bit i is set from an opening quote up to (not including) its closing one.
        let inside = prefix_xor(quote);
        Some(Block {
            open: open & !inside,
            close: close & !inside,
        })
    }

    /// Where in the block `depth` (open containers, the one about to open not yet
    /// counted) comes down to zero, if it does; `depth` is updated either way.
    fn close(&self, depth: &mut usize) -> Option<usize> {
        if *depth > self.close.count_ones() as usize {
            *depth = *depth + self.open.count_ones() as usize - self.close.count_ones() as usize;
            return None;
        }
        let mut brackets = self.open | self.close;
        while brackets != 0 {
            let at = brackets.trailing_zeros() as usize;
            brackets &= brackets - 1;
            if self.open & (1 << at) != 0 {
                *depth += 1;
            } else {
                *depth -= 1;
                if *depth == 0 {
                    return Some(at);
                }
            }
        }
        None
    }
}

/// 0x80 in each byte of `x` that equals `c`, and in no other (no borrow crosses bytes).
fn eq(x: u64, c: u8) -> u64 {
    let y = x ^ (ONES * u64::from(c));
    let low = ONES * 0x7f;
    !(((y & low) + low) | y) & (ONES * 0x80)
}

/// The 0x80 flags of a byte mask gathered into eight bits, byte k to bit k.
fn bits(flags: u64) -> u64 {
    ((flags >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Bit i is the parity of bits 0..=i of `x`.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// Where the first `"` or `\` is, eight bytes at a time.
fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    for chunk in b.chunks_exact(8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let hit = has(x, b'"') | has(x, b'\\');
        if hit != 0 {
            return Some(at + hit.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    b[at..]
        .iter()
        .position(|c| matches!(c, b'"' | b'\\'))
        .map(|p| at + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::DEFAULT_BUDGET;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use serde_json::json;

    #[test]
    fn skipping_64_bytes_at_a_time_ends_where_one_at_a_time_does() {
        let mut rng = StdRng::seed_from_u64(7);
        for round in 0..2000 {
            // Values long enough to use whole blocks, with strings that hold brackets,
            // escapes and quotes, and that run past block boundaries.
            let mut text = format!("[{}", gen_data(&mut rng, 0));
            for _ in 0..rng.gen_range(0..20) {
                text.push(',');
                if rng.gen_range(0..3) == 0 {
                    // A string of brackets, perhaps long enough to cross a block.
                    let len = rng.gen_range(0..100);
                    let inner: String = (0..len)
                        .map(|_| b"[]{}a,:"[rng.gen_range(0..7)] as char)
                        .collect();
                    text.push_str(&format!("\"{inner}\""));
                } else {
                    let depth = rng.gen_range(0..3);
                    text.push_str(&gen_data(&mut rng, depth));
                }
            }
            text.push_str("] , 1");
            let mut fast = Pass::new(&text);
            fast.close(0)
                .unwrap_or_else(|_| panic!("round {round}: {text}"));
            let end = text.rfind(']').unwrap() + 1;
            assert_eq!(fast.i, end, "round {round}: {text}");
        }
        // And the bytes the fast path reads exactly: `#` after a quote is no quote.
        let text = format!("[\"#{}\", \"]\", {{\"k\": [1]}}]x", "[{".repeat(40));
        let mut p = Pass::new(&text);
        assert!(p.close(0).is_ok());
        assert_eq!(&text[p.i..], "x");
    }

    fn filter(v: Value) -> Filter {
        Filter::parse(&v).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    /// The decision on the selected parts and on the whole parsed data, with plenty of
    /// budget; `select` is given `also` besides `f`.
    fn both(data: &str, f: &Filter, also: &[Filter]) -> (bool, bool) {
        let whole: Value = serde_json::from_str(data).unwrap();
        let old = f.matches_value(&whole, &mut Budget::new(DEFAULT_BUDGET));
        let p = Payload::select(data, also.iter().chain([f]), []).unwrap();
        let new = f.matches(&p, &mut p.budget(DEFAULT_BUDGET));
        (new, old)
    }

    fn same(data: &str, condition: Value) {
        let (new, old) = both(data, &filter(condition.clone()), &[]);
        assert_eq!(new, old, "{condition} on {:.200}", data);
    }

    const KEYS: [&str; 5] = ["a", "b", "c", "items", "x"];
    #[rustfmt::skip]
    const NUMS: [&str; 14] = ["0", "1", "-1", "2", "1.0", "1e0", "-0", "2.5", "10", "-12",
        "18446744073709551615", "-9223372036854775808", "123456789012345678", "1234567890123456789"];
    #[rustfmt::skip]
    const STRS: [&str; 10] = [r#""a""#, r#""b""#, r#""""#, r#""ab""#, r#""\u0061""#, r#""a\"b""#,
        r#""é""#, r#""1""#, r#""ba""#, r#""a\\""#];

    fn ws(rng: &mut StdRng) -> &'static str {
        [" ", "", "", "\n\t ", ""][rng.gen_range(0..5)]
    }

    /// Random JSON text: repeated keys, escaped keys, odd numbers, whitespace.
    fn gen_data(rng: &mut StdRng, depth: usize) -> String {
        let kinds = if depth > 3 { 5 } else { 9 };
        match rng.gen_range(0..kinds) {
            0 => "null".into(),
            1 => ["true", "false"][rng.gen_range(0..2)].into(),
            2 | 3 => NUMS[rng.gen_range(0..NUMS.len())].into(),
            4 => STRS[rng.gen_range(0..STRS.len())].into(),
            5 | 6 => {
                let members: Vec<String> = (0..rng.gen_range(0..6))
                    .map(|_| {
                        let key = match rng.gen_range(0..8) {
                            0 => r#""\u0061""#.to_owned(), // "a", escaped
                            1 => r#""a b""#.to_owned(),
                            k => format!("\"{}\"", KEYS[k % KEYS.len()]),
                        };
                        let (w, v) = (ws(rng), gen_data(rng, depth + 1));
                        format!("{w}{key}{w}:{}{v}{}", ws(rng), ws(rng))
                    })
                    .collect();
                format!("{{{}}}", members.join(","))
            }
            _ => {
                let items: Vec<String> = (0..rng.gen_range(0..6))
                    .map(|_| format!("{}{}", ws(rng), gen_data(rng, depth + 1)))
                    .collect();
                format!("[{}{}]", items.join(","), ws(rng))
            }
        }
    }

    fn gen_scalar(rng: &mut StdRng) -> Value {
        let all = NUMS.iter().chain(&STRS).chain(&["true", "false", "null"]);
        let all: Vec<_> = all.collect();
        serde_json::from_str(all[rng.gen_range(0..all.len())]).unwrap()
    }

    fn gen_path(rng: &mut StdRng) -> String {
        let mut p = "$".to_owned();
        for _ in 0..rng.gen_range(0..4) {
            match rng.gen_range(0..3) {
                0 => p += &format!("[{}]", rng.gen_range(0..3)),
                _ => p += &format!(".{}", KEYS[rng.gen_range(0..KEYS.len())]),
            }
        }
        p
    }

    fn gen_filter(rng: &mut StdRng, depth: usize) -> Value {
        let kinds = if depth > 2 { 3 } else { 6 };
        match rng.gen_range(0..kinds) {
            3 | 4 => {
                let fs: Vec<Value> = (0..rng.gen_range(1..4))
                    .map(|_| gen_filter(rng, depth + 1))
                    .collect();
                json!({ ["all", "any"][rng.gen_range(0..2)]: fs })
            }
            5 => json!({"not": gen_filter(rng, depth + 1)}),
            _ => {
                let path = gen_path(rng);
                let op = [
                    "eq", "ne", "in", "contains", "exists", "gt", "gte", "lt", "lte",
                ][rng.gen_range(0..9)];
                let mut value = gen_scalar(rng);
                match op {
                    "in" => value = (0..rng.gen_range(1..4)).map(|_| gen_scalar(rng)).collect(),
                    "exists" if rng.gen() => return json!({"path": path, "op": op}),
                    "exists" => value = json!(rng.gen::<bool>()),
                    "gt" | "gte" | "lt" | "lte" if !value.is_number() && !value.is_string() => {
                        value = json!(1)
                    }
                    _ => {}
                }
                json!({"path": path, "op": op, "value": value})
            }
        }
    }

    #[test]
    fn selected_parts_decide_as_the_whole_payload_does() {
        let mut rng = StdRng::seed_from_u64(22);
        let mut matched = 0;
        for round in 0..3000 {
            // Mostly objects, as events have; other roots too.
            let mut data = gen_data(&mut rng, 0);
            if round % 4 != 0 && !data.starts_with('{') {
                data = format!(r#"{{"a":{data},"items":[{data},1,"a"]}}"#);
            }
            let filters: Vec<Filter> = (0..4).map(|_| filter(gen_filter(&mut rng, 0))).collect();
            let p = Payload::select(&data, &filters, []).unwrap();
            let whole: Value = serde_json::from_str(&data).unwrap();
            for f in &filters {
                let old = f.matches_value(&whole, &mut Budget::new(DEFAULT_BUDGET));
                let new = f.matches(&p, &mut p.budget(DEFAULT_BUDGET));
                assert_eq!(new, old, "{} on {data}", serde_json::to_string(f).unwrap());
                matched += usize::from(new);
            }
        }
        // The generator makes both answers often enough for the comparison to mean much.
        assert!(
            (2000..10000).contains(&matched),
            "{matched} of 12000 matched"
        );
    }

    #[test]
    fn every_operator_on_every_kind_of_target() {
        let data = r#"{"s": "ab", "n": 2, "f": 2.5, "t": true, "z": null, "o": {"k": 1},
            "a": [1, "ab", null, {"k": 1}, [1]], "e": [], "big": 18446744073709551615,
            "neg": -3, "esc": "a\"b\u00e9"}"#;
        let paths = [
            "$.s", "$.n", "$.f", "$.t", "$.z", "$.o", "$.a", "$.e", "$.big",
        ];
        let paths = paths
            .iter()
            .chain(&["$.neg", "$.esc", "$.none", "$", "$.a[3].k"]);
        #[rustfmt::skip]
        let values = [json!("ab"), json!("a"), json!(2), json!(2.0), json!(2.5), json!(1),
            json!(true), json!(null), json!(-3), json!(18446744073709551615u64),
            json!("a\"bé"), json!("b")];
        for path in paths {
            for op in ["eq", "ne", "contains", "gt", "gte", "lt", "lte"] {
                for v in &values {
                    if op.starts_with(['g', 'l']) && !(v.is_number() || v.is_string()) {
                        continue;
                    }
                    same(data, json!({"path": path, "op": op, "value": v}));
                }
            }
            same(data, json!({"path": path, "op": "in", "value": values}));
            same(data, json!({"path": path, "op": "exists"}));
            same(data, json!({"path": path, "op": "exists", "value": false}));
        }
    }

    #[test]
    fn arrays_and_strings_past_what_contains_scans_stay_exact() {
        let mut items: Vec<Value> = vec![json!({"k": 0}); MAX_CONTAINS_ITEMS - 1];
        items.extend([json!(7), json!("late"), json!({"k": "deep"}), json!(9)]);
        let long = "é".repeat(40_000) + "late"; // past 64 KiB, cut inside a character
        let data = json!({"items": items, "text": long}).to_string();
        let last = MAX_CONTAINS_ITEMS - 1;
        #[rustfmt::skip]
        let conditions = [
            json!({"path": "$.items", "op": "contains", "value": 7}),
            json!({"path": "$.items", "op": "contains", "value": "late"}),
            json!({"path": "$.items", "op": "contains", "value": 0}),
            json!({"path": format!("$.items[{last}]"), "op": "eq", "value": 7}),
            json!({"path": format!("$.items[{}]", last + 1), "op": "eq", "value": "late"}),
            json!({"path": format!("$.items[{}].k", last + 2), "op": "eq", "value": "deep"}),
            json!({"path": format!("$.items[{}]", last + 3), "op": "gte", "value": 9}),
            json!({"path": format!("$.items[{}]", last + 4), "op": "exists", "value": false}),
            json!({"path": "$.items[0].k", "op": "eq", "value": 0}),
            json!({"path": "$.items[0]", "op": "eq", "value": 0}),
            json!({"path": "$.text", "op": "contains", "value": "late"}),
            json!({"path": "$.text", "op": "contains", "value": "éé"}),
            json!({"path": "$.text", "op": "eq", "value": long}),
            json!({"path": "$.text", "op": "eq", "value": "é".repeat(40_000)}),
            json!({"path": "$.text", "op": "gt", "value": "é".repeat(40_000)}),
            json!({"path": "$.text", "op": "lt", "value": "é".repeat(40_000) + "m"}),
            json!({"path": "$.text", "op": "in", "value": ["x", long]}),
        ];
        // Alone, and all selected together (a target array with index paths into it).
        let all: Vec<Filter> = conditions.iter().cloned().map(filter).collect();
        let mut answers = Vec::new();
        for c in &conditions {
            let (new, old) = both(&data, &filter(c.clone()), &[]);
            assert_eq!(new, old, "{c}");
            let (new, old) = both(&data, &filter(c.clone()), &all);
            assert_eq!(new, old, "{c} among all");
            answers.push(new);
        }
        #[rustfmt::skip]
        let want = [true, false, false, true, true, true, true, true, true, false, false, true,
            true, false, true, true, true];
        assert_eq!(answers, want);
    }

    #[test]
    fn missing_paths_other_roots_and_unselected_paths() {
        for data in [
            "[1, 2, {\"a\": 1}]",
            "\"a\"",
            "5",
            "null",
            "{}",
            "{\"a\": {}}",
        ] {
            for path in ["$", "$.a", "$[0]", "$[2].a", "$.a.b", "$[9]"] {
                for (op, v) in [("eq", json!(1)), ("ne", json!(1)), ("contains", json!(2))] {
                    same(data, json!({"path": path, "op": op, "value": v}));
                }
                same(data, json!({"path": path, "op": "exists"}));
                same(data, json!({"path": path, "op": "exists", "value": false}));
            }
        }
        // A filter the payload was not selected for cannot be judged: it fails closed,
        // even where an absent path would match.
        let data = r#"{"a": {"b": 1}}"#;
        let p = Payload::select(
            data,
            [&filter(json!({"path": "$.a.b", "op": "eq", "value": 1}))],
            [],
        )
        .unwrap();
        for other in [
            json!({"path": "$.c", "op": "ne", "value": 1}),
            json!({"path": "$.a", "op": "exists", "value": false}),
            json!({"not": {"path": "$.a.c", "op": "eq", "value": 1}}),
        ] {
            assert!(
                !filter(other.clone()).matches(&p, &mut p.budget(DEFAULT_BUDGET)),
                "{other}"
            );
        }
        // Not JSON, or not only JSON.
        let f = filter(json!({"path": "$.a", "op": "exists"}));
        for bad in [
            "",
            "{",
            "{\"a\":}",
            "{\"a\" 1}",
            r#"{"a":1,}"#,
            "{\"a\":1} x",
            "{\"a\":\"x}",
            "tru",
        ] {
            assert!(Payload::select(bad, [&f], []).is_none(), "{bad}");
        }
    }

    #[test]
    fn ordering_keys_are_selected_whole() {
        let data = json!({"t": {"id": {"n": [1, 2, {"deep": true}]}, "x": "y"},
            "items": (0..MAX_CONTAINS_ITEMS + 5).collect::<Vec<_>>()})
        .to_string();
        let whole: Value = serde_json::from_str(&data).unwrap();
        let contains = filter(json!({"path": "$.items", "op": "contains", "value": 3}));
        let through = filter(json!({"path": "$.t.id.n[1]", "op": "eq", "value": 2}));
        for key in ["$.t.id", "$.t", "$.items", "$.t.id.n[2]", "$.none", "$"] {
            let key = Path::parse(key, "key").unwrap();
            let p = Payload::select(&data, [&contains, &through], [&key]).unwrap();
            assert_eq!(key.lookup(p.value()), key.lookup(&whole), "{key}");
            for f in [&contains, &through] {
                assert!(f.matches(&p, &mut p.budget(DEFAULT_BUDGET)));
            }
        }
    }

    #[test]
    fn an_array_contains_searches_is_kept_as_text_and_read_within_the_budget() {
        let data = json!({"items": (0..20_000).collect::<Vec<u32>>()}).to_string();
        let last = MAX_CONTAINS_ITEMS - 1;
        let f = filter(json!({"path": "$.items", "op": "contains", "value": last}));
        let p = Payload::select(&data, [&f], []).unwrap();
        let kept = p.value()["items"].as_array().unwrap().len();
        assert_eq!(kept, SMALL_ARRAY, "the rest is not built by the pass");
        // The last element `contains` looks at, paid for element by element.
        let mut budget = p.budget(DEFAULT_BUDGET);
        let left = budget.left();
        assert!(f.matches(&p, &mut budget));
        let spent = left - budget.left();
        assert!(
            spent > MAX_CONTAINS_ITEMS as u64 * budget::ELEMENT,
            "{spent}"
        );
        // Past it, not found whatever the budget.
        let past = filter(json!({"path": "$.items", "op": "contains", "value": last + 1}));
        assert!(!past.matches(&p, &mut p.budget(u64::MAX)));
        // A budget that runs out before the element fails closed.
        let mut short = p.budget(budget::pass(data.len()) + spent / 2);
        assert!(!f.matches(&p, &mut short));
        assert!(short.exhausted());
    }

    #[test]
    fn the_pass_is_paid_by_the_byte_before_any_filter() {
        let data = json!({"items": vec![0; 1000]}).to_string();
        let f = filter(json!({"path": "$.items", "op": "contains", "value": -1}));
        let p = Payload::select(&data, [&f], []).unwrap();
        let budget = p.budget(DEFAULT_BUDGET);
        assert_eq!(DEFAULT_BUDGET - budget.left(), budget::pass(data.len()));
        // Too little for the pass: every filter fails closed, even one that would match.
        let mut short = p.budget(budget::pass(data.len()) - 1);
        assert!(short.exhausted());
        let yes = filter(json!({"path": "$.items", "op": "exists"}));
        let p = Payload::select(&data, [&f, &yes], []).unwrap();
        assert!(!yes.matches(&p, &mut short));
        assert!(yes.matches(&p, &mut p.budget(DEFAULT_BUDGET)));
    }
}
