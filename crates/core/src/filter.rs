//! Smart rules: a hook's optional `filter` decides, from an event's `data`, whether the
//! hook gets the event. Parsed and validated once when the hook is saved; evaluation walks
//! the parts of the data the event's filters read ([`Payload`], one pass over the raw
//! bytes per event) by pre-parsed segments and does not allocate.
//!
//! Grammar (a public API contract):
//!
//! ```text
//! filter    = condition | {"all": [filter, ...]} | {"any": [filter, ...]} | {"not": filter}
//! condition = {"path": PATH, "op": OP, "value": VALUE}
//! PATH      = "$" ( "." name | "[" N "]" )*    name: 1..=64 of [A-Za-z0-9_-]; at most 16 segments
//! OP        = eq | ne | in | contains | exists | gt | gte | lt | lte
//! ```
//!
//! - `eq`/`ne`: a scalar (string, number, bool, null); numbers compare numerically (1 == 1.0),
//!   other types never equal each other.
//! - `in`: 1..=100 scalars. `contains`: a scalar; a string target matches a substring
//!   within its first 64 KiB, an array target an equal element among its first 10,000.
//! - `exists`: optional boolean `value` (default true; false means "absent"). `null` exists.
//! - `gt`/`gte`/`lt`/`lte`: a number or a string; strings compare bytewise (ISO timestamps
//!   sort right), a number against a string is false.
//! - A missing path makes every op false except `ne` and `exists: false`.
//! - `all`/`any` hold 1..=50 filters; at most 8 nested combinators; at most 100 conditions.
//! - Evaluation is paid for from the event's [`Budget`]; a filter that runs out of it
//!   does not match (fails closed).
//!
//! ```json
//! {"all": [{"path": "$.ticket.priority", "op": "in", "value": ["high", "urgent"]},
//!          {"not": {"path": "$.ticket.tags[0]", "op": "eq", "value": "spam"}}]}
//! ```

use std::cmp::Ordering::{self, Greater, Less};
use std::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Number, Value};

mod budget;
mod select;
pub use budget::{Budget, DEFAULT_UNITS as DEFAULT_BUDGET};
pub use select::Payload;

pub const MAX_SEGMENTS: usize = 16;
pub const MAX_NAME_LEN: usize = 64;
pub const MAX_IN_VALUES: usize = 100;
pub const MAX_LIST: usize = 50;
pub const MAX_DEPTH: usize = 8;
pub const MAX_CONDITIONS: usize = 100;
/// `contains` looks at most at this many elements of an array target...
pub const MAX_CONTAINS_ITEMS: usize = 10_000;
/// ...and at this many bytes of a string target (cut back to a character boundary).
pub const MAX_CONTAINS_BYTES: usize = 64 << 10;

const OPS: [&str; 9] = [
    "eq", "ne", "in", "contains", "exists", "gt", "gte", "lt", "lte",
];
const COMBINATORS: [&str; 3] = ["all", "any", "not"];
const FIELDS: [&str; 3] = ["path", "op", "value"];
const SHAPE: &str = "a condition {path, op, value} or one of all, any, not";
const SCALAR: &str = "string, number, boolean or null";

/// Why a filter was refused: `at` locates the bad part, e.g. `filter.all[1].op`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct FilterError {
    pub at: String,
    pub message: String,
}

macro_rules! bail {
    ($at:expr, $($msg:tt)+) => {
        return Err(FilterError { at: $at.to_string(), message: format!($($msg)+) })
    };
}

/// A parsed, validated filter. Built by hand, an empty `All` matches everything and an
/// empty `Any` nothing; `parse` never produces either.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Not(Box<Filter>),
    Condition(Condition),
}

/// One `{path, op, value}`; fields are private so only `Filter::parse` makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    path: Path,
    test: Test,
}

/// A JSON path into an event's data: `$.ticket.id`, `$.items[0].sku`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path(Vec<Segment>);

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// The op with a value already checked to have the right shape.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Contains(Value),
    Exists(bool),
    /// The target compared with the bound must give the ordering, or Equal when the bool
    /// is set: gt (Greater, false), gte (Greater, true), lt (Less, false), lte (Less, true).
    Cmp(Ordering, bool, Value),
}

impl Filter {
    /// Parses and validates a filter as the client gave it.
    pub fn parse(value: &Value) -> Result<Filter, FilterError> {
        parse_node(value, "filter", 0, &mut 0)
    }

    /// Whether the event's `data`, as selected for its hooks' filters (this one among
    /// them), passes, paid for from the event's budget (see [`Payload::budget`]). False
    /// once the budget has run out: an event a filter could not finish judging is kept
    /// out. The hot path: no allocation.
    pub fn matches(&self, payload: &Payload, budget: &mut Budget) -> bool {
        self.eval(payload, budget).unwrap_or(false)
    }

    /// [`Filter::matches`] against the whole data parsed: the reference the selected form
    /// is checked against (it needs a full parse, which a hostile event makes slow).
    pub fn matches_value(&self, payload: &Value, budget: &mut Budget) -> bool {
        self.eval(payload, budget).unwrap_or(false)
    }

    /// Calls `f` with the path of every condition.
    fn each_path<'a>(&'a self, f: &mut impl FnMut(&'a Path)) {
        match self {
            Filter::All(fs) | Filter::Any(fs) => fs.iter().for_each(|x| x.each_path(f)),
            Filter::Not(x) => x.each_path(f),
            Filter::Condition(c) => f(&c.path),
        }
    }

    /// `None` when the budget ran out, which `not` keeps (it must not turn into a match).
    fn eval(&self, payload: &impl Data, budget: &mut Budget) -> Option<bool> {
        budget.spend(budget::NODE)?;
        match self {
            Filter::All(fs) => {
                for f in fs {
                    if !f.eval(payload, budget)? {
                        return Some(false);
                    }
                }
                Some(true)
            }
            Filter::Any(fs) => {
                for f in fs {
                    if f.eval(payload, budget)? {
                        return Some(true);
                    }
                }
                Some(false)
            }
            Filter::Not(f) => f.eval(payload, budget).map(|m| !m),
            Filter::Condition(c) => c.eval(payload, budget),
        }
    }
}

/// Where conditions find their targets: the selected parts, or a whole parsed payload.
trait Data {
    /// `None` when the budget ran out (or the path cannot be judged), `Some(None)` when
    /// the path is absent; an array may come with its raw text, for `contains` to read.
    fn at(&self, path: &Path, budget: &mut Budget) -> Option<Option<(&Value, Option<&str>)>>;
}

impl Data for Payload {
    fn at(&self, path: &Path, budget: &mut Budget) -> Option<Option<(&Value, Option<&str>)>> {
        self.lookup_within(path, budget)
    }
}

impl Data for Value {
    fn at(&self, path: &Path, budget: &mut Budget) -> Option<Option<(&Value, Option<&str>)>> {
        Some(path.lookup_within(self, budget)?.map(|v| (v, None)))
    }
}

impl Condition {
    fn eval(&self, payload: &impl Data, budget: &mut Budget) -> Option<bool> {
        let Some((target, raw)) = payload.at(&self.path, budget)? else {
            // Absent: only "is not equal" and "is absent" hold.
            return Some(matches!(self.test, Test::Ne(_) | Test::Exists(false)));
        };
        let mut eq = |a: &Value, b: &Value| {
            budget.spend(budget::compare(a, b))?;
            Some(scalar_eq(a, b))
        };
        Some(match &self.test {
            Test::Eq(v) => eq(target, v)?,
            Test::Ne(v) => !eq(target, v)?,
            Test::In(vs) => {
                for v in vs {
                    if eq(target, v)? {
                        return Some(true);
                    }
                }
                false
            }
            Test::Contains(v) => match (target, raw, v) {
                (Value::String(s), _, Value::String(sub)) => {
                    let s = prefix(s, MAX_CONTAINS_BYTES);
                    budget.spend(budget::search(s.len(), sub.len()))?;
                    s.contains(sub.as_str())
                }
                (Value::Array(_), Some(text), _) => select::raw_contains(text, v, budget)?,
                (Value::Array(items), None, _) => {
                    for i in items.iter().take(MAX_CONTAINS_ITEMS) {
                        if eq(i, v)? {
                            return Some(true);
                        }
                    }
                    false
                }
                _ => false,
            },
            Test::Exists(want) => *want,
            Test::Cmp(want, or_equal, bound) => {
                budget.spend(budget::compare(target, bound))?;
                let ord = match (target, bound) {
                    (Value::Number(a), Value::Number(b)) => num_cmp(a, b),
                    (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
                    _ => None, // mixed types never compare
                };
                ord.is_some_and(|o| o == *want || (*or_equal && o.is_eq()))
            }
        })
    }
}

/// The first `max` bytes of `s` at most, cut back to a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let cut = (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    &s[..cut]
}

impl Test {
    fn op(&self) -> &'static str {
        match self {
            Test::Eq(_) => "eq",
            Test::Ne(_) => "ne",
            Test::In(_) => "in",
            Test::Contains(_) => "contains",
            Test::Exists(_) => "exists",
            Test::Cmp(Greater, false, _) => "gt",
            Test::Cmp(Greater, true, _) => "gte",
            Test::Cmp(_, false, _) => "lt",
            Test::Cmp(_, true, _) => "lte",
        }
    }
}

impl Path {
    /// Parses a path as the filters take it; `at` names it in the error.
    pub fn parse(s: &str, at: &str) -> Result<Path, FilterError> {
        parse_path(s, at)
    }

    /// `Value::get` yields None for a key on a non-object or an index on a non-array.
    pub fn lookup<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.0.iter().try_fold(root, |v, seg| match seg {
            Segment::Key(k) => v.get(k.as_str()),
            Segment::Index(i) => v.get(*i),
        })
    }

    /// [`Path::lookup`] paid for from `budget`: `None` when it ran out, `Some(None)` when
    /// the path is absent.
    fn lookup_within<'v>(&self, root: &'v Value, budget: &mut Budget) -> Option<Option<&'v Value>> {
        let mut v = root;
        for seg in &self.0 {
            let next = match (seg, v) {
                (Segment::Key(k), Value::Object(m)) => {
                    budget.spend(budget::probe(m.len()))?;
                    m.get(k.as_str())
                }
                (Segment::Index(i), Value::Array(a)) => {
                    budget.spend(budget::INDEX)?;
                    a.get(*i)
                }
                _ => None,
            };
            match next {
                Some(next) => v = next,
                None => return Some(None),
            }
        }
        Some(Some(v))
    }
}

/// Same JSON type and equal; numbers numerically. Arrays and objects never equal a scalar.
fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y) == Some(Ordering::Equal),
        _ => false,
    }
}

/// Exact for two integers of the same kind; f64 once a float or a u64/i64 mix is involved.
fn num_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// `depth` counts the combinators around `v`; `conds` the conditions seen so far.
fn parse_node(v: &Value, at: &str, depth: usize, conds: &mut usize) -> Result<Filter, FilterError> {
    let Value::Object(obj) = v else {
        bail!(at, "must be an object: {SHAPE}");
    };
    let Some(kind) = obj.keys().find(|k| COMBINATORS.contains(&k.as_str())) else {
        return parse_condition(obj, at, conds).map(Filter::Condition);
    };
    if obj.len() != 1 {
        let keys: Vec<_> = obj.keys().collect();
        bail!(at, "a combinator takes exactly one key, found {keys:?}");
    }
    if depth == MAX_DEPTH {
        bail!(at, "nested deeper than {MAX_DEPTH} levels of all/any/not");
    }
    let (inner, at) = (&obj[kind.as_str()], format!("{at}.{kind}"));
    let mut node = |v: &Value, at: &str| parse_node(v, at, depth + 1, conds);
    if kind == "not" {
        return Ok(Filter::Not(Box::new(node(inner, &at)?)));
    }
    let items = match inner {
        Value::Array(items) if (1..=MAX_LIST).contains(&items.len()) => items,
        _ => bail!(at, "must be an array of 1 to {MAX_LIST} filters"),
    };
    let list = items.iter().enumerate();
    let list = list.map(|(i, f)| node(f, &format!("{at}[{i}]")));
    let make = if kind == "all" {
        Filter::All
    } else {
        Filter::Any
    };
    Ok(make(list.collect::<Result<_, _>>()?))
}

fn parse_condition(
    obj: &Map<String, Value>,
    at: &str,
    conds: &mut usize,
) -> Result<Condition, FilterError> {
    if obj.is_empty() {
        bail!(at, "is empty: expected {SHAPE}");
    }
    // Unknown keys first, so a typo such as "values" is named, not "value is required".
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        bail!(at, "unknown key {k:?} (use path, op, value)");
    }
    *conds += 1;
    if *conds > MAX_CONDITIONS {
        bail!(at, "more than {MAX_CONDITIONS} conditions");
    }
    let at_path = format!("{at}.path");
    let path = match obj.get("path") {
        Some(Value::String(s)) => parse_path(s, &at_path)?,
        Some(_) => bail!(at_path, "must be a string"),
        None => bail!(at_path, "is required"),
    };
    let (at_op, ops) = (format!("{at}.op"), OPS.join(", "));
    let op = match obj.get("op") {
        Some(Value::String(s)) if OPS.contains(&s.as_str()) => s.as_str(),
        Some(Value::String(s)) => bail!(at_op, "unknown operator {s:?} (use {ops})"),
        Some(_) => bail!(at_op, "must be a string (one of {ops})"),
        None => bail!(at_op, "is required (one of {ops})"),
    };
    let at_v = format!("{at}.value");
    let test = match (op, obj.get("value")) {
        ("exists", None) => Test::Exists(true),
        ("exists", Some(Value::Bool(b))) => Test::Exists(*b),
        ("exists", Some(_)) => bail!(at_v, "must be true or false for \"exists\""),
        (_, None) => bail!(at_v, "is required for {op:?}"),
        ("in", Some(Value::Array(vs))) if (1..=MAX_IN_VALUES).contains(&vs.len()) => {
            if let Some(i) = vs.iter().position(|v| !is_scalar(v)) {
                bail!(format!("{at_v}[{i}]"), "must be a {SCALAR}");
            }
            Test::In(vs.clone())
        }
        ("in", _) => bail!(at_v, "must be an array of 1 to {MAX_IN_VALUES} scalars"),
        ("gt" | "gte" | "lt" | "lte", Some(v)) => match v {
            Value::Number(_) | Value::String(_) => {
                let want = if op.starts_with('g') { Greater } else { Less };
                Test::Cmp(want, op.ends_with('e'), v.clone())
            }
            _ => bail!(at_v, "must be a number or a string for {op:?}"),
        },
        (_, Some(v)) if !is_scalar(v) => bail!(at_v, "must be a {SCALAR} for {op:?}"),
        ("eq", Some(v)) => Test::Eq(v.clone()),
        ("ne", Some(v)) => Test::Ne(v.clone()),
        (_, Some(v)) => Test::Contains(v.clone()), // the only op left
    };
    Ok(Condition { path, test })
}

/// `$`, then `.name` / `[N]` segments. Strict (no leading zeros, nothing else), so the
/// canonical form written back is the client's own text.
fn parse_path(s: &str, at: &str) -> Result<Path, FilterError> {
    let Some(rest) = s.strip_prefix('$') else {
        bail!(at, "must start with \"$\"");
    };
    let b = rest.as_bytes();
    let (mut segs, mut i) = (Vec::new(), 0);
    while i < b.len() {
        if segs.len() == MAX_SEGMENTS {
            bail!(at, "has more than {MAX_SEGMENTS} segments");
        }
        let pos = i + 1; // where this segment starts in `s`
        let run = |ok: fn(&u8) -> bool| b[i + 1..].iter().take_while(|c| ok(c)).count();
        match b[i] {
            b'.' => {
                let len = run(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'));
                if !(1..=MAX_NAME_LEN).contains(&len) {
                    let want = format!("1 to {MAX_NAME_LEN} of A-Z a-z 0-9 _ -");
                    bail!(at, "bad name after {:?}: use {want}", &s[..pos]);
                }
                segs.push(Segment::Key(rest[i + 1..i + 1 + len].to_owned()));
                i += 1 + len;
            }
            b'[' => {
                let end = i + 1 + run(u8::is_ascii_digit);
                let digits = &rest[i + 1..end];
                let canonical = digits == "0" || !digits.starts_with('0');
                match digits.parse() {
                    Ok(n) if canonical && b.get(end) == Some(&b']') => {
                        segs.push(Segment::Index(n));
                        i = end + 1;
                    }
                    _ => bail!(at, "bad index after {:?}: use [0], [1], ...", &s[..pos]),
                }
            }
            _ => {
                let c = rest[i..].chars().next().unwrap_or_default();
                bail!(at, "unexpected {c:?} after {:?}", &s[..pos]);
            }
        }
    }
    Ok(Path(segs))
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        self.0.iter().try_for_each(|seg| match seg {
            Segment::Key(k) => write!(f, ".{k}"),
            Segment::Index(i) => write!(f, "[{i}]"),
        })
    }
}

/// The canonical JSON form: keys path, op, value; `exists` drops its default `value: true`.
impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            Filter::All(fs) => m.serialize_entry("all", fs)?,
            Filter::Any(fs) => m.serialize_entry("any", fs)?,
            Filter::Not(f) => m.serialize_entry("not", f)?,
            Filter::Condition(Condition { path, test }) => {
                m.serialize_entry("path", &path.to_string())?;
                m.serialize_entry("op", test.op())?;
                match test {
                    Test::Eq(v) | Test::Ne(v) | Test::Contains(v) | Test::Cmp(_, _, v) => {
                        m.serialize_entry("value", v)?
                    }
                    Test::In(vs) => m.serialize_entry("value", vs)?,
                    Test::Exists(want) if !want => m.serialize_entry("value", &false)?,
                    Test::Exists(_) => {}
                }
            }
        }
        m.end()
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Result<Filter, FilterError> {
        Filter::parse(&serde_json::from_str(s).unwrap())
    }

    #[test]
    fn rules_match_payloads() {
        let a = json!({"ticket": {"id": 42, "priority": "high", "score": 7.5,
            "tags": ["vip", "billing", 3], "assignee": null, "closed": false,
            "created_at": "2026-03-01T10:00:00Z", "subject": "Refund request"},
            "items": [{"sku": "a-1", "qty": 2}, {"sku": "b-2", "qty": 1}], "big": u64::MAX});
        // Same shape, other types: id and tags are strings; fields and items are missing.
        let b = json!({"ticket": {"id": "42", "priority": "low", "tags": "vip customer",
            "created_at": "2025-12-31T23:59:59Z"}, "items": []});
        let (raw_a, raw_b) = (a.to_string(), b.to_string());
        // (rule, matches a, matches b)
        #[rustfmt::skip]
        let rows: &[(&str, bool, bool)] = &[
            (r#"{"path":"$.ticket.priority","op":"eq","value":"high"}"#, true, false),
            (r#"{"path":"$.ticket.id","op":"eq","value":42}"#, true, false),
            (r#"{"path":"$.ticket.id","op":"eq","value":42.0}"#, true, false),
            (r#"{"path":"$.ticket.id","op":"eq","value":"42"}"#, false, true),
            (r#"{"path":"$.ticket.assignee","op":"eq","value":null}"#, true, false),
            (r#"{"path":"$.ticket.closed","op":"eq","value":false}"#, true, false),
            (r#"{"path":"$.items[0].sku","op":"eq","value":"a-1"}"#, true, false),
            (r#"{"path":"$.items[1].qty","op":"eq","value":1}"#, true, false),
            (r#"{"path":"$.items.sku","op":"eq","value":"a-1"}"#, false, false),
            (r#"{"path":"$.ticket[0]","op":"eq","value":42}"#, false, false),
            (r#"{"path":"$.ticket","op":"eq","value":null}"#, false, false),
            (r#"{"path":"$.ticket.priority","op":"ne","value":"high"}"#, false, true),
            (r#"{"path":"$.ticket.assignee","op":"ne","value":"bob"}"#, true, true),
            (r#"{"path":"$.ticket.id","op":"ne","value":42}"#, false, true),
            (r#"{"path":"$.ticket.priority","op":"in","value":["high","urgent"]}"#, true, false),
            (r#"{"path":"$.ticket.id","op":"in","value":["42",43]}"#, false, true),
            (r#"{"path":"$.ticket.id","op":"in","value":[41,42.0]}"#, true, false),
            (r#"{"path":"$.nope","op":"in","value":[null]}"#, false, false),
            (r#"{"path":"$.ticket.tags","op":"contains","value":"vip"}"#, true, true),
            (r#"{"path":"$.ticket.tags","op":"contains","value":3}"#, true, false),
            (r#"{"path":"$.ticket.tags","op":"contains","value":"bill"}"#, false, false),
            (r#"{"path":"$.ticket.subject","op":"contains","value":"Refund"}"#, true, false),
            (r#"{"path":"$.ticket.id","op":"contains","value":"4"}"#, false, true),
            (r#"{"path":"$.ticket.assignee","op":"exists"}"#, true, false),
            (r#"{"path":"$.ticket.assignee","op":"exists","value":false}"#, false, true),
            (r#"{"path":"$.items[1]","op":"exists","value":true}"#, true, false),
            (r#"{"path":"$","op":"exists"}"#, true, true),
            (r#"{"path":"$.ticket.score","op":"gt","value":7}"#, true, false),
            (r#"{"path":"$.ticket.score","op":"gte","value":7.5}"#, true, false),
            (r#"{"path":"$.ticket.score","op":"lt","value":7.5}"#, false, false),
            (r#"{"path":"$.ticket.score","op":"lte","value":7.5}"#, true, false),
            (r#"{"path":"$.ticket.id","op":"gte","value":42}"#, true, false),
            (r#"{"path":"$.ticket.id","op":"lt","value":"5"}"#, false, true),
            (r#"{"path":"$.ticket.created_at","op":"gte","value":"2026-01-01T00:00:00Z"}"#, true, false),
            (r#"{"path":"$.ticket.created_at","op":"lt","value":"2026-01-01"}"#, false, true),
            (r#"{"path":"$.items[0].qty","op":"gt","value":1}"#, true, false),
            (r#"{"path":"$.big","op":"gt","value":-1}"#, true, false),
            (r#"{"path":"$.big","op":"lt","value":1.5}"#, false, false),
            (r#"{"all":[{"path":"$.ticket.score","op":"gt","value":5},{"path":"$.ticket.tags","op":"contains","value":"vip"}]}"#, true, false),
            (r#"{"all":[{"path":"$.ticket.priority","op":"eq","value":"high"},{"path":"$.ticket.id","op":"eq","value":"42"}]}"#, false, false),
            (r#"{"any":[{"path":"$.ticket.priority","op":"eq","value":"high"},{"path":"$.ticket.id","op":"eq","value":"42"}]}"#, true, true),
            (r#"{"any":[{"path":"$.ticket.priority","op":"eq","value":"urgent"},{"path":"$.nope","op":"exists"}]}"#, false, false),
            (r#"{"not":{"path":"$.ticket.priority","op":"eq","value":"high"}}"#, false, true),
            (r#"{"not":{"path":"$.nope","op":"eq","value":1}}"#, true, true),
            (r#"{"not":{"any":[{"path":"$.ticket.priority","op":"eq","value":"high"},{"path":"$.ticket.priority","op":"eq","value":"low"}]}}"#, false, false),
            (r#"{"not":{"any":[{"path":"$.ticket.priority","op":"eq","value":"urgent"},{"path":"$.ticket.assignee","op":"exists"}]}}"#, false, true),
            (r#"{"all":[{"any":[{"path":"$.items[0].qty","op":"gte","value":2},{"path":"$.ticket.id","op":"eq","value":"42"}]},{"not":{"path":"$.ticket.closed","op":"eq","value":true}}]}"#, true, true),
        ];
        for (rule, want_a, want_b) in rows {
            let f = parse(rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
            let budget = || Budget::new(DEFAULT_BUDGET);
            assert_eq!(
                f.matches_value(&a, &mut budget()),
                *want_a,
                "payload a, {rule}"
            );
            assert_eq!(
                f.matches_value(&b, &mut budget()),
                *want_b,
                "payload b, {rule}"
            );
            for (raw, want) in [(&raw_a, want_a), (&raw_b, want_b)] {
                let p = Payload::select(raw, [&f], []).unwrap();
                assert_eq!(
                    f.matches(&p, &mut p.budget(DEFAULT_BUDGET)),
                    *want,
                    "{raw}, {rule}"
                );
            }
        }
    }

    #[test]
    fn invalid_filters_name_the_bad_part() {
        let c = |v: &str| format!(r#"{{"path":"$.a","op":"eq","value":{v}}}"#);
        let path = |p: &str| format!(r#"{{"path":"{p}","op":"exists"}}"#);
        let nots = |n: usize| "{\"not\":".repeat(n) + &c("1") + &"}".repeat(n);
        let all = |n: usize| format!(r#"{{"all":[{}]}}"#, vec![c("1"); n].join(","));
        #[rustfmt::skip]
        let in_values = |n: usize| format!(r#"{{"path":"$.a","op":"in","value":[{}]}}"#, vec!["1"; n].join(","));
        let deep_at = format!("filter{}", ".not".repeat(MAX_DEPTH));
        #[rustfmt::skip]
        let rows: &[(&str, &str)] = &[
            (r#"{"path":"$.a","op":"equals","value":1}"#, "filter.op"),
            (r#"{"path":"$.a","value":1}"#, "filter.op"),
            (r#"{"path":"$.a","op":5,"value":1}"#, "filter.op"),
            (r#"{"op":"eq","value":1}"#, "filter.path"),
            (r#"{"path":7,"op":"exists"}"#, "filter.path"),
            (r#"{"path":"$.a","op":"eq"}"#, "filter.value"),
            (r#"{"path":"$.a","op":"gt"}"#, "filter.value"),
            (&c("[1]"), "filter.value"),
            (&c(r#"{"a":1}"#), "filter.value"),
            (r#"{"path":"$.a","op":"contains","value":[1]}"#, "filter.value"),
            (r#"{"path":"$.a","op":"exists","value":"yes"}"#, "filter.value"),
            (r#"{"path":"$.a","op":"in","value":"high"}"#, "filter.value"),
            (r#"{"path":"$.a","op":"in","value":[]}"#, "filter.value"),
            (r#"{"path":"$.a","op":"in","value":[1,[2]]}"#, "filter.value[1]"),
            (&in_values(MAX_IN_VALUES + 1), "filter.value"),
            (r#"{"path":"$.a","op":"gt","value":true}"#, "filter.value"),
            (r#"{"path":"$.a","op":"lte","value":[1]}"#, "filter.value"),
            (r#"{"path":"$.a","op":"eq","value":1,"extra":true}"#, "filter"),
            (r#"{"all":[]}"#, "filter.all"),
            (r#"{"any":"x"}"#, "filter.any"),
            (&all(MAX_LIST + 1), "filter.all"),
            (r#"{"all":[{"path":"$","op":"exists"}],"any":[{"path":"$","op":"exists"}]}"#, "filter"),
            (r#"{"not":{"path":"$.a","op":"exists"},"path":"$"}"#, "filter"),
            (r#"{"not":1}"#, "filter.not"),
            (r#"{"any":[{"path":"$.a","op":"exists"},{}]}"#, "filter.any[1]"),
            ("[]", "filter"),
            (&nots(MAX_DEPTH + 1), &deep_at),
            (&format!(r#"{{"all":[{},{},{}]}}"#, all(50), all(50), c("1")), "filter.all[2]"),
        ];
        for (rule, at) in rows {
            let e = parse(rule).expect_err(rule);
            assert_eq!(e.at, *at, "{rule}: {e}");
        }
        let (long_name, long_path) = (
            format!("$.{}", "x".repeat(65)),
            format!("${}", ".a".repeat(17)),
        );
        #[rustfmt::skip]
        let bad_paths = ["a.b", "$.a..b", "$.a.", "$.a[-1]", "$.a[01]", "$.a[1", "$[x]", "$.a b", "$.é",
            "$a", &long_name, &long_path];
        for p in bad_paths {
            assert_eq!(parse(&path(p)).expect_err(p).at, "filter.path", "{p}");
        }
        let e =
            parse(r#"{"all":[{"path":"$","op":"exists"},{"path":"$.a","op":"equals","value":1}]}"#);
        let want = r#"filter.all[1].op: unknown operator "equals" (use eq, ne, in, contains, exists, gt, gte, lt, lte)"#;
        assert_eq!(e.unwrap_err().to_string(), want);
        let e = parse(r#"{"any":[{"path":"ticket.a","op":"exists"}]}"#).unwrap_err();
        assert_eq!(e.to_string(), r#"filter.any[0].path: must start with "$""#);
        // The limits themselves are accepted.
        for ok in [
            nots(MAX_DEPTH),
            format!(r#"{{"all":[{},{}]}}"#, all(50), all(50)),
            in_values(MAX_IN_VALUES),
            path(&format!("${}", "[0]".repeat(MAX_SEGMENTS))),
            path(&format!("$.{}", "x".repeat(MAX_NAME_LEN))),
        ] {
            assert!(parse(&ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_filter_that_runs_out_of_budget_fails_closed() {
        let items: Vec<u32> = (0..MAX_CONTAINS_ITEMS as u32).collect();
        let payload = json!({"items": items, "kind": "refund"});
        let heavy = parse(r#"{"path":"$.items","op":"contains","value":-1}"#).unwrap();
        // Its negation would match the event if an unfinished evaluation counted as false.
        let negated = parse(r#"{"not":{"path":"$.items","op":"contains","value":-1}}"#).unwrap();
        let light = parse(r#"{"path":"$.kind","op":"eq","value":"refund"}"#).unwrap();

        let mut plenty = Budget::new(DEFAULT_BUDGET);
        assert!(negated.matches_value(&payload, &mut plenty));
        let one_scan = DEFAULT_BUDGET - plenty.left();
        assert!(one_scan >= MAX_CONTAINS_ITEMS as u64, "{one_scan} units");

        let mut short = Budget::new(one_scan - 1);
        assert!(!negated.matches_value(&payload, &mut short));
        assert!(short.exhausted());
        // Once out, even a cheap filter that would match does not.
        assert!(!light.matches_value(&payload, &mut short));
        assert!(!heavy.matches_value(&payload, &mut short));

        // The same work costs the same units every time: decisions are reproducible.
        let mut again = Budget::new(DEFAULT_BUDGET);
        negated.matches_value(&payload, &mut again);
        assert_eq!(DEFAULT_BUDGET - again.left(), one_scan);
        assert!(light.matches_value(&payload, &mut again) && !again.exhausted());
    }

    #[test]
    fn contains_looks_only_at_the_start_of_a_huge_target() {
        let mut items = vec![json!(0); MAX_CONTAINS_ITEMS];
        items.push(json!("late"));
        let mut text = "é".repeat(MAX_CONTAINS_BYTES / 2 + 1); // cut inside a character
        text.push_str("late");
        let payload = json!({"items": items, "text": text});
        let budget = || Budget::new(DEFAULT_BUDGET);
        for path in ["$.items", "$.text"] {
            let f = parse(&format!(
                r#"{{"path":"{path}","op":"contains","value":"late"}}"#
            ));
            assert!(!f.unwrap().matches_value(&payload, &mut budget()), "{path}");
        }
        let early = json!({"items": [0, "late"], "text": "é late"});
        for path in ["$.items", "$.text"] {
            let f = parse(&format!(
                r#"{{"path":"{path}","op":"contains","value":"late"}}"#
            ));
            assert!(f.unwrap().matches_value(&early, &mut budget()), "{path}");
        }
        assert_eq!(prefix("aé", 2), "a");
        assert_eq!(prefix("aé", 3), "aé");
    }

    #[test]
    fn serialization_round_trips_in_canonical_form() {
        for rule in [
            r#"{"path":"$.ticket.priority","op":"eq","value":"high"}"#,
            r#"{"path":"$","op":"exists"}"#,
            r#"{"path":"$.a","op":"exists","value":false}"#,
            r#"{"all":[{"path":"$.items[10].qty","op":"gte","value":2.5},{"not":{"any":[{"path":"$.a-b_c","op":"in","value":[1,"x",null,true]},{"path":"$.t","op":"contains","value":"v"}]}}]}"#,
            r#"{"any":[{"path":"$.n","op":"ne","value":null},{"path":"$.s","op":"lt","value":"2026"},{"path":"$.g","op":"gt","value":0},{"path":"$.l","op":"lte","value":-3}]}"#,
        ] {
            let f = parse(rule).unwrap();
            let out = serde_json::to_value(&f).unwrap();
            assert_eq!(out, serde_json::from_str::<Value>(rule).unwrap(), "{rule}");
            assert_eq!(Filter::parse(&out).unwrap(), f, "{rule}");
        }
        // `"value": true` is the default for exists and is dropped.
        let f = parse(r#"{"path":"$.a","op":"exists","value":true}"#).unwrap();
        let want = json!({"path": "$.a", "op": "exists"});
        assert_eq!(serde_json::to_value(&f).unwrap(), want);
    }
}
