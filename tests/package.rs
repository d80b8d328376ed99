//! What an install ships, checked without building a package (that is
//! `scripts/package --test`, in the long matrix): every file the Debian
//! package metadata names exists, `--version` names the commit, the systemd
//! units per account pair keep their promises (one config per instance,
//! secrets as credentials, check and sync never overlapping, hardened), the
//! Grafana dashboard and the alert rules name only series `--metrics`
//! writes, and the Kubernetes Job's command line parses for every index.

mod support;

use imapmend::cli::{Cli, Shard, Verb};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use support::imapmend::{bare, Finish, LIMIT};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `[package.metadata.deb]` of Cargo.toml.
fn deb_metadata() -> toml::Table {
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    deb.as_table().expect("[package.metadata.deb]").clone()
}

/// The files a source pattern of an asset names (`man/*.1`: one `*` in
/// the file name, as cargo-deb's glob would match it here).
fn matching(pattern: &str) -> Vec<PathBuf> {
    let path = root().join(pattern);
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return if path.is_file() { vec![path] } else { vec![] };
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(path.parent().unwrap())
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    found.retain(|p| {
        let n = p.file_name().unwrap().to_str().unwrap();
        n.starts_with(prefix) && n.ends_with(suffix) && n.len() >= name.len() - 1
    });
    found
}

#[test]
fn package_metadata_names_only_files_that_exist() {
    let deb = deb_metadata();
    let assets = deb["assets"].as_array().expect("assets");
    let mut destinations = BTreeSet::new();
    for asset in assets {
        let fields: Vec<&str> = asset
            .as_array()
            .expect("[source, dest, mode]")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let [source, dest, mode] = fields[..] else {
            panic!("asset {fields:?} is not [source, dest, mode]")
        };
        assert!(
            u32::from_str_radix(mode, 8).is_ok(),
            "{source}: mode {mode}"
        );
        destinations.insert(dest.to_string());
        if source.starts_with("target/release/") {
            continue; // built by cargo deb
        }
        assert!(
            !matching(source).is_empty(),
            "{source} (Cargo.toml [package.metadata.deb] assets) names no file"
        );
    }
    // What the issue promises an install holds.
    for dest in [
        "usr/bin/",
        "usr/share/man/man1/",
        "usr/share/bash-completion/completions/imapmend",
        "usr/share/zsh/vendor-completions/_imapmend",
        "usr/share/fish/vendor_completions.d/imapmend.fish",
        "usr/share/doc/imapmend/examples/alice.toml",
    ] {
        assert!(destinations.contains(dest), "nothing installed to {dest}");
    }
    // Every man page and every unit goes in.
    let man = matching("man/*.1");
    assert!(man.len() >= 10, "{man:?}");
    for unit in std::fs::read_dir(root().join("examples/systemd")).unwrap() {
        let name = unit.unwrap().file_name().into_string().unwrap();
        let source = format!("examples/systemd/{name}");
        assert!(
            assets.iter().any(|a| a[0].as_str() == Some(source.as_str())
                && a[1].as_str() == Some("usr/lib/systemd/system/")),
            "{source} is not packaged into usr/lib/systemd/system/"
        );
    }
    // The maintainer scripts exist and are executable.
    let scripts = root().join(deb["maintainer-scripts"].as_str().unwrap());
    for script in ["postinst", "postrm"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(scripts.join(script))
            .unwrap_or_else(|e| panic!("{script}: {e}"))
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "{script} is not executable");
    }
    let postinst = std::fs::read_to_string(scripts.join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system") && postinst.contains("/var/lib/imapmend"));
    // The example config is one imapmend reads.
    imapmend::config::ConfigFile::load(&root().join("examples/imapmend.toml"))
        .expect("examples/imapmend.toml loads");
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    // As build.rs finds it: IMAPMEND_COMMIT, else git, else "unknown".
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_string());
    let in_checkout = root().join(".git").exists();
    let commit = match std::env::var("IMAPMEND_COMMIT") {
        Ok(c) if !c.is_empty() => c,
        _ if in_checkout => git.expect("git rev-parse in a checkout"),
        _ => "unknown".to_string(),
    };
    for flag in ["--version", "-V"] {
        let out = bare().arg(flag).finish(LIMIT);
        assert_eq!(out.code, Some(0), "{}", out.describe());
        assert_eq!(
            out.stdout.as_str(),
            format!("imapmend {} (commit {commit})\n", env!("CARGO_PKG_VERSION")),
        );
    }
}

/// A unit file's settings: (section, key) → values in order, continuation
/// lines joined.
fn unit(relative: &str) -> BTreeMap<(String, String), Vec<String>> {
    let text = read(relative).replace("\\\n", " ");
    let mut section = String::new();
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            section = name.trim_end_matches(']').to_string();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        out.entry((section.clone(), key.to_string()))
            .or_default()
            .push(value.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    out
}

fn one(settings: &BTreeMap<(String, String), Vec<String>>, section: &str, key: &str) -> String {
    let values = settings
        .get(&(section.to_string(), key.to_string()))
        .unwrap_or_else(|| panic!("no {key}= in [{section}]"));
    assert_eq!(values.len(), 1, "{key}: {values:?}");
    values[0].clone()
}

#[test]
fn units_per_account_pair_read_its_config_load_secrets_as_credentials_and_never_overlap() {
    let mut locks = BTreeSet::new();
    for verb in ["check", "sync"] {
        let path = format!("examples/systemd/imapmend-{verb}@.service");
        let service = unit(&path);
        let exec = one(&service, "Service", "ExecStart");
        let words: Vec<&str> = exec.split(' ').collect();
        // flock [options] LOCK /usr/bin/imapmend VERB …: one lock per pair,
        // shared by the pair's check and sync.
        assert_eq!(words[0], "/usr/bin/flock", "{path}: {exec}");
        let at = words
            .iter()
            .position(|w| *w == "/usr/bin/imapmend")
            .unwrap();
        locks.insert(words[at - 1].to_string());
        assert_eq!(words[at + 1], verb, "{path}");
        let args = &words[at..];
        let pair = |option: &str| {
            let i = args.iter().position(|w| *w == option);
            i.map(|i| args[i + 1])
                .unwrap_or_else(|| panic!("{path}: no {option}"))
        };
        assert_eq!(pair("--config"), "/etc/imapmend/%i.toml", "{path}");
        // A pair without its config fails (and shows in `systemctl
        // --failed`) rather than being skipped in silence.
        assert_eq!(
            one(&service, "Unit", "AssertPathExists"),
            "/etc/imapmend/%i.toml"
        );
        assert_eq!(pair("--a-password-file"), "%d/a-password", "{path}");
        assert_eq!(pair("--b-password-file"), "%d/b-password", "{path}");
        assert!(pair("--metrics").ends_with(&format!("imapmend-{verb}-%i.prom")));
        let credentials = &service[&("Service".to_string(), "LoadCredential".to_string())];
        for side in ["a", "b"] {
            let wanted = format!("{side}-password:/etc/imapmend/%i.{side}-password");
            assert!(credentials.contains(&wanted), "{path}: {credentials:?}");
        }
        // Secrets never through the environment.
        let environment = &service[&("Service".to_string(), "Environment".to_string())];
        assert!(
            environment.iter().all(|e| !e.contains("PASSWORD")),
            "{path}: {environment:?}"
        );
        for (key, value) in [
            ("User", "imapmend"),
            ("StateDirectory", "imapmend"),
            ("Type", "oneshot"),
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
        ] {
            assert_eq!(one(&service, "Service", key), value, "{path}: {key}");
        }
        // The snapshot goes where StateDirectory= lets it write.
        assert!(environment.contains(&"XDG_STATE_HOME=/var/lib".to_string()));
        assert!(locks.iter().all(|l| l.starts_with("/var/lib/imapmend/")));

        let timer = unit(&format!("examples/systemd/imapmend-{verb}@.timer"));
        assert_eq!(one(&timer, "Install", "WantedBy"), "timers.target");
        assert!(timer.contains_key(&("Timer".to_string(), "OnUnitActiveSec".to_string())));
    }
    assert_eq!(
        locks.len(),
        1,
        "check and sync take different locks: {locks:?}"
    );
    // The README shows how to enable one.
    let readme = read("README.md");
    assert!(readme.contains("systemctl enable --now imapmend-check@alice.timer"));
}

/// Every `imapmend_…` name in a text.
fn series_named(text: &str) -> BTreeSet<String> {
    let name = regex::Regex::new(r"\bimapmend_[a-z0-9_]+").unwrap();
    name.find_iter(text)
        .map(|m| m.as_str().to_string())
        .collect()
}

/// Every string value of a JSON document whose key is `key`.
fn strings_under(value: &serde_json::Value, key: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if k == key => out.push(s.clone()),
                    _ => strings_under(v, key, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings_under(v, key, out)),
        _ => {}
    }
}

#[test]
fn dashboard_and_alert_rules_name_only_series_that_metrics_writes() {
    let written: BTreeSet<String> = imapmend::metrics::SERIES
        .iter()
        .map(|s| s.name.to_string())
        .collect();

    let dashboard: serde_json::Value =
        serde_json::from_str(&read("examples/grafana-dashboard.json")).expect("dashboard JSON");
    let mut exprs = Vec::new();
    strings_under(&dashboard, "expr", &mut exprs);
    let in_dashboard = series_named(&exprs.join("\n"));
    // What the issue asks the picture to show: agreement per pair,
    // differences per mailbox, last success, run duration.
    for wanted in [
        "imapmend_check_exit_code",
        "imapmend_mailbox_differences",
        "imapmend_check_last_success_timestamp_seconds",
        "imapmend_check_duration_seconds",
    ] {
        assert!(
            in_dashboard.contains(wanted),
            "the dashboard shows no {wanted}"
        );
    }
    // Nothing outside the queries names a series either.
    let whole = series_named(&read("examples/grafana-dashboard.json"));
    assert!(whole.is_subset(&written), "{:?}", &whole - &written);

    let alerts: serde_json::Value =
        serde_norway::from_str(&read("examples/prometheus-alerts.yml")).expect("alerts YAML");
    let rules = alerts["groups"][0]["rules"].as_array().expect("rules");
    let by_name: BTreeMap<&str, &str> = rules
        .iter()
        .map(|r| (r["alert"].as_str().unwrap(), r["expr"].as_str().unwrap()))
        .collect();
    // The three alerts docs/MONITORING.md recommends (the third for runs
    // that scrub).
    assert_eq!(by_name.len(), 3, "{by_name:?}");
    let named = |name: &str| by_name.values().any(|e| series_named(e).contains(name));
    assert!(named("imapmend_check_exit_code"));
    assert!(named("imapmend_check_last_run_timestamp_seconds"));
    assert!(named("imapmend_mailbox_scrub_oldest_age_seconds"));
    let in_alerts = series_named(&read("examples/prometheus-alerts.yml"));
    assert!(in_alerts.is_subset(&written), "{:?}", &in_alerts - &written);
}

#[test]
fn kubernetes_job_shards_batch_sync_by_completion_index_with_snapshots_per_pair() {
    use clap::Parser;
    let text = read("examples/kubernetes-indexed-job.yaml");
    let documents: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("a YAML document"))
        .collect();
    let kind = |k: &str| {
        documents
            .iter()
            .find(|d| d["kind"] == k)
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let job = kind("Job");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let n = job["spec"]["completions"].as_u64().expect("completions") as u32;
    let pod = &job["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let mut line = strings(&container["command"]);
    line.extend(strings(&container["args"]));
    assert_eq!(&line[..3], ["imapmend", "batch", "sync"]);
    assert!(
        line.contains(&format!("$(JOB_COMPLETION_INDEX)/{n}")),
        "--shard $(JOB_COMPLETION_INDEX)/{n} in {line:?}"
    );

    // Kubernetes puts the index where $(JOB_COMPLETION_INDEX) stands.
    let mut list = None;
    for index in 0..n {
        let words: Vec<String> = line
            .iter()
            .map(|w| w.replace("$(JOB_COMPLETION_INDEX)", &index.to_string()))
            .collect();
        let cli =
            Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("index {index}: {words:?}: {e}"));
        let Verb::Batch(batch) = cli.verb else {
            panic!("not batch: {words:?}")
        };
        assert_eq!(batch.shard, Some(Shard { index, count: n }));
        // The options after -- are every pair's `imapmend sync` options.
        let pair: Vec<&str> = ["imapmend", "sync"]
            .into_iter()
            .chain(batch.extra.iter().map(String::as_str))
            .collect();
        Cli::try_parse_from(&pair).unwrap_or_else(|e| panic!("{pair:?}: {e}"));
        list = Some(batch.file);
    }
    let list = list.expect("at least one index");

    // Where each path lives: the volume mounted over it.
    let mounts = container["volumeMounts"].as_array().expect("volumeMounts");
    let volume_of = |path: &Path| {
        let mount = mounts
            .iter()
            .filter(|m| path.starts_with(m["mountPath"].as_str().unwrap()))
            .max_by_key(|m| m["mountPath"].as_str().unwrap().len())
            .unwrap_or_else(|| panic!("{} is on no volume", path.display()));
        let name = &mount["name"];
        let volumes = pod["volumes"].as_array().unwrap();
        let volume = volumes.iter().find(|v| &v["name"] == name).unwrap().clone();
        (mount["mountPath"].as_str().unwrap().to_string(), volume)
    };
    // Snapshots: XDG_STATE_HOME on a shared volume, so each sits under the
    // name of its pair whichever pod runs it.
    let env = container["env"].as_array().expect("env");
    let state = env
        .iter()
        .find(|e| e["name"] == "XDG_STATE_HOME")
        .expect("XDG_STATE_HOME");
    let (_, volume) = volume_of(Path::new(state["value"].as_str().unwrap()));
    assert!(volume["persistentVolumeClaim"].is_object(), "{volume}");

    // The account list comes from the ConfigMap, and imapmend reads it.
    let (mount, volume) = volume_of(&list);
    let config_map = kind("ConfigMap");
    assert_eq!(volume["configMap"]["name"], config_map["metadata"]["name"]);
    let key = list.strip_prefix(&mount).unwrap().to_str().unwrap();
    let csv = config_map["data"][key]
        .as_str()
        .expect("the list in the ConfigMap");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(key), csv).unwrap();
    let pairs = imapmend::batch::read_list(&dir.path().join(key)).expect("the list parses");
    assert!(pairs.len() >= 2);
    // Its password files are the Secret's.
    for pair in &pairs {
        for file in [&pair.a_password_file, &pair.b_password_file] {
            let file = file.as_ref().expect("a password file");
            let (_, volume) = volume_of(file);
            assert!(volume["secret"].is_object(), "{}: {volume}", file.display());
        }
    }
}
