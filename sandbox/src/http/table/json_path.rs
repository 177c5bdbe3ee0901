//! The JSONPath subset CRDs use in `additionalPrinterColumns`: fields
//! (`.status.phase`), indexes (`[0]`) and equality filters
//! (`.status.conditions[?(@.type=='Ready')].status`). The first match is
//! printed, as the API server does.

use serde_json::Value;

pub(super) fn first(object: &Value, path: &str) -> Option<Value> {
    let mut current = vec![object];
    let mut rest = path.trim().trim_start_matches('$');
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let field = &after[..end];
            current = current
                .into_iter()
                .filter_map(|value| value.get(field))
                .collect();
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let selector = &after[..end];
            current = select(current, selector)?;
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    current.first().map(|value| (*value).clone())
}

fn select<'a>(values: Vec<&'a Value>, selector: &str) -> Option<Vec<&'a Value>> {
    let items = values
        .into_iter()
        .filter_map(Value::as_array)
        .flat_map(|items| items.iter());
    if selector == "*" {
        return Some(items.collect());
    }
    if let Ok(index) = selector.parse::<usize>() {
        return Some(items.skip(index).take(1).collect());
    }
    let condition = selector.strip_prefix("?(@.")?.strip_suffix(')')?;
    let (field, wanted) = condition.split_once("==")?;
    let wanted = wanted.trim().trim_matches(['\'', '"']);
    Some(
        items
            .filter(|item| match &item[field.trim()] {
                Value::String(text) => text == wanted,
                Value::Bool(flag) => wanted.parse::<bool>().ok() == Some(*flag),
                Value::Number(number) => wanted.parse::<f64>().ok() == number.as_f64(),
                _ => false,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_indexes_and_filters() {
        let object = json!({"status": {"phase": "Healthy", "instances": 3,
            "conditions": [{"type": "Ready", "status": "False"},
                           {"type": "Synced", "reason": "Done"}]}});
        assert_eq!(first(&object, ".status.phase"), Some(json!("Healthy")));
        assert_eq!(first(&object, ".status.instances"), Some(json!(3)));
        assert_eq!(
            first(&object, ".status.conditions[1].reason"),
            Some(json!("Done"))
        );
        assert_eq!(
            first(&object, ".status.conditions[?(@.type=='Synced')].reason"),
            Some(json!("Done"))
        );
        assert_eq!(
            first(&object, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("False"))
        );
        assert_eq!(first(&object, ".status.missing"), None);
        assert_eq!(
            first(&object, ".status.conditions[?(@.type=='Gone')].status"),
            None
        );
        assert_eq!(first(&object, ".status.conditions[?broken"), None);
    }
}
