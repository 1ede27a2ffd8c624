//! The `synd` example, driven in-process: exit codes, JSON shape, and golden output.

use std::path::PathBuf;

fn fixtures() -> Option<PathBuf> {
    test_support::fixtures_dir(env!("CARGO_MANIFEST_DIR")).map(|d| d.join("feeds"))
}

fn feed(name: &str) -> Option<String> {
    fixtures().map(|d| d.join(name).display().to_string())
}

/// Runs synd; returns (exit code, stdout with the fixture folder replaced, stderr).
fn synd(args: &[&str]) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut argv = vec!["synd"];
    argv.extend_from_slice(args);
    let code = examples::synd::run(argv, &mut out, &mut err);
    let dir = fixtures()
        .map(|d| format!("{}/", d.display()))
        .unwrap_or_default();
    let clean = |b: Vec<u8>| {
        let s = String::from_utf8(b).expect("synd writes UTF-8");
        if dir.is_empty() {
            s
        } else {
            s.replace(&dir, "")
        }
    };
    (code, clean(out), clean(err))
}

fn golden(name: &str, actual: &str) {
    test_support::golden(env!("CARGO_MANIFEST_DIR"), name, actual);
}

#[test]
fn check_reports_findings_and_exits_one_on_errors() {
    let Some(f) = feed("ncts-syndication-client__syndication.xml") else {
        return;
    };
    let (code, out, _) = synd(&["feed", "check", &f]);
    assert_eq!(code, 1);
    golden("check-ncts-syndication-client.txt", &out);
}

#[test]
fn check_exits_zero_without_errors() {
    let Some(f) = feed("ontoserver-deploy__pathology-permissions-demo__preload.xml") else {
        return;
    };
    let (code, out, _) = synd(&["feed", "check", "--preload", &f]);
    assert_eq!(code, 0, "{out}");
    golden("check-preload-accepted.txt", &out);
    let Some(f) = feed("ontoserver-deploy__pathology-permissions-demo__preload@ba3b529.xml") else {
        return;
    };
    let (code, out, _) = synd(&["feed", "check", "--preload", &f]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FEED_AUTHOR_IN_PRELOAD"));
}

#[test]
fn check_exits_two_with_line_and_column_when_unreadable() {
    let Some(f) = feed("fhir-syndication-ig__pagecontent-entry-fragments.xml") else {
        return;
    };
    let (code, out, err) = synd(&["feed", "check", "--strict", &f]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("line 139, column 3"), "{err}");
    let (code, _, err) = synd(&["feed", "check", "/no/such/feed.xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/no/such/feed.xml"), "{err}");
    let (code, _, _) = synd(&["feed", "frobnicate"]);
    assert_eq!(code, 2, "bad arguments");
}

#[test]
fn show_json_has_the_documented_fields() {
    let Some(f) = feed("IHTSDO-termserver-syndication__feed-example.xml") else {
        return;
    };
    let (code, out, _) = synd(&["feed", "show", "--json", &f]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let e = &v["entries"][0];
    assert_eq!(e["id"], "urn:uuid:3cca1feb-16f8-4c34-b5e4-692e70ae30ca");
    assert_eq!(e["identifier"], "http://snomed.info/sct/900000000000207008");
    assert_eq!(
        e["version"],
        "http://snomed.info/sct/900000000000207008/version/20230430"
    );
    assert_eq!(e["categories"][0]["term"], "SCT_RF2_FULL");
    assert_eq!(e["categories"][0]["label"], "SNOMED CT RF2 Full");
    assert!(e["categories"][0]["scheme"].is_string());
    let l = &e["links"][0];
    assert_eq!(l["rel"], "alternate");
    assert_eq!(l["type"], "application/zip");
    assert_eq!(l["length"], 533_422_481u64);
    assert_eq!(l["md5"], "0290ad7f6e431063166afd91cd2b8c37");
    assert!(l["sha256"].is_null());
    assert!(
        l["href"]
            .as_str()
            .is_some_and(|h| h.starts_with("https://"))
    );
    let (_, text, _) = synd(&["feed", "show", &f]);
    golden("show-ihtsdo-example.txt", &text);
}

#[test]
fn stats_full_and_streaming_agree() {
    let Some(f) = feed("ncts-syndication-client__syndication.xml") else {
        return;
    };
    let (code, full, _) = synd(&["feed", "stats", &f]);
    assert_eq!(code, 0);
    let (_, streamed, _) = synd(&["feed", "stats", "--stream", &f]);
    assert_eq!(full, streamed);
    golden("stats-ncts-syndication-client.txt", &full);
}

fn label_data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fhir-security-labels/tests/data")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn labels_check_allows_denies_and_rejects() {
    let restricted = label_data("restricted-codesystem.json");
    let (code, out, _) = synd(&[
        "labels",
        "check",
        &restricted,
        "--authority",
        "FHIR_READ",
        "--authority",
        "PERM_RESTRICTED_READ",
    ]);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "allowed: restricted.read matched by PERM_RESTRICTED_READ\n"
        )
    );
    let (code, out, _) = synd(&[
        "labels",
        "check",
        &restricted,
        "--authority",
        "FHIR_READ",
        "--authority",
        "PERM_RESTRICTED_WRITE",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("denied: write does not imply read"),
        "{out}"
    );
    let national = label_data("national-pathology-valueset.json");
    let (code, out, _) = synd(&["labels", "check", &national, "--anonymous-read"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "allowed: *.read with anonymous FHIR read: global read\n")
    );
    let (code, out, _) = synd(&["labels", "check", &national]);
    assert_eq!(
        (code, out.as_str()),
        (1, "denied: the caller lacks FHIR_READ\n")
    );
    let (code, _, err) = synd(&["labels", "check", "Cargo.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("malformed resource"), "{err}");
}

fn diff_data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../feed-diff/tests/data")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn diff_exit_codes_and_formats() {
    let (old, add, non) = (
        diff_data("deployed.xml"),
        diff_data("candidate-additive.xml"),
        diff_data("candidate-nonadditive.xml"),
    );
    let (code, out, _) = synd(&["diff", &old, &add]);
    assert_eq!(code, 0);
    assert!(out.starts_with("additive: 1 added"), "{out}");
    let (code, out, _) = synd(&["diff", &old, &non, "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["additive"], false);
    assert_eq!(v["moved"][0]["entry_id"], "urn:uuid:snap-1031-v2");
    let (code, out, _) = synd(&["diff", &old, &non, "--markdown"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("| removed | http://example.org/fhir/CodeSystem/lab |"),
        "{out}"
    );
    let (code, _, err) = synd(&["diff", &old, "/no/such.xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/no/such.xml"));
}

#[test]
fn plan_json_has_the_documented_shape() {
    let (old, non) = (
        diff_data("deployed.xml"),
        diff_data("candidate-nonadditive.xml"),
    );
    let args = [
        "plan",
        "--deployed",
        &old,
        "--candidate",
        &non,
        "--topology",
        "scaled-separate:3",
        "--storage",
        "persistent",
        "--json",
    ];
    // A rebuild without the candidate's feed would rebuild the old content: refused.
    let (code, out, _) = synd(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--preload-feed"), "{out}");
    let feed = "https://synd.example.org/feed/release-candidate-20261123T0900/syndication.xml";
    let mut with_feed = args.to_vec();
    with_feed.extend(["--preload-feed", feed]);
    let (code, out, err) = synd(&with_feed);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["strategy"], "wipe-and-restart");
    assert_eq!(v["downtime"], true);
    assert!(
        v["rationale"]
            .as_str()
            .is_some_and(|r| r.contains("read-only"))
    );
    assert!(v["warnings"].is_array());
    let steps = v["steps"].as_array().expect("steps");
    assert_eq!(
        steps
            .iter()
            .filter(|s| s["action"] == "set-preload-feed")
            .count(),
        3,
        "every instance is pointed at the candidate"
    );
    assert!(
        steps
            .iter()
            .all(|s| s["action"].is_string() && s["instance"].is_string())
    );
    let (code, out, _) = synd(&[
        "plan",
        "--deployed",
        &old,
        "--candidate",
        &non,
        "--topology",
        "single",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["strategy"], "delete-then-preload");
    let first = &v["steps"][0];
    assert_eq!(first["action"], "delete-resource");
    assert_eq!(first["method"], "DELETE");
    let (code, out, _) = synd(&[
        "plan",
        "--deployed",
        &old,
        "--candidate",
        &diff_data("candidate-additive.xml"),
        "--topology",
        "scaled-shared:2",
        "--mermaid",
    ]);
    assert_eq!(code, 0);
    assert!(out.starts_with("flowchart TD"), "{out}");
    let (code, _, err) = synd(&[
        "plan",
        "--deployed",
        &old,
        "--candidate",
        &non,
        "--topology",
        "ring:3",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--topology"), "{err}");
}

#[test]
fn roundtrip_succeeds_on_every_fixture() {
    let Some(dir) = fixtures() else { return };
    for entry in std::fs::read_dir(dir).expect("fixture folder lists") {
        let p = entry.expect("entry").path();
        if p.extension().and_then(|e| e.to_str()) != Some("xml") {
            continue;
        }
        let (code, out, err) = synd(&["feed", "roundtrip", &p.display().to_string()]);
        assert_eq!(code, 0, "{}: {out}{err}", p.display());
    }
}

#[test]
fn demo_runs_a_whole_release_process() {
    let (code, out, err) = synd(&["demo"]);
    assert_eq!(code, 0, "{out}{err}");
    for stage in [
        "1. First release",
        "2. Additive release",
        "3. Non-additive release",
        "4. Rollback",
        // Every release prints its whole runbook, decisions first.
        "# Release runbook: wipe-and-restart",
        "# Release runbook: rollback",
        // The withdrawal rebuilds production's read-only instances one at a time, so the
        // service stays up and needs no notice; staging's only instance is down meanwhile.
        "| `prod-1` | rebuild |",
        "**Downtime:** yes, about 60 minutes.",
    ] {
        assert!(out.contains(stage), "missing '{stage}' in:\n{out}");
    }
    assert!(out.contains("Release process complete"), "{out}");
    assert!(
        !out.contains("notice:"),
        "no production release took the service down: {out}"
    );
}

#[test]
fn demo_faults_stop_safely_and_resume() {
    for (fault, stops) in [
        ("instance-down", true),
        ("hash-mismatch", true),
        ("token-expiry", false),
        ("feed-cache-lag", false),
    ] {
        let (code, out, err) = synd(&["demo", "--inject", fault]);
        assert_eq!(code, 0, "{fault}: {out}{err}");
        assert_eq!(out.contains("STOPPED SAFELY"), stops, "{fault}:\n{out}");
        assert!(out.contains("Release process complete"), "{fault}: {out}");
    }
    let (code, out, _) = synd(&["demo", "--inject", "hash-mismatch"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("STOPPED SAFELY before the release") && out.contains("sha256 mismatch"),
        "names the hash mismatch before any instance is touched: {out}"
    );
    let (code, out, _) = synd(&["demo", "--inject", "instance-down"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("redo-preload on prod-1") && out.contains("HTTP 503"),
        "names the instance and the cause: {out}"
    );
}

// The help says how audience-prefixed authorities are written and matched.
#[test]
fn labels_check_help_documents_the_audience_prefix() {
    let (code, out, _) = synd(&["labels", "check", "--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("https://tx.example.org/fhirFHIR_READ"),
        "{out}"
    );
    assert!(out.contains("--audience"), "{out}");
}

// The README documents the workspace from inside the repository: every relative link it makes
// resolves to a file of the repository.
#[test]
fn readme_links_stay_inside_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for readme in ["README.md", "docs/ARCHITECTURE.md"] {
        let text = std::fs::read_to_string(root.join(readme)).expect("readable");
        assert!(!text.contains("../shared/DESIGN.md"), "{readme}");
        assert!(!text.contains("../shared/spec"), "{readme}");
        let base = root.join(readme);
        let dir = base.parent().expect("a folder");
        for (i, _) in text.match_indices("](") {
            let target: String = text[i + 2..].chars().take_while(|c| *c != ')').collect();
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            assert!(dir.join(&target).exists(), "{readme}: link to {target}");
        }
    }
}

// `synd status` reads a deployment file and every instance of an environment at once: what
// each holds, whether it preloads, and where instances differ.
#[test]
fn status_reads_every_instance_of_a_deployment_file_and_reports_drift() {
    use syndication_client::testkit::{FakeResource, FakeTerminologyServer, Registry};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let registry = Registry::new();
    let (a, b) = rt.block_on(async {
        (
            FakeTerminologyServer::start(&registry).await,
            FakeTerminologyServer::start(&registry).await,
        )
    });
    for s in [&a, &b] {
        s.add(FakeResource::value_set(
            "vs",
            "http://example.org/vs",
            "1.0.0",
            "2026-11-01",
        ));
    }
    let dir = std::env::temp_dir().join(format!("synd-status-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("deployment.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"environments": {{"production": {{
                "role": "production", "model": "comprehensive", "topology": "scaled-separate",
                "storage": "persistent",
                "instances": [
                    {{"name": "prod-0", "base_url": "{}"}},
                    {{"name": "prod-1", "base_url": "{}"}}
                ]}}}}}}"#,
            a.base_url().as_str(),
            b.base_url().as_str()
        ),
    )
    .expect("written");
    let file = path.display().to_string();
    // One attempt per request: a stopped instance is reported at once, with no real waits.
    let args = [
        "status",
        file.as_str(),
        "--allow-insecure-http",
        "--attempts",
        "1",
    ];
    let (code, out, err) = synd(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("prod-0: 1 item(s), no preload running"),
        "{out}"
    );
    assert!(out.contains("prod-1: 1 item(s)"), "{out}");

    b.add(FakeResource::value_set(
        "vs2",
        "http://example.org/vs2",
        "1.0.0",
        "2026-11-02",
    ));
    let (code, out, _) = synd(&args);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "drift: lacks 1 item(s) other instances hold: ValueSet http://example.org/vs2|1.0.0"
        ),
        "{out}"
    );
    b.stop();
    let (code, out, _) = synd(&args);
    assert_eq!(code, 1);
    assert!(out.contains("prod-1: cannot be read"), "{out}");

    // Without --allow-insecure-http, plain HTTP is refused; an unknown environment is bad input.
    let (code, out, _) = synd(&["status", file.as_str()]);
    assert_eq!(code, 1, "{out}");
    let (code, _, err) = synd(&["status", file.as_str(), "--environment", "staging"]);
    assert_eq!(code, 2);
    assert!(err.contains("environments.staging"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
