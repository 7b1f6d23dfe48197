//! The pool's deployment files (deploy/container/Dockerfile, deploy/kubernetes/): the schemas
//! and the Dockerfile's lint are checked by the test command (kubernetes-validate, hadolint);
//! here, that the files agree with each other and with maskgate — ports, paths, probes, drain
//! time — and that the binary, run exactly as the Deployment runs it (its entrypoint, its
//! environment, the ConfigMap's settings), serves a developer over TLS, answers its probe and
//! its scrape, and stops cleanly on SIGTERM. No cluster and no image build: neither is
//! possible on these machines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{
    assert_no_original_in, free_port, make_tls_for, messages_request, planted_text, upstream,
    PLANTED,
};
use maskgate::settings::Settings;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Every Kubernetes object in deploy/kubernetes, by kind.
fn manifests() -> BTreeMap<String, Yaml> {
    let mut objects = BTreeMap::new();
    let dir = deploy_dir().join("kubernetes");
    for entry in std::fs::read_dir(&dir).expect("deploy/kubernetes") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("manifest");
        for doc in YamlLoader::load_from_str(&text).expect("YAML") {
            let kind = doc["kind"].as_str().expect("a kind").to_owned();
            assert!(objects.insert(kind.clone(), doc).is_none(), "two {kind}s");
        }
    }
    objects
}

/// The Dockerfile's exec-form ENTRYPOINT.
fn entrypoint() -> Vec<String> {
    let dockerfile =
        std::fs::read_to_string(deploy_dir().join("container/Dockerfile")).expect("Dockerfile");
    let line = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .expect("an ENTRYPOINT");
    serde_json::from_str(line).expect("exec form")
}

fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec()
        .expect("a list")
        .iter()
        .map(|y| y.as_str().expect("a string").to_owned())
        .collect()
}

fn port_named(container: &Yaml, name: &str) -> i64 {
    container["ports"]
        .as_vec()
        .expect("ports")
        .iter()
        .find(|p| p["name"].as_str() == Some(name))
        .and_then(|p| p["containerPort"].as_i64())
        .unwrap_or_else(|| panic!("a port named {name}"))
}

fn mount_path(container: &Yaml, volume: &str) -> String {
    container["volumeMounts"]
        .as_vec()
        .expect("mounts")
        .iter()
        .find(|m| m["name"].as_str() == Some(volume))
        .and_then(|m| m["mountPath"].as_str())
        .unwrap_or_else(|| panic!("{volume} mounted"))
        .to_owned()
}

/// The pool's settings as the ConfigMap gives them.
fn pool_settings(objects: &BTreeMap<String, Yaml>) -> (String, Settings) {
    let toml = objects["ConfigMap"]["data"]["config.toml"]
        .as_str()
        .expect("config.toml in the ConfigMap")
        .to_owned();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &toml).expect("write");
    let settings = Settings::load(&path).expect("maskgate reads the ConfigMap's settings");
    (toml, settings)
}

#[test]
fn the_deployment_files_agree_with_each_other_and_with_maskgate() {
    let objects = manifests();
    let (_, settings) = pool_settings(&objects);
    let pod = &objects["Deployment"]["spec"]["template"];
    let container = &pod["spec"]["containers"][0];

    // Ports: the listener, the Service, the metrics annotation and the NetworkPolicy.
    let proxy_port = port_named(container, "proxy");
    let metrics_port = port_named(container, "metrics");
    assert_eq!(i64::from(settings.listen.port()), proxy_port);
    assert!(
        settings.listen.ip().is_unspecified(),
        "the pod listens on its address"
    );
    let metrics = settings.metrics_listen.expect("metrics_listen set");
    assert_eq!(i64::from(metrics.port()), metrics_port);
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
    assert_eq!(
        annotations["prometheus.io/port"].as_str(),
        Some(metrics_port.to_string().as_str())
    );
    assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));
    assert_eq!(
        objects["Service"]["spec"]["ports"][0]["targetPort"].as_str(),
        Some("proxy")
    );
    let ingress = objects["NetworkPolicy"]["spec"]["ingress"]
        .as_vec()
        .expect("ingress");
    let allowed_ports: Vec<i64> = ingress
        .iter()
        .map(|rule| rule["ports"][0]["port"].as_i64().expect("a port"))
        .collect();
    assert_eq!(allowed_ports, [proxy_port, metrics_port]);

    // TLS: the certificate and key are the TLS Secret's keys, where it is mounted; the
    // name developers use is allowed as Host.
    let tls = settings.tls.as_ref().expect("the pool serves TLS");
    let tls_dir = PathBuf::from(mount_path(container, "tls"));
    assert_eq!(tls.cert, tls_dir.join("tls.crt"));
    assert_eq!(tls.key, tls_dir.join("tls.key"));
    assert!(!settings.allowed_hosts.is_empty());

    // Settings and secrets reach the process by the variables maskgate reads.
    let env: BTreeMap<String, Yaml> = container["env"]
        .as_vec()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().expect("name").to_owned(), e.clone()))
        .collect();
    assert_eq!(
        env["MASKGATE_CONFIG"]["value"].as_str().map(PathBuf::from),
        Some(PathBuf::from(mount_path(container, "config")).join("config.toml"))
    );
    for (variable, key) in [
        ("MASKGATE_GATEWAY_SECRET", "gateway-secret"),
        ("MASKGATE_LOCAL_TOKEN", "local-token"),
    ] {
        let reference = &env[variable]["valueFrom"]["secretKeyRef"];
        assert_eq!(reference["key"].as_str(), Some(key), "{variable}");
    }

    // Probes run the image's own binary; the grace period outlasts the drain.
    let entrypoint = entrypoint();
    assert_eq!(entrypoint[1], "--headless");
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        assert_eq!(
            strings(&container[probe]["exec"]["command"]),
            [entrypoint[0].clone(), "health".to_owned()],
            "{probe}"
        );
    }
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_i64()
        .expect("grace");
    let pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_i64()
        .expect("preStop pause");
    let drain = maskgate::headless::DRAIN.as_secs() as i64;
    assert!(
        grace > drain + pause,
        "{grace} s must outlast {drain} s + {pause} s"
    );

    // HPA and PDB point at this Deployment's pods.
    assert_eq!(
        objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"].as_str(),
        objects["Deployment"]["metadata"]["name"].as_str()
    );
    let labels = &objects["Deployment"]["spec"]["selector"]["matchLabels"];
    assert_eq!(
        &objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        labels
    );
    assert_eq!(
        &objects["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"],
        labels
    );
    assert_eq!(&objects["Service"]["spec"]["selector"], labels);
}

/// The Deployment's container, run here: its entrypoint, its environment (Secret values made
/// up), the ConfigMap's settings with the mount paths and ports moved into a temporary dir.
struct Pod {
    child: std::process::Child,
    env: Vec<(String, String)>,
    probe: Vec<String>,
    name: String,
    port: u16,
    metrics_port: u16,
}

const TOKEN: &str = "pool-token-3c9e";

fn start_pod(upstream_url: &str, dir: &Path) -> Pod {
    let objects = manifests();
    let (toml, settings) = pool_settings(&objects);
    let pod = &objects["Deployment"]["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    let name = settings.allowed_hosts[0].clone();
    let tls = make_tls_for(&[&name]);
    let tls_dir = dir.join("tls");
    std::fs::create_dir_all(&tls_dir).expect("tls dir");
    std::fs::write(
        tls_dir.join("tls.crt"),
        format!("{}{}", tls.cert_pem, tls.ca_pem),
    )
    .expect("cert");
    std::fs::write(tls_dir.join("tls.key"), &tls.key_pem).expect("key");
    std::fs::write(dir.join("ca.pem"), &tls.ca_pem).expect("ca");
    let (port, metrics_port) = (free_port(), free_port());
    let toml = toml
        .replace(
            &mount_path(container, "tls"),
            tls_dir.to_str().expect("utf8"),
        )
        .replace(&settings.upstream_url, upstream_url)
        .replace(
            &format!(":{}\"", settings.listen.port()),
            &format!(":{port}\""),
        )
        .replace(
            &format!(":{}\"", settings.metrics_listen.expect("metrics").port()),
            &format!(":{metrics_port}\""),
        );
    let config = dir.join("config.toml");
    std::fs::write(&config, toml).expect("config");

    let mut env = vec![("NO_COLOR".to_owned(), "1".to_owned())];
    for variable in container["env"].as_vec().expect("env") {
        let key = variable["name"].as_str().expect("name").to_owned();
        let value = match key.as_str() {
            "MASKGATE_CONFIG" => config.to_str().expect("utf8").to_owned(),
            "MASKGATE_LOCAL_TOKEN" => TOKEN.to_owned(),
            "MASKGATE_GATEWAY_SECRET" => "team-key".to_owned(),
            _ => variable["value"]
                .as_str()
                .expect("a literal value")
                .to_owned(),
        };
        env.push((key, value));
    }
    let binary = env!("CARGO_BIN_EXE_maskgate").to_owned();
    let mut entrypoint = entrypoint();
    entrypoint[0] = binary.clone();
    let mut probe = strings(&container["livenessProbe"]["exec"]["command"]);
    probe[0] = binary;
    let child = Command::new(&entrypoint[0])
        .args(&entrypoint[1..])
        .env_clear()
        .envs(env.iter().cloned())
        .stderr(Stdio::null())
        .spawn()
        .expect("the pod's command starts");
    Pod {
        child,
        env,
        probe,
        name,
        port,
        metrics_port,
    }
}

impl Pod {
    fn probe(&self) -> std::process::Output {
        Command::new(&self.probe[0])
            .args(&self.probe[1..])
            .env_clear()
            .envs(self.env.iter().cloned())
            .output()
            .expect("the probe runs")
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_container_as_deployed_serves_a_developer_answers_its_probe_and_stops_on_sigterm() {
    let upstream = upstream::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let mut pod = start_pod(&upstream.url(), dir.path());

    let deadline = Instant::now() + Duration::from_secs(20);
    while !pod.probe().status.success() {
        assert!(Instant::now() < deadline, "the probe never passed");
        assert!(
            pod.child.try_wait().expect("wait").is_none(),
            "the pod exited"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A developer: https://<the pool's name>, trusting the company CA, with the token.
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.path().join("ca.pem")).expect("ca"))
        .expect("CA");
    let developer = reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .resolve(&pod.name, ([127, 0, 0, 1], pod.port).into())
        .build()
        .expect("client");
    let url = format!("https://{}:{}/v1/messages", pod.name, pod.port);
    let body = messages_request(&planted_text(), false);
    let refused = developer
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), 403, "no token, no service");
    let answer = developer
        .post(&url)
        .header("x-maskgate-token", TOKEN)
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.expect("JSON");
    let text = answer["content"][0]["text"].as_str().expect("text");
    for (original, _) in PLANTED {
        assert!(text.contains(original), "{original} restored");
    }
    assert_no_original_in(&upstream.recorder.everything());

    // Prometheus, as the annotations tell it to scrape.
    let scrape = reqwest::get(format!("http://127.0.0.1:{}/metrics", pod.metrics_port))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    assert!(
        scrape.contains("maskgate_exchanges_total{")
            && scrape.contains("outcome=\"completed\"")
            && !scrape.contains(PLANTED[0].0),
        "{scrape}"
    );

    // Kubernetes stops a pod with SIGTERM: nothing open, so it exits at once and cleanly.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pod.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = pod.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop the pod");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    assert!(
        !pod.probe().status.success(),
        "the probe fails once stopped"
    );
}
