//! The registry's credentials, read from a Docker `config.json` (the
//! `.dockerconfigjson` of a `kubernetes.io/dockerconfigjson` Secret, the same
//! file the build Jobs push with): `{"auths": {"<host>": {"auth": "<base64
//! of user:password>"}}}`, or `username` and `password` spelled out.

use base64::Engine;
use secrecy::SecretString;
use serde::Deserialize;

/// A user and password for one registry host. Never printed.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Credentials({}, [hidden])", self.username)
    }
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The credentials `text` holds for `host` (`host[:port]`), if any. The
/// file's keys may be written as URLs (`https://host/v1/`). A file that is
/// not such a document, or an entry that cannot be read, is an error naming
/// what is wrong, never the secret.
pub fn for_host(text: &str, host: &str) -> Result<Option<Credentials>, String> {
    let config: ConfigFile = serde_json::from_str(text)
        .map_err(|error| format!("not a Docker config.json ({error})"))?;
    let Some((key, entry)) = config
        .auths
        .iter()
        .find(|(key, _)| host_of(key).eq_ignore_ascii_case(host))
    else {
        return Ok(None);
    };
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials {
            username: username.clone(),
            password: SecretString::from(password.clone()),
        }));
    }
    let encoded = entry.auth.as_deref().ok_or_else(|| {
        format!("the entry for {key:?} has neither auth nor username and password")
    })?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| format!("the auth of {key:?} is not base64 of user:password"))?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| format!("the auth of {key:?} is not base64 of user:password"))?;
    Ok(Some(Credentials {
        username: username.to_string(),
        password: SecretString::from(password.to_string()),
    }))
}

/// `https://host:5000/v1/` → `host:5000`.
fn host_of(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn credentials_come_from_the_auth_of_the_registrys_host() {
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        let text = format!(
            r#"{{"auths": {{"other.example": {{"auth": "eDp5"}}, "https://registry.example:5000/v1/": {{"auth": "{auth}"}}}}}}"#
        );
        let found = for_host(&text, "registry.example:5000").unwrap().unwrap();
        assert_eq!(found.username, "ci");
        assert_eq!(found.password.expose_secret(), "s3cret");
        assert!(for_host(&text, "registry.example").unwrap().is_none());
        assert!(!format!("{found:?}").contains("s3cret"));
    }

    #[test]
    fn username_and_password_may_be_spelled_out() {
        let text = r#"{"auths": {"reg": {"username": "u", "password": "p:w"}}}"#;
        let found = for_host(text, "reg").unwrap().unwrap();
        assert_eq!(
            (found.username.as_str(), found.password.expose_secret()),
            ("u", "p:w")
        );
    }

    #[test]
    fn a_broken_file_says_what_is_wrong_without_the_secret() {
        assert!(
            for_host("{", "reg")
                .unwrap_err()
                .contains("not a Docker config.json")
        );
        let error = for_host(r#"{"auths": {"reg": {"auth": "bm9jb2xvbg=="}}}"#, "reg").unwrap_err();
        assert!(error.contains("not base64 of user:password"), "{error}");
        assert!(!error.contains("nocolon"));
        let error = for_host(r#"{"auths": {"reg": {}}}"#, "reg").unwrap_err();
        assert!(error.contains("neither auth"), "{error}");
    }
}
