//! Deployments, Jobs and CronJobs: a pod template and how to run it.

use super::Kind::{Bool, Int, IntOrString, Message as M, String as S, Time};
use super::pod::POD_TEMPLATE_SPEC;
use super::{LABEL_SELECTOR, Message, OBJECT_META, one, pointer};

pub(super) static DEPLOYMENT: Message = Message {
    name: "Deployment",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        one(2, "spec", M(&DEPLOYMENT_SPEC)),
        one(3, "status", M(&WORKLOAD_STATUS)),
    ],
};

pub(super) static DEPLOYMENT_SPEC: Message = Message {
    name: "DeploymentSpec",
    fields: &[
        pointer(1, "replicas", Int),
        one(2, "selector", M(&LABEL_SELECTOR)),
        one(3, "template", M(&POD_TEMPLATE_SPEC)),
        one(4, "strategy", M(&DEPLOYMENT_STRATEGY)),
        one(5, "minReadySeconds", Int),
        pointer(6, "revisionHistoryLimit", Int),
        one(7, "paused", Bool),
        pointer(9, "progressDeadlineSeconds", Int),
    ],
};

pub(super) static DEPLOYMENT_STRATEGY: Message = Message {
    name: "DeploymentStrategy",
    fields: &[
        one(1, "type", S),
        one(2, "rollingUpdate", M(&ROLLING_UPDATE_DEPLOYMENT)),
    ],
};

pub(super) static ROLLING_UPDATE_DEPLOYMENT: Message = Message {
    name: "RollingUpdateDeployment",
    fields: &[
        one(1, "maxUnavailable", IntOrString),
        one(2, "maxSurge", IntOrString),
    ],
};

/// What a generator sends as status: nothing (`status: {}`); the counters
/// are listed so a status read back from a server still decodes.
pub(super) static WORKLOAD_STATUS: Message = Message {
    name: "Status",
    fields: &[
        one(1, "observedGeneration", Int),
        one(2, "replicas", Int),
        one(3, "updatedReplicas", Int),
        one(4, "availableReplicas", Int),
        one(5, "unavailableReplicas", Int),
        one(7, "readyReplicas", Int),
        pointer(8, "collisionCount", Int),
        pointer(9, "terminatingReplicas", Int),
    ],
};

pub(super) static JOB: Message = Message {
    name: "Job",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        one(2, "spec", M(&JOB_SPEC)),
        one(3, "status", M(&JOB_STATUS)),
    ],
};

pub(super) static JOB_SPEC: Message = Message {
    name: "JobSpec",
    fields: &[
        pointer(1, "parallelism", Int),
        pointer(2, "completions", Int),
        pointer(3, "activeDeadlineSeconds", Int),
        one(4, "selector", M(&LABEL_SELECTOR)),
        pointer(5, "manualSelector", Bool),
        one(6, "template", M(&POD_TEMPLATE_SPEC)),
        pointer(7, "backoffLimit", Int),
        pointer(8, "ttlSecondsAfterFinished", Int),
        one(9, "completionMode", S),
        pointer(10, "suspend", Bool),
        pointer(12, "backoffLimitPerIndex", Int),
        pointer(13, "maxFailedIndexes", Int),
        pointer(14, "podReplacementPolicy", S),
        pointer(15, "managedBy", S),
    ],
};

pub(super) static JOB_STATUS: Message = Message {
    name: "JobStatus",
    fields: &[
        one(2, "startTime", Time),
        one(3, "completionTime", Time),
        one(4, "active", Int),
        one(5, "succeeded", Int),
        one(6, "failed", Int),
        one(7, "completedIndexes", S),
        pointer(9, "ready", Int),
        one(10, "failedIndexes", S),
        pointer(11, "terminating", Int),
    ],
};

pub(super) static CRON_JOB: Message = Message {
    name: "CronJob",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        one(2, "spec", M(&CRON_JOB_SPEC)),
        one(3, "status", M(&CRON_JOB_STATUS)),
    ],
};

pub(super) static CRON_JOB_SPEC: Message = Message {
    name: "CronJobSpec",
    fields: &[
        one(1, "schedule", S),
        pointer(2, "startingDeadlineSeconds", Int),
        one(3, "concurrencyPolicy", S),
        pointer(4, "suspend", Bool),
        one(5, "jobTemplate", M(&JOB_TEMPLATE_SPEC)),
        pointer(6, "successfulJobsHistoryLimit", Int),
        pointer(7, "failedJobsHistoryLimit", Int),
        pointer(8, "timeZone", S),
    ],
};

pub(super) static CRON_JOB_STATUS: Message = Message {
    name: "CronJobStatus",
    fields: &[
        one(4, "lastScheduleTime", Time),
        one(5, "lastSuccessfulTime", Time),
    ],
};

pub(super) static JOB_TEMPLATE_SPEC: Message = Message {
    name: "JobTemplateSpec",
    fields: &[
        one(1, "metadata", M(&OBJECT_META)),
        one(2, "spec", M(&JOB_SPEC)),
    ],
};
