//! The Kubernetes objects of a distributed run, as JSON values (written as YAML by
//! [`super::yaml`]): ConfigMap, results claim, Indexed Job of shards, merge Job.

use super::k8s::Deployment;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

const SCENARIO_DIR: &str = "/etc/proxylab";
/// Where the results volume is mounted.
pub const RESULTS_DIR: &str = "/results";

fn meta(d: &Deployment, name: &str, component: &str) -> Value {
    let mut m = json!({
        "name": name,
        "labels": {
            "app.kubernetes.io/name": "proxylab",
            "app.kubernetes.io/component": component,
            "proxylab.dev/run": d.run_id,
        }
    });
    if let Some(ns) = &d.args.namespace {
        m["namespace"] = json!(ns);
    }
    m
}

fn volumes(d: &Deployment) -> Value {
    json!([
        { "name": "scenario", "configMap": { "name": format!("{}-scenario", d.name) } },
        { "name": "results", "persistentVolumeClaim": { "claimName": format!("{}-results", d.name) } }
    ])
}

fn mounts() -> Value {
    json!([
        { "name": "scenario", "mountPath": SCENARIO_DIR, "readOnly": true },
        { "name": "results", "mountPath": RESULTS_DIR }
    ])
}

/// Labels of a shard pod, and Prometheus' scrape annotations when it serves /metrics.
fn shard_pod_meta(d: &Deployment) -> Value {
    let mut m = json!({ "labels": { "app.kubernetes.io/name": "proxylab", "app.kubernetes.io/component": "shard" } });
    if let Some(p) = d.args.metrics_port {
        m["annotations"] = json!({
            "prometheus.io/scrape": "true",
            "prometheus.io/port": p.to_string(),
            "prometheus.io/path": "/metrics"
        });
    }
    m
}

fn shard_container(d: &Deployment, args: Vec<String>) -> Value {
    let mut c = container(d, "shard", args);
    if let Some(p) = d.args.metrics_port {
        c["ports"] = json!([{ "name": "metrics", "containerPort": p }]);
    }
    c
}

/// The image's non-root user; `fsGroup` lets it write the results volume.
fn pod_security() -> Value {
    json!({ "runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532 })
}

fn container(d: &Deployment, name: &str, args: Vec<String>) -> Value {
    json!({
        "name": name,
        "image": d.args.image,
        "args": args,
        "volumeMounts": mounts(),
        "resources": {
            "requests": { "cpu": d.args.cpu, "memory": d.args.memory },
            "limits": { "cpu": d.args.cpu, "memory": d.args.memory }
        },
        "securityContext": { "allowPrivilegeEscalation": false }
    })
}

/// `proxylab run` arguments of every shard pod.
fn shard_args(d: &Deployment) -> Vec<String> {
    let mut run = vec![
        "run".to_string(),
        format!("{SCENARIO_DIR}/scenario.toml"),
        "--ci".into(),
        format!("--shards={}", d.args.shards),
        format!("--start-at={}", d.start_at),
        format!("--out={RESULTS_DIR}/{}", d.run_id),
    ];
    if let Some(v) = &d.args.variant {
        run.push(format!("--variant={v}"));
    }
    if let Some(url) = &d.args.metrics_push {
        run.push(format!("--metrics-push={url}"));
    }
    if let Some(p) = d.args.metrics_port {
        run.push(format!("--metrics-listen=0.0.0.0:{p}"));
        run.push("--metrics-linger=30s".into());
    }
    if d.args.metrics_push.is_some() || d.args.metrics_port.is_some() {
        run.push(format!("--metrics-labels=run={}", d.run_id));
    }
    run.extend(d.args.run_args.iter().cloned());
    run
}

/// `proxylab merge-shards` arguments: the shards finish within the time to the start, the
/// duration and their teardown; the merge waits that long plus 10 minutes, then fails naming
/// the missing shards.
fn merge_args(d: &Deployment) -> Vec<String> {
    let wait = wait_after_start(d) + d.duration + Duration::from_secs(600);
    vec![
        "merge-shards".to_string(),
        format!("{RESULTS_DIR}/{}", d.run_id),
        format!("--shards={}", d.args.shards),
        format!("--wait={}s", wait.as_secs()),
        format!("--scenario={SCENARIO_DIR}/scenario.toml"),
    ]
}

fn config_map(d: &Deployment) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": meta(d, &format!("{}-scenario", d.name), "scenario"),
        "data": { "scenario.toml": d.scenario_text }
    })
}

fn results_claim(d: &Deployment) -> Value {
    let mut spec = json!({
        "accessModes": ["ReadWriteMany"],
        "resources": { "requests": { "storage": d.args.storage } }
    });
    if let Some(c) = &d.args.storage_class {
        spec["storageClassName"] = json!(c);
    }
    json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": meta(d, &format!("{}-results", d.name), "results"),
        "spec": spec
    })
}

fn shards_job(d: &Deployment) -> Value {
    let n = d.args.shards;
    let name = format!("{}-shards", d.name);
    let selector = json!({ "matchLabels": { "batch.kubernetes.io/job-name": name } });
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": meta(d, &name, "shard"),
        "spec": {
            "completionMode": "Indexed",
            "completions": n,
            "parallelism": n,
            "backoffLimit": 0,
            "template": {
                "metadata": shard_pod_meta(d),
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": pod_security(),
                    "containers": [shard_container(d, shard_args(d))],
                    "volumes": volumes(d),
                    "topologySpreadConstraints": [{
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": selector
                    }]
                }
            }
        }
    })
}

fn merge_job(d: &Deployment) -> Value {
    let labels =
        json!({ "app.kubernetes.io/name": "proxylab", "app.kubernetes.io/component": "merge" });
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": meta(d, &format!("{}-merge", d.name), "merge"),
        "spec": {
            "completions": 1,
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": labels },
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": pod_security(),
                    "containers": [container(d, "merge", merge_args(d))],
                    "volumes": volumes(d)
                }
            }
        }
    })
}

/// The four manifests, as (file name, object).
pub fn manifests(d: &Deployment) -> Vec<(&'static str, Value)> {
    vec![
        ("00-configmap.yaml", config_map(d)),
        ("01-results-pvc.yaml", results_claim(d)),
        ("02-shards-job.yaml", shards_job(d)),
        ("03-merge-job.yaml", merge_job(d)),
    ]
}

/// Time from now until the start (zero when it has passed or cannot be read).
fn wait_after_start(d: &Deployment) -> Duration {
    proxylab_loadgen::cli::start_at::parse(&d.start_at)
        .ok()
        .and_then(|t| t.duration_since(SystemTime::now()).ok())
        .unwrap_or_default()
}
