//! A YAML document as a tree of nodes that remember where they stand.
//!
//! Built from saphyr-parser's event stream rather than a ready-made loader so
//! that duplicate keys are reported (a map type would keep one silently),
//! aliases cannot blow the tree up, and every node keeps its line and column.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::problem::{Position, Problem};

/// The most nodes a document may expand to, aliases included: enough for any
/// real file, small enough that an alias bomb is refused at once.
const MAX_NODES: usize = 100_000;

/// The deepest nesting accepted. Real files nest six levels; the limit keeps
/// recursive walks (and dropping the tree) far from the stack's end.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub position: Position,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub text: String,
    /// Quoted, block or `!!str`-tagged: always a string, never a number or boolean.
    pub literal_string: bool,
}

/// What a scalar means under YAML 1.2's core schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(&'a str),
}

impl Scalar {
    pub fn resolve(&self) -> Resolved<'_> {
        if self.literal_string {
            return Resolved::String(&self.text);
        }
        let text = self.text.as_str();
        match text {
            "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
            "true" | "True" | "TRUE" => return Resolved::Bool(true),
            "false" | "False" | "FALSE" => return Resolved::Bool(false),
            _ => {}
        }
        if let Some(number) = parse_integer(text) {
            return Resolved::Integer(number);
        }
        if looks_like_float(text)
            && let Ok(number) = text.parse::<f64>()
        {
            return Resolved::Float(number);
        }
        match text {
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
                Resolved::Float(f64::INFINITY)
            }
            "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
            _ => Resolved::String(text),
        }
    }
}

fn parse_integer(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = if let Some(octal) = digits.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()?
    } else if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()) {
        digits.parse::<i64>().ok()?
    } else {
        return None;
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// YAML 1.2 core floats: `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (!whole.is_empty() || !fraction.is_empty())
                && whole.bytes().all(|byte| byte.is_ascii_digit())
                && fraction.bytes().all(|byte| byte.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|byte| byte.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|exponent| {
        let digits = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

impl Node {
    /// A short description of what the node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Mapping(_) => "a mapping".to_string(),
            Value::Sequence(_) => "a list".to_string(),
            Value::Scalar(scalar) => match scalar.resolve() {
                Resolved::Null => "nothing (null)".to_string(),
                Resolved::Bool(value) => format!("the boolean {value}"),
                Resolved::Integer(value) => format!("the number {value}"),
                Resolved::Float(value) => format!("the number {value}"),
                Resolved::String(value) => format!("the text {value:?}"),
            },
        }
    }

    /// Levels of collections, this one included: 0 for a scalar.
    fn height(&self) -> usize {
        match &self.value {
            Value::Scalar(_) => 0,
            Value::Sequence(items) => 1 + items.iter().map(Node::height).max().unwrap_or(0),
            Value::Mapping(entries) => {
                1 + entries
                    .iter()
                    .map(|(key, value)| key.height().max(value.height()))
                    .max()
                    .unwrap_or(0)
            }
        }
    }

    fn size(&self) -> usize {
        match &self.value {
            Value::Scalar(_) => 1,
            Value::Sequence(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Mapping(entries) => {
                1 + entries
                    .iter()
                    .map(|(key, value)| key.size() + value.size())
                    .sum::<usize>()
            }
        }
    }
}

fn position(span: &Span) -> Position {
    Position {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

/// A node under construction: a collection waiting for its children.
enum Open {
    Sequence {
        position: Position,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        position: Position,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
    },
}

fn check_depth(depth: usize, span: &Span) -> Result<(), Problem> {
    if depth >= MAX_DEPTH {
        return Err(Problem::new(
            position(span),
            "",
            format!("the document nests deeper than {MAX_DEPTH} levels; it is refused"),
        ));
    }
    Ok(())
}

/// Parses one YAML document. `Ok(None)` for an empty document.
pub fn parse(text: &str) -> Result<Option<Node>, Problem> {
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    let mut nodes = 0usize;

    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|error| {
            Problem::new(
                Position {
                    line: error.marker().line(),
                    column: error.marker().col() + 1,
                },
                "",
                if error.info().contains("recursion limit") {
                    "the document nests deeper than the parser allows; it is refused".to_string()
                } else {
                    format!("this is not valid YAML: {}", error.info())
                },
            )
        })?;
        let finished = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Problem::new(
                        position(&span),
                        "",
                        "a dscloud.yaml holds one YAML document; remove the second `---` and what follows",
                    ));
                }
                None
            }
            Event::Scalar(text, style, anchor, tag) => {
                let literal_string = !matches!(style, ScalarStyle::Plain)
                    || tag.as_ref().is_some_and(|tag| tag.suffix == "str");
                let node = Node {
                    position: position(&span),
                    value: Value::Scalar(Scalar {
                        text: text.into_owned(),
                        literal_string,
                    }),
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some((node, 1))
            }
            Event::Alias(anchor) => {
                let node = anchors.get(&anchor).cloned().ok_or_else(|| {
                    Problem::new(
                        position(&span),
                        "",
                        "this alias names no anchor defined before it",
                    )
                })?;
                // An alias puts its whole tree here: it nests as deep as
                // that tree does, below where the alias stands.
                let height = node.height();
                if height > 0 {
                    check_depth(stack.len() + height - 1, &span)?;
                }
                let added = node.size();
                Some((
                    Node {
                        position: position(&span),
                        value: node.value,
                    },
                    added,
                ))
            }
            Event::SequenceStart(anchor, _) => {
                check_depth(stack.len(), &span)?;
                stack.push(Open::Sequence {
                    position: position(&span),
                    anchor,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                check_depth(stack.len(), &span)?;
                stack.push(Open::Mapping {
                    position: position(&span),
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match stack.pop() {
                    Some(Open::Sequence {
                        position,
                        anchor,
                        items,
                    }) => (
                        Node {
                            position,
                            value: Value::Sequence(items),
                        },
                        anchor,
                    ),
                    Some(Open::Mapping {
                        position,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            position,
                            value: Value::Mapping(entries),
                        },
                        anchor,
                    ),
                    None => {
                        return Err(Problem::new(
                            position(&span),
                            "",
                            "unbalanced YAML collection",
                        ));
                    }
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some((node, 1))
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
        };

        let Some((node, added)) = finished else {
            continue;
        };
        nodes += added;
        if nodes > MAX_NODES {
            return Err(Problem::new(
                node.position,
                "",
                format!(
                    "the document expands to more than {MAX_NODES} values (through aliases?); it is refused"
                ),
            ));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Open::Sequence { items, .. }) => items.push(node),
            Some(Open::Mapping {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str, literal_string: bool) -> Resolved<'static> {
        let scalar = Scalar {
            text: text.to_string(),
            literal_string,
        };
        match scalar.resolve() {
            Resolved::String(_) => Resolved::String("<text>"),
            Resolved::Null => Resolved::Null,
            Resolved::Bool(value) => Resolved::Bool(value),
            Resolved::Integer(value) => Resolved::Integer(value),
            Resolved::Float(value) => Resolved::Float(value),
        }
    }

    #[test]
    fn plain_scalars_resolve_by_the_core_schema() {
        assert_eq!(scalar("42", false), Resolved::Integer(42));
        assert_eq!(scalar("-7", false), Resolved::Integer(-7));
        assert_eq!(scalar("0x1f", false), Resolved::Integer(31));
        assert_eq!(scalar("1.5", false), Resolved::Float(1.5));
        assert_eq!(scalar("1e3", false), Resolved::Float(1000.0));
        assert_eq!(scalar("true", false), Resolved::Bool(true));
        assert_eq!(scalar("FALSE", false), Resolved::Bool(false));
        assert_eq!(scalar("~", false), Resolved::Null);
        assert_eq!(scalar("yes", false), Resolved::String("<text>"));
        assert_eq!(scalar("1.2.3", false), Resolved::String("<text>"));
        assert_eq!(scalar("42", true), Resolved::String("<text>"));
    }

    #[test]
    fn nodes_know_their_line_and_column() {
        let root = parse("a:\n  b: 1\n  c: [x, y]\n").unwrap().unwrap();
        let Value::Mapping(entries) = &root.value else {
            panic!("a mapping")
        };
        let (_, inner) = &entries[0];
        let Value::Mapping(inner) = &inner.value else {
            panic!("a mapping")
        };
        assert_eq!(inner[0].0.position, Position { line: 2, column: 3 });
        assert_eq!(inner[1].1.position, Position { line: 3, column: 6 });
    }

    #[test]
    fn duplicate_keys_are_kept_for_the_validator_to_report() {
        let root = parse("a: 1\na: 2\n").unwrap().unwrap();
        let Value::Mapping(entries) = root.value else {
            panic!("a mapping")
        };
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn syntax_errors_point_at_the_place() {
        let problem = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(problem.message.starts_with("this is not valid YAML"));
        assert!(problem.position.line >= 1);
    }

    #[test]
    fn an_empty_document_is_none() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
    }

    #[test]
    fn a_second_document_is_refused() {
        let problem = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(problem.position.line, 2);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..8 {
            let previous = level - 1;
            text.push_str(&format!(
                "a{level}: &a{level} [*a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}]\n"
            ));
        }
        let problem = parse(&text).unwrap_err();
        assert!(
            problem.message.contains("expands to more than"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn an_alias_cannot_carry_nesting_past_the_limit() {
        // Forty levels behind an anchor, then the alias forty levels down:
        // eighty in all, though no collection was ever opened that deep.
        let deep = |depth: usize| format!("{}x{}", "[".repeat(depth), "]".repeat(depth));
        let text = format!(
            "a: &deep {}\nb: {}*deep{}\n",
            deep(40),
            "[".repeat(40),
            "]".repeat(40)
        );
        let problem = parse(&text).unwrap_err();
        assert!(
            problem.message.contains("nests deeper than 64"),
            "{}",
            problem.message
        );
        // Within the limit, aliases are fine.
        let shallow = format!("a: &deep {}\nb: [[*deep]]\n", deep(10));
        assert!(parse(&shallow).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = "[".repeat(10_000);
        let problem = parse(&text).unwrap_err();
        assert!(
            problem.message.contains("nests deeper"),
            "{}",
            problem.message
        );
        let problem = parse(&"- ".repeat(60)).map(|_| ()).err();
        assert!(problem.is_none_or(|problem| problem.message.contains("nests deeper")));
    }
}
