//! A real OCI registry for the suites (Debian's `docker-registry`, the
//! CNCF distribution registry 2.8; `make services` installs it), on a
//! loopback port, optionally behind the token flow with a token service
//! of the test's own (JWTs signed by `openssl`, as a real one signs them).
//! Images are pushed as a CI job would: blobs, then a manifest by tag.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use sha2::Digest;

const REGISTRY: &str = "/usr/bin/docker-registry";
pub const SERVICE: &str = "test-registry";
const ISSUER: &str = "test-issuer";
pub const USER: &str = "ci";
pub const PASSWORD: &str = "s3cret-registry-password";

pub struct TestRegistry {
    /// `127.0.0.1:<port>`: what `--image-registry` names.
    pub host: String,
    child: Child,
    /// With the token flow: every scope the token service was asked for.
    pub token_requests: Arc<Mutex<Vec<String>>>,
    keys: Option<PathBuf>,
    _dir: tempfile::TempDir,
    _token_service: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestRegistry {
    /// Anyone may pull and push.
    pub async fn open() -> TestRegistry {
        TestRegistry::start(false).await
    }

    /// Pulls and pushes need a token from the token service, which wants
    /// [`USER`] and [`PASSWORD`].
    pub async fn with_tokens() -> TestRegistry {
        TestRegistry::start(true).await
    }

    async fn start(tokens: bool) -> TestRegistry {
        assert!(
            Path::new(REGISTRY).exists(),
            "{REGISTRY} is missing: `make services` installs Debian's docker-registry"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let token_requests = Arc::new(Mutex::new(Vec::new()));
        let mut auth = String::new();
        let mut token_service = None;
        let mut keys = None;
        if tokens {
            let key = dir.path().join("key.pem");
            let cert = dir.path().join("cert.pem");
            let made = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                ])
                .args(["-subj", "/CN=test-token-issuer", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(made.success(), "openssl made no key");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            token_service = Some(tokio::spawn(serve_tokens(
                listener,
                dir.path().to_path_buf(),
                token_requests.clone(),
            )));
            auth = format!(
                "auth:\n  token:\n    realm: http://{address}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
                cert.display()
            );
            keys = Some(dir.path().to_path_buf());
        }
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-only\n{auth}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(REGISTRY)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let registry = TestRegistry {
            host: format!("127.0.0.1:{port}"),
            child,
            token_requests,
            keys,
            _dir: dir,
            _token_service: token_service,
        };
        let probe = reqwest::Client::new();
        for _ in 0..200 {
            if probe
                .get(format!("http://{}/v2/", registry.host))
                .send()
                .await
                .is_ok()
            {
                return registry;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the registry did not start on {}", registry.host);
    }

    /// Pushes an image `<name>:<tag>` as CI would (a config, one layer,
    /// an OCI manifest); returns the manifest's digest.
    pub async fn push(&self, name: &str, tag: &str) -> String {
        let http = reqwest::Client::new();
        let bearer = self
            .keys
            .as_ref()
            .map(|dir| sign(dir, &format!("repository:{name}:pull,push")));
        let with_auth = |request: reqwest::RequestBuilder| match &bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let config = format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"tag\":\"{tag}\"}}");
        let layer = format!("layer of {name}:{tag}");
        let mut described = Vec::new();
        for blob in [config.as_bytes(), layer.as_bytes()] {
            let digest = format!("sha256:{:x}", sha2::Sha256::digest(blob));
            let started =
                with_auth(http.post(format!("http://{}/v2/{name}/blobs/uploads/", self.host)))
                    .send()
                    .await
                    .unwrap();
            assert_eq!(
                started.status(),
                202,
                "upload of {name}: {:?}",
                started.text().await
            );
            let location = started.headers()["location"].to_str().unwrap().to_string();
            let location = if location.starts_with("http") {
                location
            } else {
                format!("http://{}{location}", self.host)
            };
            let separator = if location.contains('?') { '&' } else { '?' };
            let done = with_auth(http.put(format!("{location}{separator}digest={digest}")))
                .header("content-type", "application/octet-stream")
                .body(blob.to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(
                done.status(),
                201,
                "blob of {name}: {:?}",
                done.text().await
            );
            described.push((digest, blob.len()));
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": described[0].0, "size": described[0].1},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": described[1].0, "size": described[1].1}],
        })
        .to_string();
        let pushed = with_auth(http.put(format!("http://{}/v2/{name}/manifests/{tag}", self.host)))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            pushed.status(),
            201,
            "manifest of {name}: {:?}",
            pushed.text().await
        );
        let digest = format!("sha256:{:x}", sha2::Sha256::digest(manifest.as_bytes()));
        assert_eq!(pushed.headers()["docker-content-digest"], digest.as_str());
        digest
    }

    /// A Docker config.json with the token service's credentials.
    pub fn auth_file(&self, password: &str) -> String {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"));
        format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}",
            self.host
        )
    }
}

/// The token service: Basic credentials checked, a JWT granting the scope asked.
async fn serve_tokens(
    listener: tokio::net::TcpListener,
    keys: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
) {
    use axum::extract::Query;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let route = move |Query(query): Query<std::collections::HashMap<String, String>>,
                      headers: HeaderMap| {
        let keys = keys.clone();
        let requests = requests.clone();
        async move {
            let scope = query.get("scope").cloned().unwrap_or_default();
            requests.lock().unwrap().push(scope.clone());
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
            );
            let given = headers
                .get("authorization")
                .and_then(|value| value.to_str().ok());
            if given != Some(expected.as_str())
                || query.get("service").map(String::as_str) != Some(SERVICE)
            {
                return (StatusCode::UNAUTHORIZED, "wrong credentials").into_response();
            }
            let token = tokio::task::spawn_blocking(move || sign(&keys, &scope))
                .await
                .unwrap();
            axum::Json(serde_json::json!({"token": token, "expires_in": 300})).into_response()
        }
    };
    let app = axum::Router::new().route("/token", axum::routing::get(route));
    let _ = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await;
}

/// A registry token for `scope` (`repository:<name>:<actions>`), RS256
/// with the certificate in its `x5c` header, signed by `openssl`.
fn sign(keys: &Path, scope: &str) -> String {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(keys.join("cert.pem"))
        .output()
        .unwrap()
        .stdout;
    let header = serde_json::json!({
        "typ": "JWT",
        "alg": "RS256",
        "x5c": [base64::engine::general_purpose::STANDARD.encode(der)],
    });
    let access: Vec<serde_json::Value> = scope
        .split(' ')
        .filter_map(|one| {
            let mut parts = one.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
        })
        .collect();
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": USER, "aud": SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
        "access": access,
    });
    let signed = format!(
        "{}.{}",
        url.encode(header.to_string()),
        url.encode(claims.to_string())
    );
    let mut openssl = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(keys.join("key.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        openssl
            .stdin
            .take()
            .unwrap()
            .write_all(signed.as_bytes())
            .unwrap();
    }
    let signature = openssl.wait_with_output().unwrap().stdout;
    format!("{signed}.{}", url.encode(signature))
}
