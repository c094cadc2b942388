//! An example `data` for an event type, made from its JSON Schema: what the API and the
//! console show beside the schema, so that a producer sees a payload of the right shape.

use serde_json::{json, Map, Value};

/// How deep an example goes: deeper parts are `null` (a recursive `$ref` stops too).
const DEPTH: usize = 8;

/// A `data` that `schema` describes: its own `examples`, `default`, `const` or first
/// `enum` value where it gives one, else a value of its type, objects with every
/// property. Without a schema (or with `true`), `{}`.
pub fn of(schema: Option<&Value>) -> Value {
    match schema {
        Some(s) if s.is_object() => walk(s, DEPTH),
        _ => json!({}),
    }
}

fn walk(schema: &Value, depth: usize) -> Value {
    let Some(s) = schema.as_object() else {
        return Value::Null;
    };
    if depth == 0 {
        return Value::Null;
    }
    let given = s
        .get("examples")
        .and_then(|e| e.as_array()?.first())
        .or_else(|| s.get("default"))
        .or_else(|| s.get("const"))
        .or_else(|| s.get("enum").and_then(|e| e.as_array()?.first()));
    if let Some(v) = given {
        return v.clone();
    }
    if let Some(first) = ["oneOf", "anyOf", "allOf"]
        .iter()
        .find_map(|k| s.get(*k).and_then(|v| v.as_array()?.first()))
    {
        return walk(first, depth - 1);
    }
    let kind = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.iter().find_map(Value::as_str).unwrap_or("null"),
        _ if s.contains_key("properties") => "object",
        _ if s.contains_key("items") => "array",
        _ => "null",
    };
    match kind {
        "object" => {
            let props = s.get("properties").and_then(Value::as_object);
            let fields: Map<String, Value> = props
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), walk(v, depth - 1)))
                .collect();
            Value::Object(fields)
        }
        "array" => match s.get("items") {
            Some(items) => json!([walk(items, depth - 1)]),
            None => json!([]),
        },
        "string" => json!(string_example(s.get("format").and_then(Value::as_str))),
        "integer" | "number" => s.get("minimum").cloned().unwrap_or(json!(0)),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

fn string_example(format: Option<&str>) -> &'static str {
    match format {
        Some("date-time") => "2026-01-01T00:00:00Z",
        Some("date") => "2026-01-01",
        Some("email") => "someone@example.com",
        Some("uri") | Some("url") => "https://example.com/",
        Some("uuid") => "00000000-0000-4000-8000-000000000000",
        _ => "string",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_example_has_every_property_of_its_type_and_takes_what_the_schema_gives() {
        let schema = json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "email": {"type": "string", "format": "email"},
                "status": {"enum": ["open", "closed"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "note": {"type": ["string", "null"], "examples": ["Call back"]},
                "paid": {"type": "boolean"},
                "owner": {"oneOf": [{"type": "object", "properties": {"n": {"const": 3}}}]}
            }
        });
        assert_eq!(
            of(Some(&schema)),
            json!({"id": 1, "email": "someone@example.com", "status": "open",
                   "tags": ["string"], "note": "Call back", "paid": false,
                   "owner": {"n": 3}})
        );
        assert_eq!(of(None), json!({}));
        assert_eq!(of(Some(&json!(true))), json!({}));
    }

    #[test]
    fn a_schema_that_nests_without_end_gives_an_example_that_ends() {
        let mut s = json!({"type": "string"});
        for _ in 0..50 {
            s = json!({"type": "object", "properties": {"inner": s}});
        }
        let mut v = &of(Some(&s));
        let mut depth = 0;
        while let Some(inner) = v.get("inner") {
            v = inner;
            depth += 1;
        }
        assert_eq!((depth, v), (DEPTH, &Value::Null));
    }
}
