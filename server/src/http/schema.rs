//! `/schema/dscloud.json`: the JSON Schema of `dscloud.yaml`, generated from
//! the model, for editors (yaml-language-server and the like).

use std::sync::LazyLock;

use app::dscloud::DscloudFile;
use axum::http::header;
use axum::response::IntoResponse;

static SCHEMA: LazyLock<String> = LazyLock::new(|| {
    let schema = schemars::schema_for!(DscloudFile);
    serde_json::to_string_pretty(&schema).unwrap_or_else(|_| "{}".to_string())
});

pub async fn dscloud() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/schema+json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCHEMA.as_str(),
    )
}
