//! Server-side printing: the `Table` kubectl asks for
//! (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), with the columns
//! people read in `kubectl get` (pods READY / STATUS / RESTARTS, deployments
//! READY / UP-TO-DATE / AVAILABLE, …) and, for custom kinds, their CRD's
//! `additionalPrinterColumns`. Columns with priority 1 show with `-o wide`.

mod builtin;
mod json_path;

use serde_json::{Value, json};

use crate::resources::ResourceType;
use crate::store::Store;

/// Whether the client asked for a Table rather than the objects.
pub(super) fn wanted(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

/// How one request's objects are printed.
#[derive(Clone)]
pub(super) struct Printer {
    columns: Vec<Column>,
    include: Include,
}

#[derive(Clone)]
struct Column {
    name: String,
    kind: &'static str,
    format: &'static str,
    priority: u8,
    description: String,
    cell: Cell,
}

#[derive(Clone)]
enum Cell {
    Name,
    /// Time since `metadata.creationTimestamp`, as kubectl writes ages.
    Age,
    /// A built-in kind's column, computed from the whole object.
    Builtin(fn(&Value) -> Value),
    /// A CRD's column: a JSONPath, and whether its value is a date.
    Path {
        path: String,
        date: bool,
    },
}

/// `includeObject`: what each row carries besides its cells.
#[derive(Clone, Copy, PartialEq)]
enum Include {
    None,
    Metadata,
    Object,
}

impl Printer {
    pub(super) fn new(
        store: &Store,
        resource: &ResourceType,
        include_object: Option<&str>,
    ) -> Printer {
        let include = match include_object {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        };
        let name = Column {
            name: "Name".into(),
            kind: "string",
            format: "name",
            priority: 0,
            description: "Name must be unique within a namespace.".into(),
            cell: Cell::Name,
        };
        // Events are read by when and why; a real server prints no name for them.
        let mut columns = if resource.id() == "events" {
            Vec::new()
        } else {
            vec![name]
        };
        match (
            builtin::columns(&resource.id()),
            custom_columns(store, resource),
        ) {
            (Some(builtin), _) => columns.extend(builtin.iter().map(|column| Column {
                name: column.name.into(),
                kind: column.kind,
                format: "",
                priority: column.priority,
                description: column.description.into(),
                cell: column.cell.map_or(Cell::Age, Cell::Builtin),
            })),
            (None, Some(custom)) => columns.extend(custom),
            (None, None) => columns.push(age()),
        }
        Printer { columns, include }
    }

    /// The Table for these objects; `metadata` is the list's (its resourceVersion).
    pub(super) fn table(&self, objects: &[Value], metadata: Value) -> Value {
        let now = chrono::Utc::now();
        let definitions: Vec<Value> = self
            .columns
            .iter()
            .map(|column| {
                json!({"name": column.name, "type": column.kind, "format": column.format,
                    "description": column.description, "priority": column.priority})
            })
            .collect();
        let rows: Vec<Value> = objects
            .iter()
            .map(|object| {
                let cells: Vec<Value> = self
                    .columns
                    .iter()
                    .map(|column| cell(&column.cell, object, now))
                    .collect();
                let mut row = json!({"cells": cells});
                match self.include {
                    Include::None => {}
                    Include::Metadata => {
                        row["object"] = json!({"kind": "PartialObjectMetadata",
                            "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]});
                    }
                    Include::Object => row["object"] = object.clone(),
                }
                row
            })
            .collect();
        json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": definitions, "rows": rows})
    }
}

fn age() -> Column {
    Column {
        name: "Age".into(),
        kind: "string",
        format: "",
        priority: 0,
        description: "How long ago the object was created.".into(),
        cell: Cell::Age,
    }
}

fn cell(cell: &Cell, object: &Value, now: chrono::DateTime<chrono::Utc>) -> Value {
    match cell {
        Cell::Name => object["metadata"]["name"].clone(),
        Cell::Age => json!(since(&object["metadata"]["creationTimestamp"], now)),
        Cell::Builtin(compute) => compute(object),
        Cell::Path { path, date: true } => match json_path::first(object, path) {
            Some(time) => json!(since(&time, now)),
            None => Value::Null,
        },
        Cell::Path { path, date: false } => json_path::first(object, path).unwrap_or(Value::Null),
    }
}

/// A CRD's `additionalPrinterColumns` for the served version, when it has any.
fn custom_columns(store: &Store, resource: &ResourceType) -> Option<Vec<Column>> {
    let definitions = store
        .types()
        .iter()
        .find(|kind| kind.id() == "customresourcedefinitions.apiextensions.k8s.io")?;
    let crd = store.get(definitions, "", &resource.id()).ok()?;
    let version = crd["spec"]["versions"]
        .as_array()?
        .iter()
        .find(|version| version["name"] == resource.version.as_str())?;
    let printed = version["additionalPrinterColumns"].as_array()?;
    let columns: Vec<Column> = printed
        .iter()
        .filter_map(|column| {
            let kind = column["type"].as_str().unwrap_or("string");
            Some(Column {
                name: column["name"].as_str()?.to_string(),
                kind: match kind {
                    "integer" => "integer",
                    "number" => "number",
                    "boolean" => "boolean",
                    "date" => "date",
                    _ => "string",
                },
                format: "",
                priority: column["priority"]
                    .as_u64()
                    .map_or(0, |priority| priority.min(1) as u8),
                description: column["description"].as_str().unwrap_or_default().into(),
                cell: Cell::Path {
                    path: column["jsonPath"].as_str()?.to_string(),
                    date: kind == "date",
                },
            })
        })
        .collect();
    (!columns.is_empty()).then_some(columns)
}

/// Time since an RFC 3339 timestamp, the way kubectl prints ages.
pub(super) fn since(timestamp: &Value, now: chrono::DateTime<chrono::Utc>) -> String {
    match timestamp
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
    {
        Some(then) => human_duration((now - then.with_timezone(&chrono::Utc)).num_seconds()),
        None => "<unknown>".into(),
    }
}

/// Kubernetes' human durations: more precision for short spans, less for
/// long ones ("45s", "3m20s", "12m", "5h30m", "3d4h", "120d", "2y10d").
pub(super) fn human_duration(seconds: i64) -> String {
    const MINUTE: i64 = 60;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    const YEAR: i64 = 365 * DAY;
    let with_rest = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big}{big_unit}")
        } else {
            format!("{big}{big_unit}{small}{small_unit}")
        }
    };
    match seconds {
        ..-1 => "<invalid>".into(),
        -1..0 => "0s".into(),
        _ if seconds < 2 * MINUTE => format!("{seconds}s"),
        _ if seconds < 10 * MINUTE => with_rest(seconds / MINUTE, "m", seconds % MINUTE, "s"),
        _ if seconds < 3 * HOUR => format!("{}m", seconds / MINUTE),
        _ if seconds < 8 * HOUR => with_rest(seconds / HOUR, "h", seconds % HOUR / MINUTE, "m"),
        _ if seconds < 48 * HOUR => format!("{}h", seconds / HOUR),
        _ if seconds < 8 * DAY => with_rest(seconds / DAY, "d", seconds % DAY / HOUR, "h"),
        _ if seconds < 2 * YEAR => format!("{}d", seconds / DAY),
        _ if seconds < 8 * YEAR => with_rest(seconds / YEAR, "y", seconds % YEAR / DAY, "d"),
        _ => format!("{}y", seconds / YEAR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl_s() {
        for (seconds, shown) in [
            (-5, "<invalid>"),
            (0, "0s"),
            (119, "119s"),
            (200, "3m20s"),
            (300, "5m"),
            (1_500, "25m"),
            (5 * 3_600 + 30 * 60, "5h30m"),
            (30 * 3_600, "30h"),
            (3 * 86_400 + 4 * 3_600, "3d4h"),
            (120 * 86_400, "120d"),
            (2 * 365 * 86_400 + 10 * 86_400, "2y10d"),
            (9 * 365 * 86_400, "9y"),
        ] {
            assert_eq!(human_duration(seconds), shown, "{seconds} s");
        }
    }

    #[test]
    fn only_a_first_choice_of_table_counts() {
        assert!(wanted(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wanted("application/json, */*"));
        assert!(!wanted(
            "application/json,application/json;as=Table;v=v1;g=meta.k8s.io"
        ));
    }
}
