//! The `WWW-Authenticate` challenge an OCI registry answers a 401 with
//! (RFC 7235; the distribution spec's token flow): `Bearer realm="…",
//! service="…",scope="…"`, or `Basic realm="…"`.

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// Ask `realm` for a token, with `service` and `scope` as query parameters.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    /// Send the credentials with every request.
    Basic,
}

/// The first challenge the registry offers that we can answer.
pub fn parse(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let mut parameters = parameters(rest);
            let realm = parameters.remove("realm")?;
            Some(Challenge::Bearer {
                realm,
                service: parameters.remove("service"),
                scope: parameters.remove("scope"),
            })
        }
        _ => None,
    }
}

/// `key="quoted, value",other=token` → a map (keys lowercased). A quoted
/// value may hold commas (scopes do: `repository:a/b:pull,push`) and
/// backslash escapes.
fn parameters(text: &str) -> BTreeMap<String, String> {
    let mut parameters = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if key.is_empty() || chars.next().is_none() {
            return parameters;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
        }
        parameters.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_names_the_realm_service_and_scope() {
        let header = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:shop/web:pull,push""#;
        assert_eq!(
            parse(header),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:shop/web:pull,push".into()),
            })
        );
    }

    #[test]
    fn unquoted_values_spaces_and_case_are_accepted() {
        let header = "bearer  Realm=https://auth.example/token , service=reg";
        assert_eq!(
            parse(header),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("reg".into()),
                scope: None,
            })
        );
        assert_eq!(
            parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
    }

    #[test]
    fn a_challenge_we_cannot_answer_is_none() {
        assert_eq!(parse("Bearer service=\"x\""), None, "no realm");
        assert_eq!(parse("Negotiate abc"), None);
        assert_eq!(parse(""), None);
        assert_eq!(
            parse("Bearer realm=\"unterminated"),
            Some(Challenge::Bearer {
                realm: "unterminated".into(),
                service: None,
                scope: None,
            })
        );
    }
}
