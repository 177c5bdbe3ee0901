//! The pod and its template: what `run` sends, and what every workload embeds.

use super::Kind::{Bool, Inline, Int, Message as M, QuantityMap, String as S, StringMap};
use super::{LOCAL_OBJECT_REFERENCE, Message, OBJECT_META, many, one, pointer};

pub(super) static POD_TEMPLATE_SPEC: Message = Message {
    name: "PodTemplateSpec",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        one(2, "spec", M(&POD_SPEC)),
    ],
};

pub(super) static POD_SPEC: Message = Message {
    name: "PodSpec",
    fields: &[
        many(2, "containers", M(&CONTAINER)),
        one(3, "restartPolicy", S),
        pointer(4, "terminationGracePeriodSeconds", Int),
        pointer(5, "activeDeadlineSeconds", Int),
        one(6, "dnsPolicy", S),
        one(7, "nodeSelector", StringMap),
        one(8, "serviceAccountName", S),
        one(9, "serviceAccount", S),
        one(10, "nodeName", S),
        one(11, "hostNetwork", Bool),
        one(12, "hostPID", Bool),
        one(13, "hostIPC", Bool),
        many(15, "imagePullSecrets", M(&LOCAL_OBJECT_REFERENCE)),
        one(16, "hostname", S),
        one(17, "subdomain", S),
        one(19, "schedulerName", S),
        many(20, "initContainers", M(&CONTAINER)),
        pointer(21, "automountServiceAccountToken", Bool),
        one(24, "priorityClassName", S),
        pointer(25, "priority", Int),
        pointer(27, "shareProcessNamespace", Bool),
        pointer(29, "runtimeClassName", S),
        pointer(30, "enableServiceLinks", Bool),
        pointer(31, "preemptionPolicy", S),
        pointer(35, "setHostnameAsFQDN", Bool),
        pointer(37, "hostUsers", Bool),
        pointer(41, "hostnameOverride", S),
    ],
};

pub(super) static CONTAINER: Message = Message {
    name: "Container",
    fields: &[
        one(1, "name", S),
        one(2, "image", S),
        many(3, "command", S),
        many(4, "args", S),
        one(5, "workingDir", S),
        many(6, "ports", M(&CONTAINER_PORT)),
        many(7, "env", M(&ENV_VAR)),
        one(8, "resources", M(&RESOURCE_REQUIREMENTS)),
        many(9, "volumeMounts", M(&VOLUME_MOUNT)),
        one(13, "terminationMessagePath", S),
        one(14, "imagePullPolicy", S),
        one(16, "stdin", Bool),
        one(17, "stdinOnce", Bool),
        one(18, "tty", Bool),
        many(19, "envFrom", M(&ENV_FROM_SOURCE)),
        one(20, "terminationMessagePolicy", S),
        pointer(24, "restartPolicy", S),
    ],
};

pub(super) static CONTAINER_PORT: Message = Message {
    name: "ContainerPort",
    fields: &[
        one(1, "name", S),
        one(2, "hostPort", Int),
        one(3, "containerPort", Int),
        one(4, "protocol", S),
        one(5, "hostIP", S),
    ],
};

pub(super) static ENV_VAR: Message = Message {
    name: "EnvVar",
    fields: &[
        one(1, "name", S),
        one(2, "value", S),
        one(3, "valueFrom", M(&ENV_VAR_SOURCE)),
    ],
};

pub(super) static ENV_VAR_SOURCE: Message = Message {
    name: "EnvVarSource",
    fields: &[
        one(1, "fieldRef", M(&OBJECT_FIELD_SELECTOR)),
        one(3, "configMapKeyRef", M(&KEY_SELECTOR)),
        one(4, "secretKeyRef", M(&KEY_SELECTOR)),
    ],
};

pub(super) static OBJECT_FIELD_SELECTOR: Message = Message {
    name: "ObjectFieldSelector",
    fields: &[one(1, "apiVersion", S), one(2, "fieldPath", S)],
};

/// `ConfigMapKeySelector` and `SecretKeySelector` share their numbers.
pub(super) static KEY_SELECTOR: Message = Message {
    name: "KeySelector",
    fields: &[
        one(1, "", Inline(&LOCAL_OBJECT_REFERENCE)),
        one(2, "key", S),
        pointer(3, "optional", Bool),
    ],
};

pub(super) static ENV_FROM_SOURCE: Message = Message {
    name: "EnvFromSource",
    fields: &[
        one(1, "prefix", S),
        one(2, "configMapRef", M(&ENV_SOURCE)),
        one(3, "secretRef", M(&ENV_SOURCE)),
    ],
};

/// `ConfigMapEnvSource` and `SecretEnvSource` share their numbers.
pub(super) static ENV_SOURCE: Message = Message {
    name: "EnvSource",
    fields: &[
        one(1, "", Inline(&LOCAL_OBJECT_REFERENCE)),
        pointer(2, "optional", Bool),
    ],
};

pub(super) static RESOURCE_REQUIREMENTS: Message = Message {
    name: "ResourceRequirements",
    fields: &[
        one(1, "limits", QuantityMap),
        one(2, "requests", QuantityMap),
    ],
};

pub(super) static VOLUME_MOUNT: Message = Message {
    name: "VolumeMount",
    fields: &[
        one(1, "name", S),
        one(2, "readOnly", Bool),
        one(3, "mountPath", S),
        one(4, "subPath", S),
        pointer(5, "mountPropagation", S),
        one(6, "subPathExpr", S),
        pointer(7, "recursiveReadOnly", S),
    ],
};

pub(super) static POD: Message = Message {
    name: "Pod",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        one(2, "spec", M(&POD_SPEC)),
        one(3, "status", M(&POD_STATUS)),
    ],
};

pub(super) static POD_STATUS: Message = Message {
    name: "PodStatus",
    fields: &[
        one(1, "phase", S),
        one(3, "message", S),
        one(4, "reason", S),
        one(5, "hostIP", S),
        one(6, "podIP", S),
        one(9, "qosClass", S),
        one(11, "nominatedNodeName", S),
        one(14, "resize", S),
        one(17, "observedGeneration", Int),
    ],
};
