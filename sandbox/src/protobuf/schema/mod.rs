//! The messages of the built-in kinds kubectl's generator commands send
//! (`create namespace|secret|configmap|serviceaccount|deployment|job|cronjob`,
//! `run`, `expose`), with their field numbers and JSON names as in
//! Kubernetes' `generated.proto` (k8s.io/api and apimachinery; each
//! number was checked against the prost tags of the `k8s-pb` crate, 0.9).
//!
//! Every scalar field of these messages is listed (Go writes non-pointer
//! scalars even when zero); of the nested messages, those the generators and
//! their flags can fill. A field the table lacks is refused by number, so
//! nothing is silently dropped.

/// What a field holds, and how it becomes JSON.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    String,
    Bool,
    Int,
    Message(&'static Message),
    /// A message whose fields JSON puts in the parent (Go's embedded structs,
    /// e.g. `LocalObjectReference` in a `SecretKeySelector`).
    Inline(&'static Message),
    StringMap,
    /// Values in base64, as Kubernetes writes `[]byte`.
    BytesMap,
    QuantityMap,
    Time,
    IntOrString,
}

pub(crate) struct Field {
    pub tag: u32,
    pub name: &'static str,
    pub kind: Kind,
    pub repeated: bool,
    /// Go writes a non-pointer scalar even when it is zero; a pointer only
    /// when set. So a zero is dropped unless the field is a pointer, where
    /// it means "explicitly zero" (`replicas: 0`).
    pub zero_is_set: bool,
}

pub(crate) struct Message {
    pub name: &'static str,
    pub fields: &'static [Field],
}

impl Message {
    pub(crate) fn field(&self, tag: u32) -> Option<&'static Field> {
        self.fields.iter().find(|field| field.tag == tag)
    }
}

pub(super) const fn one(tag: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        tag,
        name,
        kind,
        repeated: false,
        zero_is_set: false,
    }
}

pub(super) const fn pointer(tag: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        zero_is_set: true,
        ..one(tag, name, kind)
    }
}

pub(super) const fn many(tag: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        repeated: true,
        ..one(tag, name, kind)
    }
}

mod pod;
mod workloads;

use Kind::{Bool, BytesMap, Int, IntOrString, Message as M, String as S, StringMap, Time};
use pod::*;
use workloads::*;

/// The kinds whose protobuf bodies the sandbox reads, by `apiVersion` and `kind`.
pub(crate) fn top_level(api_version: &str, kind: &str) -> Option<&'static Message> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "Secret") => &SECRET,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "Pod") => &POD,
        ("v1", "Service") => &SERVICE,
        ("apps/v1", "Deployment") => &DEPLOYMENT,
        ("batch/v1", "Job") => &JOB,
        ("batch/v1", "CronJob") => &CRON_JOB,
        _ => return None,
    })
}

pub(crate) const READABLE_KINDS: &str =
    "Namespace, Secret, ConfigMap, ServiceAccount, Pod, Service, Deployment, Job and CronJob";

pub(super) static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        one(1, "name", S),
        one(2, "generateName", S),
        one(3, "namespace", S),
        one(4, "selfLink", S),
        one(5, "uid", S),
        one(6, "resourceVersion", S),
        one(7, "generation", Int),
        one(8, "creationTimestamp", Time),
        one(9, "deletionTimestamp", Time),
        pointer(10, "deletionGracePeriodSeconds", Int),
        one(11, "labels", StringMap),
        one(12, "annotations", StringMap),
        many(13, "ownerReferences", M(&OWNER_REFERENCE)),
        many(14, "finalizers", S),
    ],
};

static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        one(1, "kind", S),
        one(3, "name", S),
        one(4, "uid", S),
        one(5, "apiVersion", S),
        pointer(6, "controller", Bool),
        pointer(7, "blockOwnerDeletion", Bool),
    ],
};

pub(super) static LABEL_SELECTOR: Message = Message {
    name: "LabelSelector",
    fields: &[
        one(1, "matchLabels", StringMap),
        many(2, "matchExpressions", M(&LABEL_SELECTOR_REQUIREMENT)),
    ],
};

static LABEL_SELECTOR_REQUIREMENT: Message = Message {
    name: "LabelSelectorRequirement",
    fields: &[
        one(1, "key", S),
        one(2, "operator", S),
        many(3, "values", S),
    ],
};

static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        one(2, "spec", M(&NAMESPACE_SPEC)),
        one(3, "status", M(&NAMESPACE_STATUS)),
    ],
};

static NAMESPACE_SPEC: Message = Message {
    name: "NamespaceSpec",
    fields: &[many(1, "finalizers", S)],
};

static NAMESPACE_STATUS: Message = Message {
    name: "NamespaceStatus",
    fields: &[one(1, "phase", S)],
};

static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        one(2, "data", BytesMap),
        one(3, "type", S),
        one(4, "stringData", StringMap),
        pointer(5, "immutable", Bool),
    ],
};

static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        one(2, "data", StringMap),
        one(3, "binaryData", BytesMap),
        pointer(4, "immutable", Bool),
    ],
};

static SERVICE_ACCOUNT: Message = Message {
    name: "ServiceAccount",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        many(2, "secrets", M(&OBJECT_REFERENCE)),
        many(3, "imagePullSecrets", M(&LOCAL_OBJECT_REFERENCE)),
        pointer(4, "automountServiceAccountToken", Bool),
    ],
};

static OBJECT_REFERENCE: Message = Message {
    name: "ObjectReference",
    fields: &[
        one(1, "kind", S),
        one(2, "namespace", S),
        one(3, "name", S),
        one(4, "uid", S),
        one(5, "apiVersion", S),
        one(6, "resourceVersion", S),
        one(7, "fieldPath", S),
    ],
};

pub(super) static LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "LocalObjectReference",
    fields: &[one(1, "name", S)],
};

static SERVICE: Message = Message {
    name: "Service",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        one(2, "spec", M(&SERVICE_SPEC)),
        one(3, "status", M(&SERVICE_STATUS)),
    ],
};

static SERVICE_SPEC: Message = Message {
    name: "ServiceSpec",
    fields: &[
        many(1, "ports", M(&SERVICE_PORT)),
        one(2, "selector", StringMap),
        one(3, "clusterIP", S),
        one(4, "type", S),
        many(5, "externalIPs", S),
        one(7, "sessionAffinity", S),
        one(8, "loadBalancerIP", S),
        many(9, "loadBalancerSourceRanges", S),
        one(10, "externalName", S),
        one(11, "externalTrafficPolicy", S),
        one(12, "healthCheckNodePort", Int),
        one(13, "publishNotReadyAddresses", Bool),
        pointer(17, "ipFamilyPolicy", S),
        many(18, "clusterIPs", S),
        many(19, "ipFamilies", S),
        pointer(20, "allocateLoadBalancerNodePorts", Bool),
        pointer(21, "loadBalancerClass", S),
        pointer(22, "internalTrafficPolicy", S),
        pointer(23, "trafficDistribution", S),
    ],
};

static SERVICE_PORT: Message = Message {
    name: "ServicePort",
    fields: &[
        one(1, "name", S),
        one(2, "protocol", S),
        one(3, "port", Int),
        one(4, "targetPort", IntOrString),
        one(5, "nodePort", Int),
        pointer(6, "appProtocol", S),
    ],
};

static SERVICE_STATUS: Message = Message {
    name: "ServiceStatus",
    fields: &[one(1, "loadBalancer", M(&LOAD_BALANCER_STATUS))],
};

static LOAD_BALANCER_STATUS: Message = Message {
    name: "LoadBalancerStatus",
    fields: &[],
};

// Quantity, Time and IntOrString are messages on the wire, plain values in
// JSON: their numbers are read in `decode`.
pub(crate) const QUANTITY_STRING: u32 = 1;
pub(crate) const TIME_SECONDS: u32 = 1;
pub(crate) const TIME_NANOS: u32 = 2;
pub(crate) const INT_OR_STRING_TYPE: u32 = 1;
pub(crate) const INT_OR_STRING_INT: u32 = 2;
pub(crate) const INT_OR_STRING_STRING: u32 = 3;
/// `runtime.Unknown`, the envelope after the `k8s\0` magic.
pub(crate) const UNKNOWN_TYPE_META: u32 = 1;
pub(crate) const UNKNOWN_RAW: u32 = 2;
pub(crate) const TYPE_META_API_VERSION: u32 = 1;
pub(crate) const TYPE_META_KIND: u32 = 2;

#[cfg(test)]
pub(crate) fn every_message() -> Vec<&'static Message> {
    vec![
        &OBJECT_META,
        &OWNER_REFERENCE,
        &LABEL_SELECTOR,
        &LABEL_SELECTOR_REQUIREMENT,
        &NAMESPACE,
        &NAMESPACE_SPEC,
        &NAMESPACE_STATUS,
        &SECRET,
        &CONFIG_MAP,
        &SERVICE_ACCOUNT,
        &OBJECT_REFERENCE,
        &LOCAL_OBJECT_REFERENCE,
        &DEPLOYMENT,
        &DEPLOYMENT_SPEC,
        &DEPLOYMENT_STRATEGY,
        &ROLLING_UPDATE_DEPLOYMENT,
        &POD_TEMPLATE_SPEC,
        &POD_SPEC,
        &CONTAINER,
        &CONTAINER_PORT,
        &ENV_VAR,
        &ENV_VAR_SOURCE,
        &OBJECT_FIELD_SELECTOR,
        &ENV_FROM_SOURCE,
        &RESOURCE_REQUIREMENTS,
        &VOLUME_MOUNT,
        &POD,
        &POD_STATUS,
        &JOB,
        &JOB_SPEC,
        &JOB_STATUS,
        &CRON_JOB,
        &CRON_JOB_SPEC,
        &CRON_JOB_STATUS,
        &JOB_TEMPLATE_SPEC,
        &SERVICE,
        &SERVICE_SPEC,
        &SERVICE_PORT,
        &SERVICE_STATUS,
    ]
}
