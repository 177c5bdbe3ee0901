//! A `.env`-style paste: `KEY=value` per line, `export ` allowed before the
//! key, blank lines and `#` comments skipped, a value in matching single or
//! double quotes taken without them. Every line is checked before anything
//! is set; the errors name the line and the key, never the value.

use app::secrets::{MAX_SECRET_BYTES, check_secret_name};
use secrecy::{ExposeSecret, SecretString};

/// The most keys one paste sets.
pub const MAX_LINES: usize = 200;

/// One key and its value, which cannot be printed.
pub struct EnvLine {
    pub name: String,
    pub value: SecretString,
}

/// Every line, or every problem (line numbers from 1).
pub fn parse(text: &SecretString) -> Result<Vec<EnvLine>, Vec<String>> {
    let mut lines: Vec<EnvLine> = Vec::new();
    let mut first_line_of: std::collections::HashMap<String, usize> = Default::default();
    let mut problems = Vec::new();
    for (index, line) in text.expose_secret().lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((name, value)) = line.split_once('=') else {
            // Never echo the line: it may be a value pasted on its own.
            problems.push(format!("line {number}: not KEY=value"));
            continue;
        };
        let name = name.trim();
        if let Err(problem) = check_secret_name(name) {
            problems.push(format!("line {number}: {problem}"));
            continue;
        }
        let value = unquote(value.trim());
        if value.is_empty() {
            problems.push(format!("line {number}: {name} has an empty value"));
            continue;
        }
        if value.len() > MAX_SECRET_BYTES {
            problems.push(format!(
                "line {number}: {name}'s value is over {} KiB",
                MAX_SECRET_BYTES / 1024
            ));
            continue;
        }
        if let Some(first) = first_line_of.get(name) {
            problems.push(format!(
                "line {number}: {name} is set on line {first} already"
            ));
            continue;
        }
        first_line_of.insert(name.to_string(), number);
        lines.push(EnvLine {
            name: name.to_string(),
            value: SecretString::from(value.to_string()),
        });
    }
    if lines.is_empty() && problems.is_empty() {
        problems.push("the paste holds no KEY=value line".to_string());
    }
    if lines.len() > MAX_LINES {
        problems.push(format!("{} keys: at most {MAX_LINES} at once", lines.len()));
    }
    if problems.is_empty() {
        Ok(lines)
    } else {
        Err(problems)
    }
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parsed(text: &str) -> Result<Vec<(String, String)>, Vec<String>> {
        parse(&SecretString::from(text.to_string())).map(|lines| {
            lines
                .into_iter()
                .map(|line| (line.name, line.value.expose_secret().to_string()))
                .collect()
        })
    }

    #[test]
    fn a_paste_sets_each_key_once() {
        let text = "# database\nexport DB_USER=app\nDB_PASSWORD=\"p=ss word\"\n\nTOKEN='x'\n";
        assert_eq!(
            parsed(text).unwrap(),
            vec![
                ("DB_USER".to_string(), "app".to_string()),
                ("DB_PASSWORD".to_string(), "p=ss word".to_string()),
                ("TOKEN".to_string(), "x".to_string()),
            ]
        );
    }

    #[test]
    fn every_bad_line_is_named_and_no_value_is_echoed() {
        let text = "GOOD=1\n9LIVES=cat\nsecret-value-alone\nEMPTY=\nGOOD=2\nBAD-NAME=x\n";
        let problems = parsed(text).unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].starts_with("line 2:") && problems[0].contains("digit"));
        assert_eq!(problems[1], "line 3: not KEY=value");
        assert_eq!(problems[2], "line 4: EMPTY has an empty value");
        assert_eq!(problems[3], "line 5: GOOD is set on line 1 already");
        assert!(problems[4].starts_with("line 6:") && problems[4].contains('-'));
        assert!(!problems.join(" ").contains("secret-value-alone"));
        assert!(!problems.join(" ").contains("cat"));
        assert_eq!(
            parsed("\n# only comments\n").unwrap_err(),
            vec!["the paste holds no KEY=value line".to_string()]
        );
    }
}
