//! Protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`),
//! which kubectl's generator commands send for built-in kinds: the `k8s\0`
//! magic, a `runtime.Unknown` envelope naming the kind, and the object's
//! message. Read into the same JSON the rest of the sandbox stores; answers
//! stay JSON, which those clients accept.

mod schema;
mod wire;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use schema::{Field, Kind, Message};
use wire::Value as Wire;

pub(crate) const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

/// The object in a protobuf body, as JSON, or why it cannot be read.
pub(crate) fn to_json(body: &[u8]) -> Result<Value, Refusal> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| Refusal::Malformed("it does not start with the k8s\\0 magic".into()))?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (tag, value) in wire::fields(envelope).map_err(Refusal::Malformed)? {
        match (tag, value) {
            (schema::UNKNOWN_TYPE_META, Wire::Bytes(type_meta)) => {
                for (tag, value) in wire::fields(type_meta).map_err(Refusal::Malformed)? {
                    match (tag, value) {
                        (schema::TYPE_META_API_VERSION, Wire::Bytes(text)) => {
                            api_version = utf8(text)?;
                        }
                        (schema::TYPE_META_KIND, Wire::Bytes(text)) => kind = utf8(text)?,
                        _ => {}
                    }
                }
            }
            (schema::UNKNOWN_RAW, Wire::Bytes(bytes)) => raw = bytes,
            // contentEncoding and contentType: empty for objects.
            _ => {}
        }
    }
    let message = schema::top_level(&api_version, &kind).ok_or_else(|| Refusal::Kind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let mut object = decode(message, raw).map_err(Refusal::Malformed)?;
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    Ok(Value::Object(object))
}

/// Why a protobuf body was not read: a kind the sandbox has no table for
/// (the caller can send JSON instead), or bytes that do not decode.
#[derive(Debug, PartialEq)]
pub(crate) enum Refusal {
    Kind { api_version: String, kind: String },
    Malformed(String),
}

impl Refusal {
    pub(crate) fn message(&self) -> String {
        match self {
            Refusal::Kind { api_version, kind } => format!(
                "the sandbox reads protobuf bodies for {} only, not {api_version} {kind}: \
                 send it as JSON or YAML (`kubectl apply -f`)",
                schema::READABLE_KINDS
            ),
            Refusal::Malformed(why) => format!("the protobuf body cannot be read: {why}"),
        }
    }
}

fn decode(message: &Message, bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let mut object = Map::new();
    for (tag, value) in wire::fields(bytes)? {
        let field = message.field(tag).ok_or_else(|| {
            format!(
                "field {tag} of {} is not one the sandbox reads; \
                 send the object as JSON or YAML (`kubectl apply -f`)",
                message.name
            )
        })?;
        let Some(value) = field_value(field, value)
            .map_err(|why| format!("{}.{}: {why}", message.name, field.name))?
        else {
            continue;
        };
        if let Kind::Inline(_) = field.kind {
            if let Value::Object(inner) = value {
                object.extend(inner);
            }
        } else if field.repeated {
            let list = object
                .entry(field.name)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.push(value);
            }
        } else if let Some(Value::Object(map)) = object.get_mut(field.name)
            && let Value::Object(entry) = value
        {
            // Maps arrive one entry per field occurrence.
            map.extend(entry);
        } else {
            object.insert(field.name.into(), value);
        }
    }
    Ok(object)
}

/// The JSON for one occurrence of a field; `None` for a zero Go writes by
/// habit rather than because it was set.
fn field_value(field: &Field, value: Wire<'_>) -> Result<Option<Value>, String> {
    let keep_zero = field.zero_is_set || field.repeated;
    Ok(match (field.kind, value) {
        (Kind::String, Wire::Bytes(bytes)) => {
            let text = utf8(bytes).map_err(|refusal| refusal.message())?;
            (keep_zero || !text.is_empty()).then(|| json!(text))
        }
        (Kind::Bool, Wire::Varint(number)) => {
            (keep_zero || number != 0).then(|| json!(number != 0))
        }
        // int32 fields carry negatives as ten-byte two's complement.
        (Kind::Int, Wire::Varint(number)) => {
            (keep_zero || number != 0).then(|| json!(number as i64))
        }
        (Kind::Message(inner) | Kind::Inline(inner), Wire::Bytes(bytes)) => {
            Some(Value::Object(decode(inner, bytes)?))
        }
        (Kind::StringMap | Kind::BytesMap | Kind::QuantityMap, Wire::Bytes(bytes)) => {
            Some(map_entry(field.kind, bytes)?)
        }
        (Kind::Time, Wire::Bytes(bytes)) => time(bytes)?,
        (Kind::IntOrString, Wire::Bytes(bytes)) => Some(int_or_string(bytes)?),
        (_, other) => return Err(format!("unexpected wire value {other:?}")),
    })
}

fn map_entry(kind: Kind, bytes: &[u8]) -> Result<Value, String> {
    let mut key = String::new();
    let mut value = match kind {
        Kind::QuantityMap => json!("0"),
        _ => json!(""),
    };
    for (tag, field) in wire::fields(bytes)? {
        match (tag, field, kind) {
            (1, Wire::Bytes(text), _) => key = utf8(text).map_err(|refusal| refusal.message())?,
            (2, Wire::Bytes(text), Kind::StringMap) => {
                value = json!(utf8(text).map_err(|refusal| refusal.message())?);
            }
            (2, Wire::Bytes(bytes), Kind::BytesMap) => value = json!(base64(bytes)),
            (2, Wire::Bytes(bytes), Kind::QuantityMap) => value = quantity(bytes)?,
            (tag, _, _) => return Err(format!("a map entry has an unexpected field {tag}")),
        }
    }
    let mut entry = Map::new();
    entry.insert(key, value);
    Ok(Value::Object(entry))
}

fn quantity(bytes: &[u8]) -> Result<Value, String> {
    for (tag, value) in wire::fields(bytes)? {
        if let (schema::QUANTITY_STRING, Wire::Bytes(text)) = (tag, value) {
            return Ok(json!(utf8(text).map_err(|refusal| refusal.message())?));
        }
    }
    Ok(json!("0"))
}

/// `null` (omitted) for the zero time Go writes as an empty message.
fn time(bytes: &[u8]) -> Result<Option<Value>, String> {
    let (mut seconds, mut nanos) = (None, 0);
    for (tag, value) in wire::fields(bytes)? {
        match (tag, value) {
            (schema::TIME_SECONDS, Wire::Varint(number)) => seconds = Some(number as i64),
            (schema::TIME_NANOS, Wire::Varint(number)) => nanos = number as u32,
            _ => {}
        }
    }
    let Some(seconds) = seconds else {
        return Ok(None);
    };
    let time = chrono::DateTime::from_timestamp(seconds, nanos)
        .ok_or_else(|| format!("{seconds} seconds is not a time"))?;
    Ok(Some(json!(
        time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )))
}

fn int_or_string(bytes: &[u8]) -> Result<Value, String> {
    let (mut is_string, mut number, mut text) = (false, 0_i64, String::new());
    for (tag, value) in wire::fields(bytes)? {
        match (tag, value) {
            (schema::INT_OR_STRING_TYPE, Wire::Varint(kind)) => is_string = kind == 1,
            (schema::INT_OR_STRING_INT, Wire::Varint(value)) => number = value as i64,
            (schema::INT_OR_STRING_STRING, Wire::Bytes(value)) => {
                text = utf8(value).map_err(|refusal| refusal.message())?;
            }
            _ => {}
        }
    }
    Ok(if is_string {
        json!(text)
    } else {
        json!(number)
    })
}

fn utf8(bytes: &[u8]) -> Result<String, Refusal> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Refusal::Malformed("a text field is not UTF-8".into()))
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests;
