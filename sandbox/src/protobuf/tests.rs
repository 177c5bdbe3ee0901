//! Bodies encoded here by hand, field by field; the real kubectl's bodies are
//! read in `tests/kubectl_everyday.rs`.

use serde_json::json;

use super::*;

enum Encoded {
    Number(u64),
    Text(&'static str),
    Raw(Vec<u8>),
}

fn message(fields: Vec<(u32, Encoded)>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (tag, value) in fields {
        match value {
            Encoded::Number(number) => {
                varint(&mut bytes, u64::from(tag) << 3);
                varint(&mut bytes, number);
            }
            Encoded::Text(text) => length_delimited(&mut bytes, tag, text.as_bytes()),
            Encoded::Raw(raw) => length_delimited(&mut bytes, tag, &raw),
        }
    }
    bytes
}

fn length_delimited(bytes: &mut Vec<u8>, tag: u32, value: &[u8]) {
    varint(bytes, (u64::from(tag) << 3) | 2);
    varint(bytes, value.len() as u64);
    bytes.extend_from_slice(value);
}

fn varint(bytes: &mut Vec<u8>, mut number: u64) {
    while number >= 0x80 {
        bytes.push((number as u8) | 0x80);
        number >>= 7;
    }
    bytes.push(number as u8);
}

fn envelope(api_version: &'static str, kind: &'static str, object: Vec<u8>) -> Vec<u8> {
    use Encoded::*;
    let mut body = MAGIC.to_vec();
    body.extend(message(vec![
        (
            1,
            Raw(message(vec![(1, Text(api_version)), (2, Text(kind))])),
        ),
        (2, Raw(object)),
        (3, Text("")),
        (4, Text("")),
    ]));
    body
}

fn entry(key: &'static str, value: Vec<u8>) -> Encoded {
    Encoded::Raw(message(vec![
        (1, Encoded::Text(key)),
        (2, Encoded::Raw(value)),
    ]))
}

/// What Go writes for metadata with only a name: every string, even empty,
/// and the zero creation time as an empty message.
fn metadata(name: &'static str) -> Encoded {
    use Encoded::*;
    Raw(message(vec![
        (1, Text(name)),
        (2, Text("")),
        (3, Text("")),
        (5, Text("")),
        (7, Number(0)),
        (8, Raw(Vec::new())),
    ]))
}

#[test]
fn a_namespace_reads_as_the_json_kubectl_would_send() {
    let body = envelope(
        "v1",
        "Namespace",
        message(vec![
            (1, metadata("probe")),
            (2, Encoded::Raw(Vec::new())),
            (3, Encoded::Raw(Vec::new())),
        ]),
    );
    assert_eq!(
        to_json(&body).unwrap(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "probe"},
            "spec": {}, "status": {}})
    );
}

#[test]
fn a_deployment_keeps_an_explicit_zero_and_reads_maps_quantities_and_ports() {
    use Encoded::*;
    let container = message(vec![
        (1, Text("web")),
        (2, Text("nginx:1.27")),
        (6, Raw(message(vec![(3, Number(8080)), (4, Text("TCP"))]))),
        (
            8,
            Raw(message(vec![(
                2,
                entry("cpu", message(vec![(1, Text("250m"))])),
            )])),
        ),
        // stdin: false, written by Go, not set by anyone.
        (16, Number(0)),
    ]);
    let labels = |value| Raw(message(vec![(1, Text("app")), (2, Text(value))]));
    let body = envelope(
        "apps/v1",
        "Deployment",
        message(vec![
            (1, metadata("web")),
            (
                2,
                Raw(message(vec![
                    (1, Number(0)),
                    (2, Raw(message(vec![(1, labels("web"))]))),
                    (
                        3,
                        Raw(message(vec![
                            (1, Raw(message(vec![(11, labels("web"))]))),
                            (2, Raw(message(vec![(2, Raw(container))]))),
                        ])),
                    ),
                    (
                        4,
                        Raw(message(vec![(
                            2,
                            Raw(message(vec![
                                (1, Raw(message(vec![(1, Number(1)), (3, Text("25%"))]))),
                                (2, Raw(message(vec![(1, Number(0)), (2, Number(1))]))),
                            ])),
                        )])),
                    ),
                ])),
            ),
            (3, Raw(Vec::new())),
        ]),
    );
    let object = to_json(&body).unwrap();
    assert_eq!(object["spec"]["replicas"], 0, "an explicit zero stays");
    assert_eq!(
        object["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
    assert_eq!(
        object["spec"]["template"]["spec"]["containers"],
        json!([{"name": "web", "image": "nginx:1.27",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "250m"}}}])
    );
    assert_eq!(
        object["spec"]["strategy"]["rollingUpdate"],
        json!({"maxUnavailable": "25%", "maxSurge": 1})
    );
}

#[test]
fn secret_bytes_become_base64_and_times_rfc3339() {
    use Encoded::*;
    let body = envelope(
        "v1",
        "Secret",
        message(vec![
            (
                1,
                Raw(message(vec![
                    (1, Text("token")),
                    (8, Raw(message(vec![(1, Number(1_700_000_000))]))),
                ])),
            ),
            (2, entry("password", b"s3cr\xffet".to_vec())),
            (2, entry("user", b"admin".to_vec())),
            (3, Text("Opaque")),
        ]),
    );
    let object = to_json(&body).unwrap();
    assert_eq!(
        object["data"],
        json!({"password": "czNjcv9ldA==", "user": "YWRtaW4="})
    );
    assert_eq!(object["type"], "Opaque");
    assert_eq!(
        object["metadata"]["creationTimestamp"],
        "2023-11-14T22:13:20Z"
    );
}

#[test]
fn a_field_the_table_lacks_is_refused_by_name_and_number_not_dropped() {
    let body = envelope(
        "v1",
        "ConfigMap",
        message(vec![(1, metadata("settings")), (9, Encoded::Number(1))]),
    );
    let Refusal::Malformed(why) = to_json(&body).unwrap_err() else {
        panic!("a malformed body");
    };
    assert!(why.contains("field 9 of ConfigMap"), "{why}");
    assert!(why.contains("kubectl apply -f"), "{why}");
}

#[test]
fn other_kinds_and_broken_bodies_get_a_reason() {
    let storage_class = envelope("storage.k8s.io/v1", "StorageClass", Vec::new());
    let refusal = to_json(&storage_class).unwrap_err();
    assert_eq!(
        refusal,
        Refusal::Kind {
            api_version: "storage.k8s.io/v1".into(),
            kind: "StorageClass".into()
        }
    );
    assert!(
        refusal
            .message()
            .contains("not storage.k8s.io/v1 StorageClass")
    );

    assert!(
        to_json(b"{\"kind\":\"Namespace\"}")
            .unwrap_err()
            .message()
            .contains("k8s\\0 magic")
    );
    let mut cut = envelope("v1", "Namespace", message(vec![(1, metadata("probe"))]));
    cut.truncate(cut.len() - 3);
    assert!(matches!(to_json(&cut), Err(Refusal::Malformed(_))));
}

#[test]
fn every_message_names_each_field_number_once() {
    for message in schema::every_message() {
        let mut tags: Vec<u32> = message.fields.iter().map(|field| field.tag).collect();
        tags.sort_unstable();
        let count = tags.len();
        tags.dedup();
        assert_eq!(tags.len(), count, "{} repeats a field number", message.name);
    }
}
