//! The deployment files in `deploy/`: the Kubernetes manifests fit together (a PostgreSQL
//! with a volume, its Service, a Secret whose URL names that Service, an Indexed Job of
//! workers reading `FCNSWEEP_DB` from the Secret, the example sweep in a ConfigMap), the
//! Dockerfile builds with `--locked` and runs `fcnsweep`, and the Slurm scripts refuse a
//! missing or (on a cluster) SQLite database and, without `sbatch`, run the array's tasks
//! locally, throttled, with one log pair per task.
//!
//! The Slurm tests run the scripts with a stub binary written into their temp dir, except
//! [`submit_locally_trains_a_registered_sweep_to_every_trial_done_once`], which runs the
//! real `fcnsweep worker` and `fcnsweep sweep register`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_yaml::Value;

use crate::common::{
    self, check_complete, heavy, open_ro, s, sweep_trials, tempdir, write_tiny_dataset, Out, BIN,
};
use crate::data::{TINY_TEST, TINY_TRAIN};

// ---------------------------------------------------------------------------------------
// Kubernetes

/// One YAML document of deploy/k8s, with the file it came from.
struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        str_at(&self.value, "kind").unwrap_or("")
    }

    fn name(&self) -> &str {
        str_at(&self.value, "metadata.name").unwrap_or("")
    }

    /// `file: Kind/name`, for messages.
    fn what(&self) -> String {
        format!("{}: {}/{}", self.file, self.kind(), self.name())
    }
}

/// Every non-empty document of every deploy/k8s/*.yaml, in file order.
fn k8s_docs() -> Vec<Doc> {
    let dir = common::repo_root().join("deploy/k8s");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no YAML files in {}", dir.display());
    let mut docs = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(&path).unwrap();
        for (i, de) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let value = Value::deserialize(de)
                .unwrap_or_else(|e| panic!("{file}: document {}: {e}", i + 1));
            if value.is_null() {
                continue;
            }
            let doc = Doc {
                file: file.clone(),
                value,
            };
            assert!(
                str_at(&doc.value, "apiVersion").is_some()
                    && !doc.kind().is_empty()
                    && !doc.name().is_empty(),
                "{file}: document {} lacks apiVersion, kind or metadata.name",
                i + 1
            );
            docs.push(doc);
        }
    }
    docs
}

/// The value at a dotted path of mapping keys (`spec.template.spec`).
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

/// The string at a dotted path.
fn str_at<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    at(v, path)?.as_str()
}

/// The sequence at a dotted path (empty when absent).
fn seq_at<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A container's command followed by its args. Kubernetes takes strings only: a number or
/// boolean there (`- 2` instead of `- "2"`) is refused by the API server, so it fails here.
fn command_line(container: &Value, what: &str) -> Vec<String> {
    let mut line = Vec::new();
    for key in ["command", "args"] {
        for item in seq_at(container, key) {
            match item.as_str() {
                Some(a) => line.push(a.to_string()),
                None => panic!("{what}: {key} item {item:?} is not a string"),
            }
        }
    }
    line
}

/// The value after `flag` in a command line.
fn flag_value<'a>(line: &'a [String], flag: &str) -> Option<&'a str> {
    line.iter()
        .position(|a| a == flag)
        .and_then(|i| line.get(i + 1))
        .map(String::as_str)
}

/// Every value after `flag` in a command line.
fn flag_values(line: &[String], flag: &str) -> Vec<String> {
    line.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].clone())
        .collect()
}

/// `(secret name, key)` of the env var `name` of a container, when it is a secretKeyRef.
fn secret_ref(container: &Value, name: &str) -> Option<(String, String)> {
    let var = seq_at(container, "env")
        .iter()
        .find(|e| str_at(e, "name") == Some(name))?;
    let r = at(var, "valueFrom.secretKeyRef")?;
    Some((
        str_at(r, "name")?.to_string(),
        str_at(r, "key")?.to_string(),
    ))
}

/// The Secrets' `stringData`: secret name -> key -> value.
fn secrets(docs: &[Doc]) -> BTreeMap<String, BTreeMap<String, String>> {
    docs.iter()
        .filter(|d| d.kind() == "Secret")
        .map(|d| {
            let data = at(&d.value, "stringData")
                .and_then(Value::as_mapping)
                .unwrap_or_else(|| panic!("{}: keep the values in stringData", d.what()));
            let data = data
                .iter()
                .map(|(k, v)| {
                    let k = k.as_str().expect("string key").to_string();
                    let v = v
                        .as_str()
                        .unwrap_or_else(|| panic!("{}: {k} is not a string", d.what()));
                    (k, v.to_string())
                })
                .collect();
            (d.name().to_string(), data)
        })
        .collect()
}

/// The pieces of a `postgres://user:password@host:port/db?params` URL.
#[derive(Debug, Default, PartialEq)]
struct PgUrl {
    user: String,
    password: String,
    host: String,
    port: Option<u16>,
    db: String,
}

fn parse_pg_url(url: &str) -> Option<PgUrl> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (&authority[..i], &authority[i + 1..]),
        None => ("", authority),
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = match hostport.split_once(':') {
        Some((h, p)) => (h, Some(p.parse().ok()?)),
        None => (hostport, None),
    };
    Some(PgUrl {
        user: user.into(),
        password: password.into(),
        host: host.into(),
        port,
        db: path.split('?').next().unwrap_or("").into(),
    })
}

/// A CPU quantity (`2`, `1.5`, `500m`) in millicores.
fn millicores(q: &Value) -> Option<u64> {
    let text = match q {
        Value::String(t) => t.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    match text.strip_suffix('m') {
        Some(m) => m.parse().ok(),
        None => text
            .parse::<f64>()
            .ok()
            .map(|c| (c * 1000.0).round() as u64),
    }
}

/// Whether a Service's selector picks the pods of a workload's template.
fn selects(service: &Value, workload: &Value) -> bool {
    let (Some(sel), Some(labels)) = (
        at(service, "spec.selector").and_then(Value::as_mapping),
        at(workload, "spec.template.metadata.labels").and_then(Value::as_mapping),
    ) else {
        return false;
    };
    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn k8s_manifests_run_workers_against_the_postgres_they_define() {
    let docs = k8s_docs();
    let secrets = secrets(&docs);

    // 1. A PostgreSQL workload whose data directory is on a volume.
    let postgres: Vec<&Doc> = docs
        .iter()
        .filter(|d| matches!(d.kind(), "StatefulSet" | "Deployment"))
        .filter(|d| {
            seq_at(&d.value, "spec.template.spec.containers")
                .iter()
                .any(|c| image_name(c) == "postgres")
        })
        .collect();
    assert_eq!(
        postgres.len(),
        1,
        "expected one StatefulSet or Deployment running the postgres image"
    );
    let pg = postgres[0];
    let pg_container = seq_at(&pg.value, "spec.template.spec.containers")
        .iter()
        .find(|c| image_name(c) == "postgres")
        .unwrap();
    let mut volumes: BTreeSet<&str> = seq_at(&pg.value, "spec.volumeClaimTemplates")
        .iter()
        .filter_map(|t| str_at(t, "metadata.name"))
        .collect();
    volumes.extend(
        seq_at(&pg.value, "spec.template.spec.volumes")
            .iter()
            .filter(|v| at(v, "persistentVolumeClaim").is_some())
            .filter_map(|v| str_at(v, "name")),
    );
    let data_mount = seq_at(pg_container, "volumeMounts").iter().find(|m| {
        str_at(m, "name").is_some_and(|n| volumes.contains(n))
            && str_at(m, "mountPath").is_some_and(|p| p.starts_with("/var/lib/postgresql"))
    });
    assert!(
        data_mount.is_some(),
        "{}: the postgres container must mount a persistent volume (claim template or PVC) \
         under /var/lib/postgresql; persistent volumes: {volumes:?}",
        pg.what()
    );

    // 2. A Service in front of it, on PostgreSQL's port.
    let services: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.kind() == "Service" && selects(&d.value, &pg.value))
        .collect();
    assert_eq!(
        services.len(),
        1,
        "expected one Service selecting the pods of {}",
        pg.what()
    );
    let service = services[0].name();
    assert!(
        seq_at(&services[0].value, "spec.ports")
            .iter()
            .any(|p| at(p, "port").and_then(Value::as_u64) == Some(5432)),
        "{}: no port 5432",
        services[0].what()
    );

    // 3. The worker Job: Indexed, parallelism <= completions, a retry budget, and a
    //    container that runs `worker` with FCNSWEEP_DB from a Secret defined here.
    let workers: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.kind() == "Job" && str_at(&d.value, "spec.completionMode") == Some("Indexed"))
        .collect();
    assert_eq!(
        workers.len(),
        1,
        "expected one Job with completionMode: Indexed"
    );
    let job = workers[0];
    assert_eq!(
        str_at(&job.value, "apiVersion"),
        Some("batch/v1"),
        "{}",
        job.what()
    );
    let count = |key: &str| {
        at(&job.value, &format!("spec.{key}"))
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{}: spec.{key} must be a whole number", job.what()))
    };
    let (completions, parallelism) = (count("completions"), count("parallelism"));
    assert!(
        1 <= parallelism && parallelism <= completions,
        "{}: parallelism {parallelism}, completions {completions}",
        job.what()
    );
    count("backoffLimit");
    let containers = seq_at(&job.value, "spec.template.spec.containers");
    let worker = containers
        .iter()
        .find(|c| command_line(c, &job.what()).iter().any(|a| a == "worker"))
        .unwrap_or_else(|| panic!("{}: no container runs `fcnsweep worker`", job.what()));
    let line = command_line(worker, &job.what());
    assert_eq!(
        flag_value(&line, "--db"),
        Some("$(FCNSWEEP_DB)"),
        "{}: the worker's --db must be $(FCNSWEEP_DB): {line:?}",
        job.what()
    );
    let (secret, key) = secret_ref(worker, "FCNSWEEP_DB").unwrap_or_else(|| {
        panic!(
            "{}: env FCNSWEEP_DB must come from a secretKeyRef",
            job.what()
        )
    });
    let url = secrets
        .get(&secret)
        .and_then(|data| data.get(&key))
        .unwrap_or_else(|| {
            panic!(
                "{}: FCNSWEEP_DB reads key {key} of Secret {secret}, which the files do not \
                 define (Secrets: {secrets:?})",
                job.what()
            )
        });
    let pg_url = parse_pg_url(url)
        .unwrap_or_else(|| panic!("Secret {secret}, key {key}: {url} is not a postgres:// URL"));
    assert_eq!(
        pg_url.host.split('.').next(),
        Some(service),
        "the URL's host must be the PostgreSQL Service ({service}): {url}"
    );
    assert!(pg_url.port.is_none_or(|p| p == 5432), "{url}: port");
    // The URL's credentials are the ones the postgres container is started with.
    for (var, part) in [
        ("POSTGRES_USER", &pg_url.user),
        ("POSTGRES_PASSWORD", &pg_url.password),
        ("POSTGRES_DB", &pg_url.db),
    ] {
        if let Some((s, k)) = secret_ref(pg_container, var) {
            assert_eq!(
                secrets.get(&s).and_then(|d| d.get(&k)),
                Some(part),
                "{var} of {} differs from the worker URL's",
                pg.what()
            );
        }
    }

    // 4. Resources: requests and limits, and no more trials at once than CPUs.
    for key in [
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
    ] {
        assert!(
            at(worker, &format!("resources.{key}")).is_some(),
            "{}: the worker container has no resources.{key}",
            job.what()
        );
    }
    let cpu_limit = millicores(at(worker, "resources.limits.cpu").unwrap()).expect("cpu limit");
    if let Some(jobs) = flag_value(&line, "--jobs").or(flag_value(&line, "-j")) {
        let jobs: u64 = jobs.parse().expect("--jobs is a number");
        assert!(
            jobs * 1000 <= cpu_limit,
            "{}: --jobs {jobs} trials at once on a {cpu_limit}m CPU limit",
            job.what()
        );
    }

    // 5. The example sweep: a ConfigMap holding a valid spec, registered by a Job that
    //    mounts it, named by the workers' --sweep, its dataset fetched by their init
    //    container.
    let sweeps = flag_values(&line, "--sweep");
    let fetched: Vec<String> = seq_at(&job.value, "spec.template.spec.initContainers")
        .iter()
        .flat_map(|c| flag_values(&command_line(c, &job.what()), "--dataset"))
        .collect();
    let registers: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.kind() == "Job")
        .filter(|d| {
            seq_at(&d.value, "spec.template.spec.containers")
                .iter()
                .any(|c| {
                    command_line(c, &d.what())
                        .windows(2)
                        .any(|w| w == ["sweep", "register"])
                })
        })
        .collect();
    for reg in registers {
        check_register_job(reg, &docs, &secrets, &sweeps, &fetched);
    }
}

/// The image's name without registry, path and tag: `docker.io/library/postgres:17` ->
/// `postgres`.
fn image_name(container: &Value) -> &str {
    let image = str_at(container, "image").unwrap_or("");
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split([':', '@']).next().unwrap_or(last)
}

/// A `fcnsweep sweep register FILE` Job: FILE is a key of a ConfigMap of the files, mounted
/// where FILE points; the spec plans; FCNSWEEP_DB comes from a defined Secret; the workers'
/// `--sweep` names (if any) include the spec's, and their fetched datasets its dataset.
fn check_register_job(
    reg: &Doc,
    docs: &[Doc],
    secrets: &BTreeMap<String, BTreeMap<String, String>>,
    sweeps: &[String],
    fetched: &[String],
) {
    let pod = at(&reg.value, "spec.template.spec").expect("pod spec");
    let container = seq_at(pod, "containers")
        .iter()
        .find(|c| {
            command_line(c, &reg.what())
                .windows(2)
                .any(|w| w == ["sweep", "register"])
        })
        .unwrap();
    let line = command_line(container, &reg.what());
    let (secret, key) = secret_ref(container, "FCNSWEEP_DB")
        .unwrap_or_else(|| panic!("{}: FCNSWEEP_DB must come from a secretKeyRef", reg.what()));
    assert!(
        secrets.get(&secret).is_some_and(|d| d.contains_key(&key)),
        "{}: Secret {secret} key {key} is not defined",
        reg.what()
    );
    let file = line[line.iter().position(|a| a == "register").unwrap() + 1..]
        .iter()
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| panic!("{}: no spec file after `register`", reg.what()));
    let file = Path::new(file);
    let mount = seq_at(container, "volumeMounts")
        .iter()
        .find(|m| str_at(m, "mountPath").is_some_and(|p| file.parent() == Some(Path::new(p))))
        .unwrap_or_else(|| panic!("{}: nothing is mounted at {}", reg.what(), file.display()));
    let volume = seq_at(pod, "volumes")
        .iter()
        .find(|v| str_at(v, "name") == str_at(mount, "name"))
        .unwrap_or_else(|| panic!("{}: the mount's volume is not defined", reg.what()));
    let config_map = str_at(volume, "configMap.name")
        .unwrap_or_else(|| panic!("{}: the spec's volume is not a ConfigMap", reg.what()));
    let cm = docs
        .iter()
        .find(|d| d.kind() == "ConfigMap" && d.name() == config_map)
        .unwrap_or_else(|| panic!("{}: ConfigMap {config_map} is not defined", reg.what()));
    let file_name = file.file_name().unwrap().to_str().unwrap();
    let spec = at(&cm.value, "data")
        .and_then(|d| d.get(file_name))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{}: no key {file_name}", cm.what()));

    // The spec is one fcnsweep accepts.
    let dir = tempdir();
    let path = dir.path().join(file_name);
    fs::write(&path, spec).unwrap();
    common::run(dir.path(), &["sweep", "plan", s(&path)]).ok();
    let parsed: Value = serde_yaml::from_str(spec).unwrap();
    let name = str_at(&parsed, "name").unwrap();
    let dataset = str_at(&parsed, "dataset").unwrap();
    assert!(
        sweeps.is_empty() || sweeps.iter().any(|s| s == name),
        "the workers train {sweeps:?}, the registered sweep is {name}"
    );
    assert!(
        fetched.is_empty() || fetched.iter().any(|d| d == dataset),
        "the workers fetch {fetched:?}, the sweep needs {dataset}"
    );
}

#[test]
fn pg_urls_are_parsed_into_their_parts() {
    assert_eq!(
        parse_pg_url("postgresql://u:p%40ss@db.ns.svc:6543/name?sslmode=require"),
        Some(PgUrl {
            user: "u".into(),
            password: "p%40ss".into(),
            host: "db.ns.svc".into(),
            port: Some(6543),
            db: "name".into(),
        })
    );
    assert_eq!(parse_pg_url("postgres://host").unwrap().host, "host");
    assert_eq!(parse_pg_url("sqlite:db.sqlite"), None);
    assert_eq!(millicores(&Value::from("500m")), Some(500));
    assert_eq!(millicores(&Value::from("2")), Some(2000));
    assert_eq!(millicores(&Value::from(1.5)), Some(1500));
}

// ---------------------------------------------------------------------------------------
// Docker

/// The Dockerfile's instructions: comments dropped, continuation lines joined, as
/// (upper-case keyword, rest).
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(t);
                let (kw, rest) = current.trim().split_once(' ').unwrap_or((&current, ""));
                out.push((kw.to_uppercase(), rest.trim().to_string()));
                current.clear();
            }
        }
    }
    out
}

/// `major.minor` of a version string.
fn major_minor(v: &str) -> (u32, u32) {
    let mut parts = v.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn dockerfile_builds_locked_and_runs_fcnsweep_as_a_user() {
    let root = common::repo_root();
    let text = fs::read_to_string(root.join("deploy/docker/Dockerfile")).unwrap();
    let ins = dockerfile_instructions(&text);
    let froms: Vec<&String> = ins
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, r)| r)
        .collect();
    assert!(froms.len() >= 2, "a multi-stage build: {froms:?}");

    // Builder: a pinned Rust image no older than the workspace's rust-version.
    let builder = froms[0].split_whitespace().next().unwrap();
    let tag = builder
        .strip_prefix("rust:")
        .unwrap_or_else(|| panic!("the first stage builds on a rust image: {builder}"));
    assert!(
        tag.ends_with("-bookworm"),
        "builder {builder}: the runtime's Debian"
    );
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let msrv = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"'))
        .expect("workspace rust-version");
    assert!(
        major_minor(tag.trim_end_matches("-bookworm")) >= major_minor(msrv),
        "builder {builder} is older than rust-version {msrv}"
    );
    assert!(
        ins.iter().any(|(k, r)| k == "RUN"
            && r.contains("cargo build")
            && r.contains("--release")
            && r.contains("--locked")),
        "no `RUN cargo build --release --locked`"
    );

    // Runtime: Debian slim, certificates, a non-root user, fcnsweep as the entry point.
    let last_from = ins.iter().rposition(|(k, _)| k == "FROM").unwrap();
    let runtime = &ins[last_from..];
    assert!(
        runtime[0].1.starts_with("debian:bookworm-slim"),
        "{:?}",
        runtime[0]
    );
    assert!(
        runtime
            .iter()
            .any(|(k, r)| k == "RUN" && r.contains("ca-certificates")),
        "the runtime installs ca-certificates"
    );
    let user = runtime
        .iter()
        .rfind(|(k, _)| k == "USER")
        .map(|(_, r)| r.split(':').next().unwrap().to_string())
        .expect("the runtime stage sets USER");
    assert!(user != "root" && user != "0", "USER {user}");
    let entry = runtime
        .iter()
        .rfind(|(k, _)| k == "ENTRYPOINT")
        .map(|(_, r)| r.as_str())
        .expect("an ENTRYPOINT");
    let entry: Vec<String> = serde_json::from_str(entry)
        .unwrap_or_else(|e| panic!("ENTRYPOINT {entry} is not the exec (JSON) form: {e}"));
    assert_eq!(
        Path::new(&entry[0]).file_name().and_then(|n| n.to_str()),
        Some("fcnsweep"),
        "ENTRYPOINT {entry:?}"
    );

    // The build context keeps .cargo/ (build settings) and drops target/.
    let ignore = fs::read_to_string(root.join("deploy/docker/Dockerfile.dockerignore")).unwrap();
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(patterns.contains(&"target"), "{patterns:?}");
    assert!(
        !patterns
            .iter()
            .any(|p| p.trim_matches('/').starts_with(".cargo")),
        "{patterns:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Slurm

/// deploy/slurm/NAME.
fn slurm(name: &str) -> PathBuf {
    common::repo_root().join("deploy/slurm").join(name)
}

/// PATH without any directory that holds an `sbatch`, so the scripts take the local path
/// even on a Slurm login node.
fn path_without_sbatch() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !d.join("sbatch").exists())
        .collect();
    std::env::join_paths(dirs)
        .unwrap()
        .into_string()
        .expect("UTF-8 PATH")
}

/// A script run in `cwd` without sbatch on PATH and without the caller's `FCNSWEEP_*`,
/// `SLURM_*` and `RUST_LOG` (a test run inside a Slurm job must not look like one).
fn script(cwd: &Path, program: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args)
        .current_dir(cwd)
        .env("PATH", path_without_sbatch())
        .env_remove("RUST_LOG")
        .env_remove("RAYON_NUM_THREADS")
        .stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("SLURM_") || k.starts_with("FCNSWEEP_") {
            c.env_remove(&*k);
        }
    }
    c
}

/// Runs a command to completion, at most `limit`; on timeout sends SIGTERM (the scripts
/// pass it on to their tasks), then SIGKILL, and panics.
fn run_script(mut c: Command, limit: Duration) -> Out {
    let cmdline = std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let dir = tempdir();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = c
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            std::thread::sleep(Duration::from_secs(5));
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmdline} did not finish within {limit:?}; stderr:\n{}",
                fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Out {
        cmdline,
        code: status.code(),
        signal: status.signal(),
        stdout: fs::read_to_string(&out).unwrap_or_default(),
        stderr: fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// Writes `<dir>/stub/fcnsweep`, a stand-in binary: each run records its arguments (one a
/// line) and Slurm/fcnsweep variables under `<dir>/stub/TASK.args|.env`, counts the tasks
/// running beside it into `TASK.peers`, sleeps a little, and exits 3 when its task is
/// `$STUB_FAIL_TASK`.
fn write_stub(dir: &Path) -> PathBuf {
    let stub_dir = dir.join("stub");
    fs::create_dir_all(stub_dir.join("running")).unwrap();
    let stub = stub_dir.join("fcnsweep");
    fs::write(
        &stub,
        r#"#!/bin/sh
set -eu
d="$(dirname "$0")"
t="${SLURM_ARRAY_TASK_ID:-none}"
printf '%s\n' "$@" >"$d/$t.args"
{
    echo "SLURM_JOB_ID=${SLURM_JOB_ID:-}"
    echo "SLURM_ARRAY_JOB_ID=${SLURM_ARRAY_JOB_ID:-}"
    echo "SLURM_ARRAY_TASK_COUNT=${SLURM_ARRAY_TASK_COUNT:-}"
    echo "SLURM_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-}"
    echo "FCNSWEEP_DB=${FCNSWEEP_DB:-}"
} >"$d/$t.env"
mkdir "$d/running/$t"
ls "$d/running" | wc -l | tr -d ' ' >"$d/$t.peers"
sleep 0.3
rmdir "$d/running/$t"
echo "stub task $t done"
[ "$t" != "${STUB_FAIL_TASK:-}" ] || exit 3
"#,
    )
    .unwrap();
    fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
    stub
}

/// The stub's record `<dir>/stub/TASK.EXT`.
fn stub_record(dir: &Path, task: &str, ext: &str) -> String {
    let p = dir.join("stub").join(format!("{task}.{ext}"));
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `logs/` files of the current directory `dir` ending in `suffix`, sorted.
fn logs(dir: &Path, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir.join("logs"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("fcnsweep-") && n.ends_with(suffix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn job_script_refuses_a_missing_database_and_sqlite_on_a_cluster() {
    let dir = tempdir();
    let job = slurm("fcnsweep-worker.sbatch");
    let sqlite = dir.path().join("r.sqlite");
    let sqlite_url = format!("sqlite:{}", s(&sqlite));
    // (SLURM_JOB_ID, FCNSWEEP_DB, fragments of the message). `true` as the binary: had the
    // script run it, it would exit 0.
    let cases: &[(Option<&str>, Option<&str>, &[&str])] = &[
        (None, None, &["FCNSWEEP_DB is not set", "postgres://"]),
        (Some("42"), None, &["FCNSWEEP_DB is not set"]),
        (None, Some(""), &["FCNSWEEP_DB is not set"]),
        (
            Some("42"),
            Some(s(&sqlite)),
            &[
                "FCNSWEEP_DB",
                "SQLite",
                "network file system",
                "NFS",
                "corrupt",
                "postgres://",
            ],
        ),
        (
            Some("42"),
            Some(&sqlite_url),
            &["FCNSWEEP_DB", "SQLite", "NFS"],
        ),
    ];
    for (job_id, db, fragments) in cases {
        let mut c = script(dir.path(), Path::new("bash"), &[s(&job)]);
        c.env("FCNSWEEP_BIN", "true");
        if let Some(id) = job_id {
            c.env("SLURM_JOB_ID", id);
        }
        if let Some(db) = db {
            c.env("FCNSWEEP_DB", db);
        }
        let out = run_script(c, Duration::from_secs(30));
        let what = format!("SLURM_JOB_ID={job_id:?} FCNSWEEP_DB={db:?}");
        assert_eq!(out.code, Some(2), "{what}:\n{out}");
        for f in *fragments {
            assert!(out.stderr.contains(f), "{what}: stderr lacks {f:?}:\n{out}");
        }
    }

    // A binary that is not there is refused the same way, before anything runs.
    let mut c = script(dir.path(), Path::new("bash"), &[s(&job)]);
    c.env("FCNSWEEP_DB", "postgres://u@h/db")
        .env("FCNSWEEP_BIN", s(&dir.path().join("no-such-fcnsweep")));
    run_script(c, Duration::from_secs(30)).code(2).stderr_has(&[
        "no-such-fcnsweep",
        "not found",
        "FCNSWEEP_BIN",
    ]);
}

#[test]
fn job_script_runs_one_worker_with_the_task_cpus_sweeps_and_extra_args() {
    let dir = tempdir();
    let stub = write_stub(dir.path());
    let job = slurm("fcnsweep-worker.sbatch");

    // On a cluster, with PostgreSQL: --jobs from SLURM_CPUS_PER_TASK, one --sweep per name,
    // the script's own arguments last; the URL's password neither on the command line nor
    // in the log.
    let url = "postgres://fcnsweep:s3cret@db.example.org:5432/fcnsweep";
    let mut c = script(
        dir.path(),
        Path::new("bash"),
        &[s(&job), "--idle-exit", "5"],
    );
    c.env("FCNSWEEP_BIN", &stub)
        .env("FCNSWEEP_DB", url)
        .env("FCNSWEEP_SWEEPS", " table1  table1-extra ")
        .env("SLURM_JOB_ID", "42")
        .env("SLURM_ARRAY_JOB_ID", "41")
        .env("SLURM_ARRAY_TASK_ID", "7")
        .env("SLURM_CPUS_PER_TASK", "3");
    let out = run_script(c, Duration::from_secs(30)).ok();
    assert_eq!(
        stub_record(dir.path(), "7", "args"),
        "worker\n--jobs\n3\n--sweep\ntable1\n--sweep\ntable1-extra\n--idle-exit\n5\n"
    );
    assert!(
        stub_record(dir.path(), "7", "env").contains(&format!("FCNSWEEP_DB={url}\n")),
        "the worker reads the database from FCNSWEEP_DB"
    );
    assert!(
        !out.stderr.contains("s3cret"),
        "password in the log:\n{out}"
    );
    assert!(out.stderr.contains("fcnsweep:***@db.example.org"), "{out}");

    // Locally (no SLURM_JOB_ID) an SQLite file is fine; no sweeps named, one job.
    let db = dir.path().join("r.sqlite");
    let mut c = script(dir.path(), Path::new("bash"), &[s(&job)]);
    c.env("FCNSWEEP_BIN", &stub)
        .env("FCNSWEEP_DB", &db)
        .env("SLURM_ARRAY_TASK_ID", "0");
    run_script(c, Duration::from_secs(30)).ok();
    assert_eq!(stub_record(dir.path(), "0", "args"), "worker\n--jobs\n1\n");
}

#[test]
fn submit_without_sbatch_runs_the_tasks_locally_throttled_with_a_log_pair_each() {
    let dir = tempdir();
    let stub = write_stub(dir.path());
    let db = dir.path().join("r.sqlite");
    let mut c = script(
        dir.path(),
        &slurm("submit.sh"),
        &[
            "--tasks",
            "3",
            "--parallel",
            "2",
            "--cpus",
            "2",
            "--",
            "--idle-exit",
            "0",
        ],
    );
    c.env("FCNSWEEP_BIN", &stub).env("FCNSWEEP_DB", &db);
    let out = run_script(c, Duration::from_secs(60)).ok();

    let outs = logs(dir.path(), ".out");
    assert_eq!(outs.len(), 3, "{outs:?}\n{out}");
    assert_eq!(logs(dir.path(), ".err").len(), 3, "{out}");
    let mut job_ids = BTreeSet::new();
    for task in ["0", "1", "2"] {
        assert_eq!(
            stub_record(dir.path(), task, "args"),
            "worker\n--jobs\n2\n--idle-exit\n0\n"
        );
        let env = stub_record(dir.path(), task, "env");
        assert!(
            env.contains("SLURM_JOB_ID=\n"),
            "task {task} looks like Slurm: {env}"
        );
        assert!(env.contains("SLURM_ARRAY_TASK_COUNT=3\n"), "{env}");
        assert!(env.contains(&format!("FCNSWEEP_DB={}\n", s(&db))), "{env}");
        let job_id = env
            .lines()
            .find_map(|l| l.strip_prefix("SLURM_ARRAY_JOB_ID="))
            .unwrap()
            .to_string();
        let peers: u32 = stub_record(dir.path(), task, "peers")
            .trim()
            .parse()
            .unwrap();
        assert!(peers <= 2, "task {task} ran beside {} others", peers - 1);
        // The task's log pair: its stdout, and the job script's banner.
        let log = dir.path().join(format!("logs/fcnsweep-{job_id}_{task}"));
        let stdout = fs::read_to_string(log.with_extension("out")).unwrap();
        assert_eq!(stdout, format!("stub task {task} done\n"));
        let stderr = fs::read_to_string(log.with_extension("err")).unwrap();
        assert!(
            stderr.contains(&format!("array task {task} of job {job_id}")),
            "{stderr}"
        );
        job_ids.insert(job_id);
    }
    assert_eq!(job_ids.len(), 1, "one array job id: {job_ids:?}");
}

#[test]
fn submit_exits_non_zero_when_a_local_task_fails_or_the_database_is_missing() {
    let dir = tempdir();
    let stub = write_stub(dir.path());
    let mut c = script(dir.path(), &slurm("submit.sh"), &["--tasks", "3"]);
    c.env("FCNSWEEP_BIN", &stub)
        .env("FCNSWEEP_DB", dir.path().join("r.sqlite"))
        .env("STUB_FAIL_TASK", "1");
    run_script(c, Duration::from_secs(60))
        .code(1)
        .stderr_has(&["task 1 failed with exit status 3", "1 of 3 tasks failed"]);
    // The other tasks ran to the end all the same.
    assert_eq!(logs(dir.path(), ".out").len(), 3);

    let empty = tempdir();
    let c = script(empty.path(), &slurm("submit.sh"), &[]);
    run_script(c, Duration::from_secs(30))
        .code(2)
        .stderr_has(&["FCNSWEEP_DB is not set"]);
    assert!(
        !empty.path().join("logs").exists(),
        "refused before starting"
    );
}

/// A tiny sweep on the tiny dataset: 2 configurations x 2 seeds, 1 epoch.
const TINY_SWEEP: &str = "name: e2e-deploy\n\
     dataset: fashion-mnist\n\
     seeds: 2\n\
     epochs: 1\n\
     batch_size: 16\n\
     validation: 20\n\
     base: {hidden: [8], optimizer: sgd, lr: 0.1}\n\
     search:\n  - grid:\n      lr: [0.1, 0.05]\n";

/// Needs `fcnsweep sweep register` and `fcnsweep worker`.
#[test]
fn submit_locally_trains_a_registered_sweep_to_every_trial_done_once() {
    let _cpu = heavy();
    let dir = tempdir();
    let data = dir.path().join("data");
    write_tiny_dataset(&data.join("fashion-mnist"), TINY_TRAIN, TINY_TEST, true);
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, TINY_SWEEP).unwrap();
    common::run(dir.path(), &["sweep", "plan", s(&spec)])
        .ok()
        .stdout_has(&["2 configurations x 2 seeds = 4 trials"]);
    let db = dir.path().join("db.sqlite");
    common::run_env(
        dir.path(),
        &["sweep", "register", s(&spec), "--db", s(&db)],
        &[("FCNSWEEP_DATA", s(&data))],
    )
    .ok();
    let registered = sweep_trials(&db, "e2e-deploy");
    assert_eq!(registered.len(), 4, "{registered:#?}");
    assert!(
        registered.iter().all(|t| t.status == "pending"),
        "`sweep register` trains nothing: {registered:#?}"
    );

    let mut c = script(
        dir.path(),
        &slurm("submit.sh"),
        &["--tasks", "3", "--parallel", "2"],
    );
    c.env("FCNSWEEP_BIN", BIN)
        .env("FCNSWEEP_DB", &db)
        .env("FCNSWEEP_DATA", &data)
        .env("FCNSWEEP_SWEEPS", "e2e-deploy");
    let out = run_script(c, Duration::from_secs(300));
    let task_logs: Vec<String> = logs(dir.path(), ".err")
        .iter()
        .map(|f| {
            let text = fs::read_to_string(dir.path().join("logs").join(f)).unwrap();
            format!("--- {f} ---\n{text}")
        })
        .collect();
    assert_eq!(out.code, Some(0), "{out}\n{}", task_logs.join("\n"));
    assert_eq!(logs(dir.path(), ".out").len(), 3, "{out}");
    assert_eq!(logs(dir.path(), ".err").len(), 3, "{out}");

    let conn = open_ro(&db).unwrap();
    let mut st = conn
        .prepare("SELECT status, count(*) FROM sweep_trials GROUP BY status ORDER BY status")
        .unwrap();
    let by_status: Vec<(String, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        by_status,
        [("done".to_string(), 4)],
        "{}",
        task_logs.join("\n")
    );
    let problems = check_complete(&db, "e2e-deploy", 2, 2, 1);
    assert!(problems.is_empty(), "{problems:#?}");
    for t in sweep_trials(&db, "e2e-deploy") {
        assert_eq!(t.attempts, 1, "trained more than once: {t:?}");
    }
}
